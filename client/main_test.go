package client_test

import (
	"os"
	"testing"

	"authd.dev/authd/client/internal/exampledaemon"
	"authd.dev/authd/internal/otheruser"
)

// TestMain starts the daemon the examples talk to (see exampledaemon).
func TestMain(m *testing.M) {
	otheruser.Main()
	os.Exit(exampledaemon.Run(m))
}

// browse stands in for a program's browser opener in the examples.
var browse = exampledaemon.Browse

package httpauth_test

import (
	"os"
	"testing"

	"authd.dev/authd/client/internal/exampledaemon"
)

// TestMain starts the daemon the examples talk to (see exampledaemon).
func TestMain(m *testing.M) {
	os.Exit(exampledaemon.Run(m))
}

package server_test

import (
	"os"
	"testing"

	"authd.dev/authd/internal/otheruser"
)

func TestMain(m *testing.M) {
	otheruser.Main()
	os.Exit(m.Run())
}

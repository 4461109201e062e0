package main

import (
	"os"
	"testing"
)

// TestMain turns authc's autostart off: a test without a daemon means
// there is none, and must not start one (internal/e2e tests autostart).
func TestMain(m *testing.M) {
	os.Setenv("AUTHD_NO_AUTOSTART", "1")
	os.Exit(m.Run())
}

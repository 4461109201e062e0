//go:build !linux

package daemontest

import "testing"

// unlinkKeyctlOnCleanup skips the test: the keyctl backend is the Linux
// kernel's keyring.
func unlinkKeyctlOnCleanup(t testing.TB) {
	t.Skip("the keyctl backend is Linux only")
}

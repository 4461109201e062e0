//go:build !linux

package broker_test

import "testing"

// unlinkKeyctlOnCleanup skips the test: the keyctl backend is the Linux
// kernel's keyring.
func unlinkKeyctlOnCleanup(t *testing.T) {
	t.Skip("the keyctl backend is Linux only")
}

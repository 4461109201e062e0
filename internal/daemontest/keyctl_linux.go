package daemontest

import (
	"testing"

	"golang.org/x/sys/unix"
)

// unlinkKeyctlOnCleanup removes the test's keyring from the user keyring
// when the test ends, so that runs do not pile up keys in the kernel.
func unlinkKeyctlOnCleanup(t testing.TB) {
	t.Cleanup(func() {
		name := keyringService(t)
		if id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", name, 0); err == nil {
			_, _ = unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0)
		}
	})
}

package store

import (
	"errors"
	"fmt"

	"github.com/99designs/keyring"
	"github.com/godbus/dbus"
	"github.com/gsterjov/go-libsecret"
	"golang.org/x/sys/unix"
)

// keyctlPerm gives the owner full access to authd's keys, not just the
// process that possesses them: a restarted daemon in another session (a user
// service manager, a new login) must still read them. Other users get none.
func keyctlPerm() uint32 {
	return keyring.GetPermissions(keyring.KEYCTL_PERM_ALL, keyring.KEYCTL_PERM_ALL, 0, 0)
}

// probeBackend explains why a backend cannot be opened, where it can tell.
func probeBackend(name string) error {
	switch name {
	case "keyctl":
		if _, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_KEYRING, true); err != nil {
			return fmt.Errorf("%w: the kernel keyring cannot be used: %v (containers often block keyctl)", ErrUnavailable, err)
		}
	case "secret-service":
		return checkSecretService()
	}
	return nil
}

// checkSecretService verifies that the Secret Service has the login
// collection and that it is unlocked. Unlocking it ourselves would start a
// password prompt that a daemon cannot answer; the user's session does that.
func checkSecretService() error {
	service, err := libsecret.NewService()
	if err != nil {
		if reason := sessionBusMissing(); reason != "" {
			return fmt.Errorf("%w: %s", ErrUnavailable, reason)
		}
		return fmt.Errorf("%w: cannot connect to the session bus: %v", ErrUnavailable, err)
	}
	collections, err := service.Collections()
	if err != nil {
		return fmt.Errorf("%w: no Secret Service on the session bus: %v", ErrUnavailable, err)
	}
	want := libsecret.DBusPath + "/collection/" + secretServiceCollection
	for _, collection := range collections {
		if string(collection.Path()) != want {
			continue
		}
		locked, err := collection.Locked()
		if err != nil {
			return fmt.Errorf("%w: Secret Service collection %q: %v", ErrUnavailable, secretServiceCollection, err)
		}
		if locked {
			return fmt.Errorf("%w: %s", ErrLocked, secretServiceLockedHint)
		}
		return nil
	}
	return fmt.Errorf("%w: the Secret Service has no %q collection (it is created when you first log in to a desktop session)",
		ErrUnavailable, secretServiceCollection)
}

// isSecretServiceLocked reports the Secret Service's own "is locked" error.
func isSecretServiceLocked(err error) bool {
	var dbusErr dbus.Error
	return errors.As(err, &dbusErr) && dbusErr.Name == "org.freedesktop.Secret.Error.IsLocked"
}

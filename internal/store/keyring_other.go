//go:build !linux

package store

// keyctlPerm is unused: keyctl exists on Linux only.
func keyctlPerm() uint32 { return 0 }

// probeBackend has nothing to add to keyring.Open outside Linux.
func probeBackend(string) error { return nil }

// checkSecretService is unused: the Secret Service backend is Linux only.
func checkSecretService() error { return nil }

func isSecretServiceLocked(error) bool { return false }

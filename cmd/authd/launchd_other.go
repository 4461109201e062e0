//go:build !darwin

package main

import "errors"

// launchdControl is macOS's; control calls it only there.
func launchdControl(serviceHost, string) error {
	return errors.New("launchd is macOS's service manager")
}

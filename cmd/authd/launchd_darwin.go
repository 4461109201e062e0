package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// launchdControl installs, starts, stops or removes the LaunchAgent in the
// user's GUI domain.
func launchdControl(h serviceHost, action string) error {
	domain := "gui/" + strconv.Itoa(os.Getuid())
	target := domain + "/" + launchdLabel
	plist := h.launchAgentPath()
	launchctl := func(args ...string) error {
		out, err := exec.Command("launchctl", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("launchctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	switch action {
	case "install":
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		exe, _ = filepath.EvalSymlinks(exe)
		var b strings.Builder
		if err := renderLaunchAgent(&b, exe, h.home); err != nil {
			return err
		}
		for _, dir := range []string{filepath.Dir(plist), filepath.Join(h.home, "Library", "Logs", "authd")} {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
		}
		if err := os.WriteFile(plist, []byte(b.String()), 0o644); err != nil {
			return err
		}
		return report(action, launchctl("bootstrap", domain, plist))
	case "start":
		err := launchctl("kickstart", target)
		if err != nil {
			// Not loaded (after a stop): loading it starts it (RunAtLoad).
			err = launchctl("bootstrap", domain, plist)
		}
		return report(action, err)
	case "stop":
		return report(action, launchctl("bootout", target))
	case "uninstall":
		_ = launchctl("bootout", target)
		if err := os.Remove(plist); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return report(action, nil)
	}
	return fmt.Errorf("unknown action %q", action)
}

func report(action string, err error) error {
	if err == nil {
		fmt.Fprintf(os.Stderr, "authd: %s done (launchd)\n", action)
	}
	return err
}

package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"authd.dev/authd/internal/socket"
)

// TestUserUnitVerifies renders the unit 'authd install' writes and has
// systemd check it as a user unit.
func TestUserUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed (scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "bin dir", "authd")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var unit bytes.Buffer
	if err := renderUnit(&unit, exe); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WantedBy=default.target", `ExecStart=` + strings.ReplaceAll(exe, " ", `\x20`) + ` "run"`, "Restart=on-failure"} {
		if !strings.Contains(unit.String(), want) {
			t.Errorf("unit lacks %q:\n%s", want, unit.String())
		}
	}
	if strings.Contains(unit.String(), "multi-user.target") {
		t.Errorf("unit is wanted by a system target:\n%s", unit.String())
	}
	for _, want := range []string{"Requires=authd.socket", "After=authd.socket"} {
		if !strings.Contains(unit.String(), want) {
			t.Errorf("unit lacks %q:\n%s", want, unit.String())
		}
	}
	var socketUnit bytes.Buffer
	if err := renderSocketUnit(&socketUnit, filepath.Join(dir, "authd", "authd.sock"), dir); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ListenStream=%t/authd/authd.sock", "SocketMode=0600", "DirectoryMode=0700", "WantedBy=sockets.target"} {
		if !strings.Contains(socketUnit.String(), want) {
			t.Errorf("socket unit lacks %q:\n%s", want, socketUnit.String())
		}
	}
	path := filepath.Join(dir, "authd.service")
	if err := os.WriteFile(path, unit.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	socketPath := filepath.Join(dir, "authd.socket")
	if err := os.WriteFile(socketPath, socketUnit.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("systemd-analyze", "--user", "verify", path, socketPath)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze --user verify: %v\n%s\n%s\n%s", err, out, unit.String(), socketUnit.String())
	}
	if bytes.Contains(out, []byte("authd.service")) || bytes.Contains(out, []byte("authd.socket")) {
		t.Errorf("systemd-analyze complains about the units:\n%s", out)
	}
}

// TestSocketUnitPath: the socket unit names the socket relative to the
// user manager's runtime directory when it is there, else as it is, with
// systemd's specifier character escaped.
func TestSocketUnitPath(t *testing.T) {
	for _, tt := range []struct{ socket, runtime, want string }{
		{"/run/user/1000/authd/authd.sock", "/run/user/1000", "%t/authd/authd.sock"},
		{"/run/user/1000/authd/authd.sock", "/run/user/1000/", "%t/authd/authd.sock"},
		{"/home/u/.cache/authd/authd.sock", "/run/user/1000", "/home/u/.cache/authd/authd.sock"},
		{"/home/u/100%/authd.sock", "", "/home/u/100%%/authd.sock"},
		{"/run/user/1000/../x/authd.sock", "/run/user/1000", "/run/user/1000/../x/authd.sock"},
	} {
		if got := socketUnitPath(tt.socket, tt.runtime); got != tt.want {
			t.Errorf("socketUnitPath(%q, %q) = %q, want %q", tt.socket, tt.runtime, got, tt.want)
		}
	}
}

// TestLaunchAgentGolden compares the LaunchAgent plist with the reviewed
// one in testdata (go test -run TestLaunchAgentGolden -update rewrites it),
// and checks that it is well-formed XML with the path escaped. launchd
// itself is not here to load it.
func TestLaunchAgentGolden(t *testing.T) {
	var b bytes.Buffer
	if err := renderLaunchAgent(&b, "/Applications/Tools & Co/authd", "/Users/alice"); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "authd.plist.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("plist differs from %s:\n%s", golden, b.String())
	}
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	dec.Strict = true
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plist is not well-formed XML: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
			texts = append(texts, string(cd))
		}
	}
	if !slices.Contains(texts, "/Applications/Tools & Co/authd") {
		t.Errorf("the executable's path does not read back from the plist: %q", texts)
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// TestUserManager decides from the machine's facts whether the user service
// can be managed: systemd must be PID 1 and the user's manager listening.
func TestUserManager(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	booted := filepath.Join(dir, "run-systemd-system")
	if err := os.Mkdir(booted, 0o755); err != nil {
		t.Fatal(err)
	}
	withManager := filepath.Join(dir, "with")
	listen(t, filepath.Join(withManager, "systemd", "private"))
	withoutManager := filepath.Join(dir, "without")
	if err := os.MkdirAll(filepath.Join(withoutManager, "systemd"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A plain file where the socket should be is no manager either.
	if err := os.WriteFile(filepath.Join(withoutManager, "systemd", "private"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		host serviceHost
		want error
	}{
		{"systemd and a user manager", serviceHost{goos: "linux", systemdDir: booted, runtimeDir: withManager}, nil},
		{"systemd is not PID 1", serviceHost{goos: "linux", systemdDir: filepath.Join(dir, "missing"), runtimeDir: withManager}, errNoSystemd},
		{"no XDG_RUNTIME_DIR", serviceHost{goos: "linux", systemdDir: booted}, errNoUserManager},
		{"no user manager", serviceHost{goos: "linux", systemdDir: booted, runtimeDir: withoutManager}, errNoUserManager},
		{"launchd", serviceHost{goos: "darwin", systemdDir: filepath.Join(dir, "missing")}, nil},
	} {
		if got := tc.host.userManager(); got != tc.want {
			t.Errorf("%s: userManager() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestStatusWithoutSystemd reports the unit file and the daemon on the
// socket even where no service manager can be asked.
func TestStatusWithoutSystemd(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	h := serviceHost{goos: "linux", systemdDir: filepath.Join(home, "missing"), home: home,
		socketPath: filepath.Join(home, "run", "authd", "authd.sock")}
	unit := filepath.Join(home, ".config", "systemd", "user", "authd.service")

	var out bytes.Buffer
	if err := status(&out, h, h.userManager()); err != errNoSystemd {
		t.Errorf("status = %v, want %v", err, errNoSystemd)
	}
	for _, want := range []string{unit + " (not installed)", h.socketPath + " (not running)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}

	if err := os.MkdirAll(filepath.Dir(unit), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unit, []byte("[Unit]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := socket.Listen(h.socketPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	out.Reset()
	status(&out, h, h.userManager())
	for _, want := range []string{unit + " (installed)", fmt.Sprintf("%s (running, pid %d)", h.socketPath, os.Getpid())} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
}

// TestServiceCommandsWithoutSystemd runs the real authd where systemd is not
// PID 1 (containers, WSL1, CI): each service command must fail with one line
// that says what works instead, and install must write nothing.
func TestServiceCommandsWithoutSystemd(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil || runtime.GOOS != "linux" {
		t.Skip("systemd is PID 1 here")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "authd")
	if out, err := exec.Command(goTool, "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	home := filepath.Join(dir, "home")
	want := "authd: " + errNoSystemd.Error() + "\n"
	for _, action := range []string{"install", "uninstall", "start", "stop", "status"} {
		cmd := exec.Command(exe, action)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+filepath.Join(dir, "run"), "AUTHD_SOCKET=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("authd %s: %v, want exit status 1", action, err)
		}
		if stderr.String() != want {
			t.Errorf("authd %s: stderr\n%q\nwant\n%q", action, stderr.String(), want)
		}
		if action == "status" {
			for _, line := range []string{"authd.service (not installed)", filepath.Join(dir, "run", "authd", "authd.sock") + " (not running)"} {
				if !strings.Contains(stdout.String(), line) {
					t.Errorf("authd status lacks %q:\n%s", line, stdout.String())
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "systemd")); err == nil {
		t.Errorf("authd install wrote under %s/.config/systemd without a user manager", home)
	}
}

// listen creates a Unix socket at path for the length of the test.
func listen(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
}

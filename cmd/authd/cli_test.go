package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/internal/buildinfo"
)

// These tests run authd's run() with stdout and stderr captured: none of
// them is parallel.

type result struct {
	code           int
	stdout, stderr string
}

func runAuthd(t *testing.T, args ...string) result {
	t.Helper()
	capture := func(f **os.File) func() string {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		old := *f
		*f = w
		out := make(chan string)
		go func() { b, _ := io.ReadAll(r); out <- string(b) }()
		return func() string { *f = old; w.Close(); return <-out }
	}
	stdout, stderr := capture(&os.Stdout), capture(&os.Stderr)
	code := make(chan int, 1)
	go func() { code <- run(args) }()
	select {
	case c := <-code:
		return result{code: c, stdout: stdout(), stderr: stderr()}
	case <-time.After(20 * time.Second):
		// authd started serving (or managing the service) instead.
		t.Fatalf("authd %v did not return", args)
		return result{}
	}
}

// Every command and subcommand answers --help, -h and 'help CMD' with its
// usage line, its summary and its flags, on stdout, exit 0, and does
// nothing else ('authd install --help' installs nothing).
func TestHelp(t *testing.T) {
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			r := runAuthd(t, args...)
			usageLine := strings.TrimSpace("Usage: authd " + c.name + " " + c.args)
			if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, usageLine+"\n") || !strings.Contains(r.stdout, c.summary) {
				t.Errorf("authd %v: exit %d\nstdout: %q\nstderr: %q\nwant exit 0 and on stdout %q, then %q", args, r.code, r.stdout, r.stderr, usageLine, c.summary)
			}
		}
	}
	r := runAuthd(t, "run", "--help")
	for _, flag := range []string{"-config", "-socket", "-log-level"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("authd run --help does not list %s:\n%s", flag, r.stdout)
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := runAuthd(t, args...)
		if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "Usage: authd COMMAND") || !strings.Contains(r.stdout, "print-unit") {
			t.Errorf("authd %v: exit %d, stdout %q, stderr %q; want the command list on stdout, exit 0", args, r.code, r.stdout, r.stderr)
		}
	}
}

// A usage error exits 2 with one line, printed once, that says where help is.
func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		say  string
	}{
		{[]string{"run", "--bogus"}, "-bogus"},
		{[]string{"run", "--log-level", "loud"}, `"loud"`},
		{[]string{"run", "extra"}, `"extra"`},
		{[]string{"stop", "now"}, `"now"`},
		{[]string{"frobnicate"}, `"frobnicate"`},
		{[]string{"help", "frobnicate"}, `"frobnicate"`},
		{[]string{"help", "run", "stop"}, "at most one"},
	} {
		r := runAuthd(t, tt.args...)
		if r.code != exitUsage || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
			!strings.HasPrefix(r.stderr, "authd: ") || !strings.Contains(r.stderr, tt.say) || !strings.Contains(r.stderr, "'authd help") {
			t.Errorf("authd %v: exit %d, stderr %q, stdout %q; want exit 2 and one line naming %s", tt.args, r.code, r.stderr, r.stdout, tt.say)
		}
	}
	if r := runAuthd(t); r.code != exitUsage || !strings.Contains(r.stderr, "Usage: authd COMMAND") {
		t.Errorf("authd without a command: exit %d, stderr %q; want 2 and the usage", r.code, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	want := "authd " + buildinfo.Version("") + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if r := runAuthd(t, args...); r.code != 0 || r.stdout != want || strings.Contains(r.stdout, "dev\n") {
			t.Errorf("authd %v: exit %d, stdout %q; want %q", args, r.code, r.stdout, want)
		}
	}
	version = "v1.2.3" // as -ldflags "-X main.version=v1.2.3" sets it
	t.Cleanup(func() { version = "" })
	if r := runAuthd(t, "--version"); r.stdout != "authd v1.2.3\n" {
		t.Errorf("authd --version with an -ldflags version: %q", r.stdout)
	}
}

// A config file named on the command line must exist: a typo in --config
// is not a daemon with no profiles.
func TestRunMissingConfig(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.toml")
	r := runAuthd(t, "run", "--config", missing, "--socket", filepath.Join(dir, "s"))
	if r.code != exitError || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, missing) {
		t.Errorf("authd run --config MISSING: exit %d, stderr %q; want exit 1 and one line naming %s", r.code, r.stderr, missing)
	}
}

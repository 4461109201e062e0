package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	path := filepath.Join(dir, "authd.service")
	if err := os.WriteFile(path, unit.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("systemd-analyze", "--user", "verify", path)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze --user verify: %v\n%s\n%s", err, out, unit.String())
	}
	if bytes.Contains(out, []byte("authd.service")) {
		t.Errorf("systemd-analyze complains about the unit:\n%s", out)
	}
}

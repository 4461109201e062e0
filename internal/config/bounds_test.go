package config

import (
	"errors"
	"strings"
	"testing"

	"authd.dev/authd/internal/regularfile"
)

// Values far outside a sensible range are mistakes with consequences: a
// 1 ns token_lifetime made the daemon refresh a hundred times in five
// seconds.
func TestDurationBounds(t *testing.T) {
	t.Parallel()
	const work = "[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n"
	for _, tt := range []struct{ line, want string }{
		{`token_lifetime = "1ns"`, `profiles.work.token_lifetime: must be at least 10s, not "1ns"`},
		{`token_lifetime = "9000h"`, `profiles.work.token_lifetime: must be at most 8760h0m0s, not "9000h"`},
		{`timeout = "2562047h"`, `profiles.work.timeout: must be at most 10m0s, not "2562047h"`},
		{`timeout = "1ms"`, `profiles.work.timeout: must be at least 1s, not "1ms"`},
		{`login_timeout = "1s"`, `profiles.work.login_timeout: must be at least 10s, not "1s"`},
	} {
		_, err := Parse("/x/config.toml", []byte(work+tt.line))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.line, err, tt.want)
		}
	}
	if _, err := Parse("/x/config.toml", []byte(work+`token_lifetime = "30s"`+"\n"+`timeout = "10s"`)); err != nil {
		t.Errorf("values in range: %v", err)
	}
}

// A byte-order mark, as some editors save it, is not a syntax error.
func TestByteOrderMark(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("/x/config.toml", []byte("\uFEFF[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n"))
	if err != nil || cfg.Profiles["work"] == nil {
		t.Fatalf("config with a BOM: %v", err)
	}
}

// The config file itself is read as the files it names are: /dev/zero used
// to grow the daemon by gigabytes.
func TestLoadRefusesDevices(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/dev/zero", t.TempDir()} {
		if _, err := Load(path); !errors.Is(err, regularfile.ErrNotRegular) {
			t.Errorf("Load(%s): %v, want ErrNotRegular", path, err)
		}
	}
	big := writeFile(t, t.TempDir(), "config.toml", "# "+strings.Repeat("x", MaxConfigSize))
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load of a %d MiB file: %v", MaxConfigSize>>20, err)
	}
}

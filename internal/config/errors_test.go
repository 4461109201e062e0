package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// A file with many problems reports them together: a user fixes them in one
// go instead of one reload each.
func TestEveryProblemReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Seven problems, the unknown keys last in the file.
	data := "[profiles.a]\nissuer = \"http://idp.example.com\"\nclient_id = \"c\"\nflow = \"pkce\"\n" +
		"[profiles.b]\nissuer = \"https://idp.example.com\"\ntimeout = \"soon\"\n" +
		"[keyring]\nbackend = \"vault\"\nbogus = 1\nfile-dir = \"x\"\n"
	path := writeFile(t, dir, "config.toml", data)
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	want := []string{
		"10: keyring.bogus: unknown key",
		"11: keyring.file-dir: unknown key (did you mean file_dir?)",
		"2: profiles.a.issuer: must use https (http is allowed only for 127.0.0.1, localhost and [::1])",
		`4: profiles.a.flow: must be one of auto, browser, device, client_credentials; not "pkce"`,
		"5: profiles.b.client_id: required",
	}
	for i := range want {
		want[i] = path + ":" + want[i]
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("Load: got\n%s\nwant the first five, unknown keys first, then in file order:\n%s", got, strings.Join(want, "\n"))
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != len(want) {
		t.Fatalf("error is not Errors of %d: %#v", len(want), err)
	}
	var first *Error
	if !errors.As(err, &first) || first != errs[0] || first.Line != 10 || first.Key != "keyring.bogus" {
		t.Errorf("errors.As finds %#v, want the first problem", first)
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Error("error wraps fs.ErrNotExist, so the daemon would take it for a missing file")
	}
}

// One problem reads as it always did: file:line: key: message, one line.
func TestOneProblemOneLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.toml")
	_, err := Parse(path, []byte("[profiles.w]\nissuer = \"https://idp.example.com\"\nclient_id = 7\n"))
	want := fmt.Sprintf("%s:3: profiles.w.client_id: must be a string, not integer", path)
	if err == nil || err.Error() != want {
		t.Errorf("Parse: %v\nwant %s (and no second line saying it is missing)", err, want)
	}
}

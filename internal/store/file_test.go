package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func openTestFile(t *testing.T, dir, passphrase string) *Keyring {
	t.Helper()
	k, err := Open(Options{Backend: "file", FileDir: dir, Passphrase: passphrase})
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Backend(); got != "file" {
		t.Fatalf("Backend() = %q, want file", got)
	}
	return k
}

func TestFileContract(t *testing.T) {
	t.Parallel()
	testContract(t, openTestFile(t, t.TempDir(), "correct horse"))
}

func TestFileLargeRecord(t *testing.T) {
	t.Parallel()
	// The file backend has no size limit: one item.
	testLargeRecord(t, openTestFile(t, t.TempDir(), "correct horse"), 1)
}

func TestFileSplitRecords(t *testing.T) {
	t.Parallel()
	// Splitting is generic: force it on a real backend with a small limit.
	k := openTestFile(t, t.TempDir(), "correct horse")
	k.itemLimit = keyctlItemLimit
	testLargeRecord(t, k, 4)
}

func TestFileCorruptRecords(t *testing.T) {
	t.Parallel()
	testCorruptRecords(t, openTestFile(t, t.TempDir(), "correct horse"))
}

func TestFileDirectoryIsPrivate(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes on Windows")
	}
	parent := t.TempDir()
	fresh := filepath.Join(parent, "a", "keyring")
	openTestFile(t, fresh, "pw")
	loose := filepath.Join(parent, "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	openTestFile(t, loose, "pw")
	for _, dir := range []string{fresh, loose} {
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o700 {
			t.Errorf("%s has mode %o, want 700", dir, perm)
		}
	}
}

func TestFileWrongPassphrase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	k := openTestFile(t, dir, "right")
	if err := k.Put(ctx, "work", testRecord()); err != nil {
		t.Fatal(err)
	}

	// Opening with the wrong passphrase fails before anything is written.
	_, err := Open(Options{Backend: "file", FileDir: dir, Passphrase: "wrong"})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("Open with a wrong passphrase = %v, want ErrLocked saying wrong passphrase", err)
	}

	// A Keyring opened on an empty directory cannot check; Get still says so.
	empty := t.TempDir()
	wrong := openTestFile(t, empty, "wrong")
	right := openTestFile(t, empty, "right")
	if err := right.Put(ctx, "work", testRecord()); err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Get(ctx, "work")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("Get with a wrong passphrase = %v, want ErrLocked saying wrong passphrase", err)
	}
	if strings.Contains(err.Error(), testRefreshToken) {
		t.Fatal("the error leaks the token")
	}
}

func TestFileNoPassphrase(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keyring")
	_, err := Open(Options{Backend: "file", FileDir: dir})
	if !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("Open(file) without a passphrase = %v, want ErrNoPassphrase", err)
	}
	for _, want := range []string{PassphraseEnv, "passphrase_file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("Open without a passphrase created %s", dir)
	}
}

func TestPassphraseFrom(t *testing.T) {
	// t.Setenv: not parallel.
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	withNewline := write("newline", "  s3cret phrase \n")
	empty := write("empty", " \n\t")

	tests := []struct {
		name    string
		env     string
		file    string
		want    string
		wantErr string // "" means success
	}{
		{"environment wins", "from-env", withNewline, "from-env", ""},
		{"environment without file", "from-env", "", "from-env", ""},
		{"file, trimmed", "", withNewline, "s3cret phrase", ""},
		{"nothing", "", "", "", "set AUTHD_KEYRING_PASSPHRASE or keyring.passphrase_file"},
		{"empty file", "", empty, "", "is empty"},
		{"missing file", "", filepath.Join(dir, "missing"), "", "no such file"},
		// A device or a FIFO once grew or blocked the daemon.
		{"device", "", "/dev/zero", "", "not a regular file"},
		{"fifo", "", fifo(t, dir), "", "not a regular file"},
		{"too large", "", write("large", strings.Repeat("x", 65<<10)), "", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(PassphraseEnv, tt.env)
			got, err := PassphraseFrom(tt.file)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("PassphraseFrom(%q) = %q, %v; want %q", tt.file, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrNoPassphrase) || !strings.Contains(err.Error(), tt.wantErr) || got != "" {
				t.Fatalf("PassphraseFrom(%q) = %q, %v; want ErrNoPassphrase mentioning %q", tt.file, got, err, tt.wantErr)
			}
		})
	}
}

func TestDefaultFileDir(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("XDG_DATA_HOME applies to Unix desktops")
	}
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	if got, err := DefaultFileDir(); err != nil || got != filepath.Join(data, "authd", "keyring") {
		t.Fatalf("DefaultFileDir() = %q, %v; want it under $XDG_DATA_HOME", got, err)
	}
	home := t.TempDir()
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", home)
	if got, err := DefaultFileDir(); err != nil || got != filepath.Join(home, ".local", "share", "authd", "keyring") {
		t.Fatalf("DefaultFileDir() = %q, %v; want it under ~/.local/share", got, err)
	}
}

// A write cut short (a crash, a SIGKILL) must not leave an item the
// keyring cannot open: writes go to a temporary file renamed into place,
// and an item damaged anyway is reported as corrupt, not as a wrong
// passphrase that locks every other item out.
func TestFileDamagedItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	k := openTestFile(t, dir, "pass")
	if err := k.Put(ctx, "work", testRecord()); err != nil {
		t.Fatal(err)
	}
	if err := k.Put(ctx, "home", testRecord()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	// What the old in-place write left after a kill: an empty file, and a
	// temporary file from a write cut short.
	if err := os.WriteFile(filepath.Join(dir, "work"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp-x-work"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	k = openTestFile(t, dir, "pass")
	if _, err := os.Stat(filepath.Join(dir, ".tmp-x-work")); !os.IsNotExist(err) {
		t.Errorf("temporary file not cleaned up at open: %v", err)
	}
	if _, err := k.Get(ctx, "work"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("damaged item: %v, want ErrCorrupt", err)
	}
	if _, err := k.Get(ctx, "home"); err != nil {
		t.Errorf("an intact item is unreadable next to a damaged one: %v", err)
	}
	if err := k.Put(ctx, "work", testRecord()); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx, "work"); err != nil {
		t.Errorf("damaged item not replaced by a new write: %v", err)
	}
	// A wrong passphrase is still told apart from damage.
	if _, err := Open(Options{Backend: "file", FileDir: dir, Passphrase: "other"}); !errors.Is(err, ErrLocked) {
		t.Errorf("wrong passphrase: %v, want ErrLocked", err)
	}
}

func TestFileSharedDirectoryRefused(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{Backend: "file", FileDir: shared, Passphrase: "p"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "writable by other users") {
		t.Errorf("keyring in a shared directory: %v", err)
	}
	if fi, _ := os.Stat(shared); fi.Mode().Perm() != 0o777 {
		t.Errorf("shared directory's mode changed to %v", fi.Mode())
	}
}

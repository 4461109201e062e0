package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/99designs/keyring"
	"github.com/mtibben/percent"

	"authd.dev/authd/internal/regularfile"
)

// PassphraseEnv is the environment variable [PassphraseFrom] reads first.
const PassphraseEnv = "AUTHD_KEYRING_PASSPHRASE"

// PassphraseFrom returns the file backend's passphrase: $AUTHD_KEYRING_PASSPHRASE
// when set and not empty, otherwise the contents of file without surrounding
// white space (when file is not ""). It fails with an error wrapping
// [ErrNoPassphrase] when neither gives a passphrase.
func PassphraseFrom(file string) (string, error) {
	if p := os.Getenv(PassphraseEnv); p != "" {
		return p, nil
	}
	if file == "" {
		return "", fmt.Errorf("%w: the file keyring needs a passphrase: set %s or keyring.passphrase_file",
			ErrNoPassphrase, PassphraseEnv)
	}
	// A passphrase is short; the file must not be a FIFO that blocks the
	// daemon nor a device that never ends.
	data, err := regularfile.Read(file, 64<<10)
	if err != nil {
		return "", fmt.Errorf("%w: read keyring.passphrase_file: %w (or set %s)", ErrNoPassphrase, err, PassphraseEnv)
	}
	p := strings.TrimSpace(string(data))
	if p == "" {
		return "", fmt.Errorf("%w: keyring.passphrase_file %s is empty (or set %s)", ErrNoPassphrase, file, PassphraseEnv)
	}
	return p, nil
}

// DefaultFileDir returns the file backend's directory when Options.FileDir is
// empty: $XDG_DATA_HOME/authd/keyring (~/.local/share/authd/keyring) on Unix,
// the user config directory's authd/keyring on macOS and Windows.
func DefaultFileDir() (string, error) {
	switch runtime.GOOS {
	case "darwin", "windows":
		dir, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("default keyring directory: %w", err)
		}
		return filepath.Join(dir, "authd", "keyring"), nil
	}
	if dir := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "authd", "keyring"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("default keyring directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "authd", "keyring"), nil
}

// prepareFileDir checks the passphrase and creates the file backend's
// directory with mode 0700, tightening the mode of an existing one.
func prepareFileDir(opts Options) (string, error) {
	if opts.Passphrase == "" {
		return "", fmt.Errorf("%w: the file keyring needs a passphrase: set %s or keyring.passphrase_file",
			ErrNoPassphrase, PassphraseEnv)
	}
	dir := opts.FileDir
	if dir == "" {
		var err error
		if dir, err = DefaultFileDir(); err != nil {
			return "", err
		}
	}
	dir, err := keyring.ExpandTilde(dir)
	if err != nil {
		return "", fmt.Errorf("keyring directory %s: %w", opts.FileDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create keyring directory: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("keyring directory: %w", err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("keyring directory %s is not a directory", dir)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		// A shared directory (/tmp, say) is no place for a keyring, and not
		// authd's to change; a private one merely created with a loose umask
		// is tightened.
		if info.Mode().Perm()&0o002 != 0 || info.Mode()&os.ModeSticky != 0 {
			return "", fmt.Errorf("%w: keyring directory %s is writable by other users: set keyring.file_dir to a private directory",
				ErrUnavailable, dir)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("keyring directory %s is open to other users: %w", dir, err)
		}
	}
	return dir, nil
}

// checkPassphrase decrypts one existing item, if there is any, so that a
// wrong passphrase is reported when the keyring is opened, before anything
// is written with it.
func (k *Keyring) checkPassphrase(ctx context.Context) error {
	keys, err := call(ctx, k, k.ring.Keys)
	if err != nil {
		return fmt.Errorf("list %s: %w", k.fileDir, err)
	}
	for _, key := range keys {
		if strings.HasPrefix(key, ".") {
			continue
		}
		_, err := k.getItem(ctx, key)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
			continue // removed meanwhile, or says nothing of the passphrase
		}
		return err
	}
	return nil
}

// fileReadError reports an item the file backend could read but not decrypt
// as a wrong passphrase.
func (k *Keyring) fileReadError(key string, err error) error {
	var pathErr *fs.PathError
	if errors.Is(err, keyring.ErrKeyNotFound) || errors.As(err, &pathErr) ||
		errors.Is(err, ErrTimeout) || errors.Is(err, context.Canceled) {
		return err
	}
	if damagedItem(k.fileDir, k.keyPrefix+key) {
		return fmt.Errorf("%w: the file of item %q in %s is damaged (%v)", ErrCorrupt, key, k.fileDir, err)
	}
	return fmt.Errorf("%w: wrong passphrase for the file keyring in %s, or a damaged file (%v); "+
		"set %s or keyring.passphrase_file to the passphrase it was written with", ErrLocked, k.fileDir, err, PassphraseEnv)
}

// atomicFile makes the file backend's writes atomic. 99designs/keyring
// truncates an item's file and writes it again in place, so a crash (or a
// SIGKILL) in between leaves an empty item. Here the inner backend writes
// the item under a temporary dot-prefixed name, which is synced and renamed
// over the real one.
type atomicFile struct {
	keyring.Keyring
	dir string
}

const tempItemPrefix = ".tmp-"

func (f atomicFile) Set(item keyring.Item) error {
	final := filepath.Join(f.dir, fileItemName(item.Key))
	tmp := item
	tmp.Key = tempItemPrefix + rand.Text() + "-" + item.Key
	tmpPath := filepath.Join(f.dir, fileItemName(tmp.Key))
	if err := f.Keyring.Set(tmp); err != nil {
		os.Remove(tmpPath)
		return err
	}
	if err := syncFile(tmpPath); err != nil {
		os.Remove(tmpPath)
		return err
	}
	if err := os.Rename(tmpPath, final); err != nil {
		os.Remove(tmpPath)
		return err
	}
	return syncFile(f.dir)
}

// Keys leaves out temporary items.
func (f atomicFile) Keys() ([]string, error) {
	keys, err := f.Keyring.Keys()
	return slices.DeleteFunc(keys, func(k string) bool { return strings.HasPrefix(k, tempItemPrefix) }), err
}

// removeTempItems deletes what writes cut short left behind.
func removeTempItems(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempItemPrefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// fileItemName is the file name 99designs/keyring gives an item.
func fileItemName(key string) string { return percent.Encode(key, "/") }

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// damagedItem reports whether an item's file is not a compact JWE at all
// (five dot-separated parts), as opposed to one sealed with another
// passphrase.
func damagedItem(dir, key string) bool {
	data, err := os.ReadFile(filepath.Join(dir, fileItemName(key)))
	if err != nil {
		return false
	}
	parts := strings.Split(strings.TrimSpace(string(data)), ".")
	if len(parts) != 5 {
		return true
	}
	for _, p := range parts {
		if _, err := base64.RawURLEncoding.DecodeString(p); err != nil {
			return true
		}
	}
	return false
}

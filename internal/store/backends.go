package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/99designs/keyring"
)

// Item size limits of the backends that have a small one.
const (
	// keyctlItemLimit is the largest payload of a keyctl "user" key.
	keyctlItemLimit = 32767
	// wincredItemLimit is CRED_MAX_CREDENTIAL_BLOB_SIZE.
	wincredItemLimit = 5 * 512
)

// secretServiceCollection is the Secret Service collection authd uses: the
// one the desktop unlocks at login.
const secretServiceCollection = "login"

// KnownBackends returns the names [Options.Backend] accepts, "auto" first.
func KnownBackends() []string {
	return []string{"auto", "keychain", "secret-service", "kwallet", "wincred", "keyctl", "pass", "file"}
}

// Open opens the keyring backend that opts selects. It fails with
// [ErrUnavailable] when the backend is missing or cannot be opened,
// [ErrLocked] when it is locked (or the file passphrase is wrong),
// [ErrNoPassphrase] when the file backend has no passphrase, and [ErrTimeout]
// when the backend does not answer.
func Open(opts Options) (*Keyring, error) {
	if opts.Backend == "" {
		opts.Backend = "auto"
	}
	if opts.ServiceName == "" {
		opts.ServiceName = DefaultServiceName
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if !slices.Contains(KnownBackends(), opts.Backend) {
		return nil, fmt.Errorf("open keyring: unknown backend %q (want one of %s)",
			opts.Backend, strings.Join(KnownBackends(), ", "))
	}
	if opts.Backend == "auto" {
		return openAuto(opts)
	}
	k, err := openBackend(opts, opts.Backend)
	if err != nil {
		return nil, fmt.Errorf("open keyring: %w", err)
	}
	return k, nil
}

// autoBackends lists what "auto" tries, best first, and why it skipped
// others.
func autoBackends() (candidates []string, skipped string) {
	switch runtime.GOOS {
	case "darwin":
		return []string{"keychain"}, ""
	case "windows":
		return []string{"wincred"}, ""
	case "linux":
		if reason := sessionBusMissing(); reason != "" {
			return []string{"keyctl"}, "secret-service and kwallet skipped: " + reason
		}
		return []string{"secret-service", "kwallet", "keyctl"}, ""
	default:
		return nil, "no OS keyring is supported on " + runtime.GOOS
	}
}

// sessionBusMissing explains why the Secret Service and KWallet cannot be
// reached, or returns "" when a session bus is configured.
func sessionBusMissing() string {
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	switch {
	case addr == "":
		return "no session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
	case strings.HasPrefix(addr, "disabled:"):
		return "the session bus is disabled (DBUS_SESSION_BUS_ADDRESS=disabled:)"
	}
	return ""
}

// autoBackendsFunc is autoBackends; tests replace it.
var autoBackendsFunc = autoBackends

func openAuto(opts Options) (*Keyring, error) {
	candidates, skipped := autoBackendsFunc()
	var failures []string
	if skipped != "" {
		failures = append(failures, skipped)
	}
	for _, name := range candidates {
		k, err := openBackend(opts, name)
		if err == nil {
			return k, nil
		}
		// A keyring that is there but locked or hung is the user's keyring:
		// using another one would split their credentials between two places.
		if errors.Is(err, ErrLocked) || errors.Is(err, ErrTimeout) {
			return nil, fmt.Errorf("open keyring (auto): %w", err)
		}
		failures = append(failures, err.Error())
	}
	return nil, fmt.Errorf("open keyring (auto): %w: %s; set keyring.backend = \"keyctl\", "+
		"or \"file\" with a passphrase (AUTHD_KEYRING_PASSPHRASE or keyring.passphrase_file)",
		ErrUnavailable, strings.Join(failures, "; "))
}

// openBackend opens one named backend.
func openBackend(opts Options, name string) (*Keyring, error) {
	k := newKeyring(name, nil, opts.Timeout)
	cfg := keyring.Config{
		AllowedBackends: []keyring.BackendType{keyring.BackendType(name)},
		ServiceName:     opts.ServiceName,
	}
	switch name {
	case "file":
		dir, err := prepareFileDir(opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		k.fileDir = dir
		cfg.FileDir = dir
		cfg.FilePasswordFunc = keyring.FixedStringPrompt(opts.Passphrase)
	case "keyctl":
		// "user" outlives the daemon's session: a restarted authd finds its
		// items as long as the user has processes left.
		cfg.KeyCtlScope = "user"
		cfg.KeyCtlPerm = keyctlPerm()
		k.itemLimit = keyctlItemLimit
	case "secret-service":
		cfg.LibSecretCollectionName = secretServiceCollection
		// Items share the login collection with other applications.
		k.keyPrefix = opts.ServiceName + ":"
	case "kwallet":
		cfg.ServiceName = "kdewallet" // the wallet; ServiceName names the folder
		cfg.KWalletAppID = opts.ServiceName
		cfg.KWalletFolder = opts.ServiceName
	case "wincred":
		cfg.WinCredPrefix = opts.ServiceName
		k.itemLimit = wincredItemLimit
	case "keychain":
		// authd reads its items without a prompt each time, and they stay
		// on this machine.
		cfg.KeychainTrustApplication = true
		cfg.KeychainAccessibleWhenUnlocked = true
		cfg.KeychainSynchronizable = false
	case "pass":
		cfg.PassPrefix = opts.ServiceName
	default:
		return nil, fmt.Errorf("unknown keyring backend %q", name)
	}

	ctx := context.Background()
	// keyring.Open hides why a backend failed to open; probing first gives
	// the user the reason (a locked collection, keyctl blocked by seccomp).
	if _, err := call(ctx, k, func() (struct{}, error) { return struct{}{}, probeBackend(name) }); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ring, err := call(ctx, k, func() (keyring.Keyring, error) { return keyring.Open(cfg) })
	for attempt := 1; name == "keyctl" && errors.Is(err, keyring.ErrNoAvailImpl) && attempt < 3; attempt++ {
		// Opening searches the whole user keyring, and a keyring another
		// process is removing at that moment fails the search: try again.
		time.Sleep(50 * time.Millisecond)
		ring, err = call(ctx, k, func() (keyring.Keyring, error) { return keyring.Open(cfg) })
	}
	switch {
	case errors.Is(err, keyring.ErrNoAvailImpl):
		return nil, fmt.Errorf("%s: %w: %s", name, ErrUnavailable, unavailableReason(name))
	case errors.Is(err, ErrTimeout):
		return nil, fmt.Errorf("%s: %w", name, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w: %v", name, ErrUnavailable, err)
	}
	k.ring = ring
	if name == "file" {
		removeTempItems(k.fileDir)
		k.ring = atomicFile{Keyring: ring, dir: k.fileDir}
	}

	if name == "secret-service" {
		// The collection can be locked again later (screen lock, timeout).
		k.precheck = checkSecretService
	}
	if name == "file" {
		if err := k.checkPassphrase(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return k, nil
}

// unavailableReason guesses why keyring.Open, which keeps the reason to
// itself, could not open the backend.
func unavailableReason(name string) string {
	registered := slices.Contains(keyring.AvailableBackends(), keyring.BackendType(name))
	switch {
	case name == "secret-service" || name == "kwallet":
		if !registered {
			if reason := sessionBusMissing(); reason != "" {
				return reason
			}
			return "the session bus was unreachable when authd started, or " + runtime.GOOS + " has no " + name
		}
		if name == "kwallet" {
			return "kwalletd5 is not running, or the wallet could not be opened"
		}
		return "the Secret Service could not be opened"
	case name == "pass" && registered:
		return "the pass command is not installed"
	case !registered:
		return "not supported on " + runtime.GOOS
	}
	return "the backend could not be opened"
}

// mapError turns a backend error about the item key into this package's
// errors. It leaves errors that already are (timeouts, locks) alone.
func (k *Keyring) mapError(key string, err error) error {
	switch {
	case errors.Is(err, keyring.ErrKeyNotFound), errors.Is(err, fs.ErrNotExist):
		return ErrNotFound
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrLocked), errors.Is(err, ErrUnavailable),
		errors.Is(err, context.Canceled):
	case isSecretServiceLocked(err):
		err = fmt.Errorf("%w: %s", ErrLocked, secretServiceLockedHint)
	case k.backend == "keyctl" && strings.Contains(err.Error(), "quota"):
		err = fmt.Errorf("%w (the kernel limits keys per user: see /proc/sys/kernel/keys/maxbytes, "+
			"or set keyring.backend = \"file\")", err)
	}
	if strings.Contains(key, chunkSeparator) {
		return fmt.Errorf("item %q: %w", key, err)
	}
	return err
}

// secretServiceLockedHint tells the user how to get past a locked collection.
const secretServiceLockedHint = `the Secret Service collection "login" is locked: unlock it ` +
	`(log in to your desktop session, or unlock "Login" in Passwords and Keys), ` +
	`or set keyring.backend = "keyctl", or "file" with a passphrase`

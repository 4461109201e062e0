package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/99designs/keyring"
)

// Sentinel errors. Every error from this package that matches one of them
// wraps it, so callers use [errors.Is].
var (
	// ErrNotFound means no record is stored under the key.
	ErrNotFound = errors.New("no stored credentials")
	// ErrLocked means the keyring exists but cannot be read now: a locked
	// Secret Service collection, or a wrong passphrase for the file backend.
	ErrLocked = errors.New("keyring is locked")
	// ErrUnavailable means the backend is missing or cannot be opened.
	ErrUnavailable = errors.New("keyring backend unavailable")
	// ErrTimeout means a keyring call did not return within Options.Timeout
	// or the caller's deadline. It also matches context.DeadlineExceeded.
	ErrTimeout = errors.New("keyring call timed out")
	// ErrNoPassphrase means the file backend was chosen without a passphrase.
	ErrNoPassphrase = errors.New("no keyring passphrase")
	// ErrCorrupt means a stored record cannot be trusted: invalid JSON, a
	// missing part, or a version newer than this code.
	ErrCorrupt = errors.New("corrupt credential record")
)

// DefaultTimeout bounds each keyring call when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// DefaultServiceName is the service name used when Options.ServiceName is empty.
const DefaultServiceName = "authd"

// Options selects and configures the keyring backend.
type Options struct {
	// Backend is one of "auto", "keychain", "secret-service", "kwallet",
	// "wincred", "keyctl", "pass" or "file"; "" means "auto".
	Backend string
	// ServiceName namespaces authd's items: the keychain service, the keyctl
	// keyring, the KWallet folder, the pass and wincred prefix, and the
	// prefix of item labels in the Secret Service collection. Default "authd".
	ServiceName string
	// FileDir is the file backend's directory, created with mode 0700.
	// Default: [DefaultFileDir].
	FileDir string
	// Passphrase encrypts the file backend; see [PassphraseFrom].
	Passphrase string
	// Timeout bounds each keyring call; default [DefaultTimeout].
	Timeout time.Duration
}

// Keyring stores [Record] values in one keyring backend. It is safe for
// concurrent use; operations on it run one at a time.
type Keyring struct {
	backend   string
	ring      keyring.Keyring
	timeout   time.Duration
	itemLimit int    // largest value one item holds; 0 means no limit
	keyPrefix string // prepended to keys where the backend has no namespace
	fileDir   string // file backend only, for messages

	// precheck runs before every backend call; the Secret Service uses it
	// to report a locked collection instead of triggering an unlock prompt.
	precheck func() error

	ops   chan struct{} // held for a whole Get/Put/Delete
	calls chan struct{} // held by a backend call until it returns, even after a timeout
	now   func() time.Time
}

// newKeyring wraps an opened backend. Tests use it to inject fakes.
func newKeyring(backend string, ring keyring.Keyring, timeout time.Duration) *Keyring {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Keyring{
		backend: backend,
		ring:    ring,
		timeout: timeout,
		ops:     make(chan struct{}, 1),
		calls:   make(chan struct{}, 1),
		now:     time.Now,
	}
}

// Backend returns the name of the backend in use, such as "keyctl".
func (k *Keyring) Backend() string { return k.backend }

// Get returns the record stored under key, or an error wrapping [ErrNotFound]
// when there is none.
func (k *Keyring) Get(ctx context.Context, key string) (*Record, error) {
	r, err := k.get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%s: get %q: %w", k.backend, key, err)
	}
	return r, nil
}

// Put stores a copy of r under key, with Version set to [RecordVersion] and
// UpdatedAt to the current time, replacing any earlier record.
func (k *Keyring) Put(ctx context.Context, key string, r *Record) error {
	if err := k.put(ctx, key, r); err != nil {
		return fmt.Errorf("%s: put %q: %w", k.backend, key, err)
	}
	return nil
}

// Delete removes the record stored under key, all its parts included. It
// returns nil when there is none.
func (k *Keyring) Delete(ctx context.Context, key string) error {
	if err := k.delete(ctx, key); err != nil {
		return fmt.Errorf("%s: delete %q: %w", k.backend, key, err)
	}
	return nil
}

func (k *Keyring) get(ctx context.Context, key string) (*Record, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	if err := k.lockOps(ctx); err != nil {
		return nil, err
	}
	defer k.unlockOps()

	first, err := k.getItem(ctx, key)
	if err != nil {
		return nil, err
	}
	header, split, err := parseChunkHeader(first)
	if err != nil {
		return nil, err
	}
	data := first
	if split {
		data = append([]byte(nil), header.body...)
		for i := 1; i < header.count; i++ {
			part, err := k.getItem(ctx, chunkKey(key, i))
			if errors.Is(err, ErrNotFound) {
				return nil, fmt.Errorf("%w: part %d of %d is missing", ErrCorrupt, i+1, header.count)
			}
			if err != nil {
				return nil, err
			}
			data = append(data, part...)
		}
		if err := header.verify(data); err != nil {
			return nil, err
		}
	}
	return decodeRecord(data)
}

func (k *Keyring) put(ctx context.Context, key string, r *Record) error {
	if err := validKey(key); err != nil {
		return err
	}
	if r == nil {
		return errors.New("nil record")
	}
	data, err := encodeRecord(r, k.now())
	if err != nil {
		return err
	}
	parts, err := splitRecord(data, k.itemLimit)
	if err != nil {
		return err
	}
	if err := k.lockOps(ctx); err != nil {
		return err
	}
	defer k.unlockOps()

	// Only backends with a size limit ever hold split records, so only they
	// need to know how many parts the record being replaced had.
	oldCount, probe := 1, false
	if k.itemLimit > 0 {
		oldCount, probe, err = k.partCount(ctx, key)
		if err != nil {
			return err
		}
	}
	// Parts first, first item last. A Put that stops half way leaves the
	// old first item with some new parts: Get then fails the checksum
	// (ErrCorrupt) rather than returning a record cut short.
	for i := len(parts) - 1; i >= 1; i-- {
		if err := k.setItem(ctx, chunkKey(key, i), parts[i]); err != nil {
			return err
		}
	}
	if err := k.setItem(ctx, key, parts[0]); err != nil {
		return err
	}
	// The new record is stored; parts the old one had beyond the new count
	// are garbage, and failing to remove them must not fail the Put.
	_ = k.removeParts(ctx, key, len(parts), oldCount, probe)
	return nil
}

func (k *Keyring) delete(ctx context.Context, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := k.lockOps(ctx); err != nil {
		return err
	}
	defer k.unlockOps()

	count, probe := 1, false
	if k.itemLimit > 0 {
		var err error
		if count, probe, err = k.partCount(ctx, key); err != nil {
			return err
		}
	}
	if err := k.removeItem(ctx, key); err != nil {
		return err
	}
	return k.removeParts(ctx, key, 1, count, probe)
}

// partCount returns how many items the record under key spans. When that is
// unknown (no first item, say after an interrupted Put, or a bad header) it
// returns maxChunks and probe: remove parts until one is missing.
func (k *Keyring) partCount(ctx context.Context, key string) (count int, probe bool, err error) {
	first, err := k.getItem(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return maxChunks, true, nil
	case errors.Is(err, ErrLocked), errors.Is(err, ErrTimeout), errors.Is(err, ErrUnavailable),
		errors.Is(err, context.Canceled):
		return 0, false, err
	case err != nil:
		// Unreadable: it is about to be replaced or deleted anyway.
		return maxChunks, true, nil
	}
	header, split, err := parseChunkHeader(first)
	switch {
	case err != nil:
		return maxChunks, true, nil
	case split:
		return header.count, false, nil
	default:
		return 1, false, nil
	}
}

// removeParts removes parts from..to-1 of key. With probe it stops at the
// first part that is missing.
func (k *Keyring) removeParts(ctx context.Context, key string, from, to int, probe bool) error {
	for i := from; i < to; i++ {
		found, err := k.removeItemFound(ctx, chunkKey(key, i))
		if err != nil {
			return err
		}
		if probe && !found {
			return nil
		}
	}
	return nil
}

// getItem reads one item. A missing item is ErrNotFound.
func (k *Keyring) getItem(ctx context.Context, key string) ([]byte, error) {
	item, err := call(ctx, k, func() (keyring.Item, error) {
		return k.ring.Get(k.keyPrefix + key)
	})
	if err != nil {
		if k.backend == "file" {
			err = k.fileReadError(key, err)
		}
		return nil, k.mapError(key, err)
	}
	return item.Data, nil
}

// keyctlSets serialises keyctl writes in this process. The keyctl backend
// stages each key in the session keyring, under its plain name, to set its
// permissions before it moves it: two writes of one name at once (two
// keyrings of one process, as parallel tests have) would meet there. It
// narrows, but has not been shown to remove, a rare "setting permission …
// permission denied" in parallel tests: other processes of the user share
// that session keyring too.
var keyctlSets sync.Mutex

func (k *Keyring) setItem(ctx context.Context, key string, data []byte) error {
	_, err := call(ctx, k, func() (struct{}, error) {
		if k.backend == "keyctl" {
			keyctlSets.Lock()
			defer keyctlSets.Unlock()
		}
		return struct{}{}, k.ring.Set(keyring.Item{
			Key:         k.keyPrefix + key,
			Data:        data,
			Label:       k.keyPrefix + key,
			Description: "authd credentials",
			// Never sync refresh tokens to iCloud.
			KeychainNotSynchronizable: true,
		})
	})
	if err != nil {
		return k.mapError(key, err)
	}
	return nil
}

func (k *Keyring) removeItem(ctx context.Context, key string) error {
	_, err := k.removeItemFound(ctx, key)
	return err
}

// removeItemFound removes one item and reports whether it was there.
func (k *Keyring) removeItemFound(ctx context.Context, key string) (bool, error) {
	_, err := call(ctx, k, func() (struct{}, error) {
		return struct{}{}, k.ring.Remove(k.keyPrefix + key)
	})
	if err != nil {
		err = k.mapError(key, err)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// errCallTimeout is the cause of a context that ran out of Options.Timeout.
var errCallTimeout = errors.New("keyring call timeout")

// call runs fn, a blocking keyring call, in its own goroutine and waits for
// it with k.timeout and ctx. When the wait ends first, fn keeps running and
// holds k.calls until it returns, so later calls wait for it (with their own
// deadline) instead of running concurrently with it.
func call[T any](ctx context.Context, k *Keyring, fn func() (T, error)) (T, error) {
	var zero T
	ctx, cancel := context.WithTimeoutCause(ctx, k.timeout, errCallTimeout)
	defer cancel()
	select {
	case k.calls <- struct{}{}:
	case <-ctx.Done():
		return zero, k.waitError(ctx, " (an earlier keyring call is still running)")
	}
	type result struct {
		value T
		err   error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-k.calls }()
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("keyring backend panicked: %v", p)}
			}
		}()
		if k.precheck != nil {
			if err := k.precheck(); err != nil {
				done <- result{err: err}
				return
			}
		}
		value, err := fn()
		done <- result{value, err}
	}()
	select {
	case r := <-done:
		return r.value, r.err
	case <-ctx.Done():
		return zero, k.waitError(ctx, "")
	}
}

// waitError explains why a wait on ctx ended.
func (k *Keyring) waitError(ctx context.Context, note string) error {
	if context.Cause(ctx) == errCallTimeout {
		return fmt.Errorf("%w after %v%s (%w)", ErrTimeout, k.timeout, note, context.DeadlineExceeded)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: the caller's deadline passed%s (%w)", ErrTimeout, note, ctx.Err())
	}
	return fmt.Errorf("keyring call abandoned%s: %w", note, ctx.Err())
}

func (k *Keyring) lockOps(ctx context.Context) error {
	select {
	case k.ops <- struct{}{}:
		return nil
	case <-ctx.Done():
		return k.waitError(ctx, " waiting for another store operation")
	}
}

func (k *Keyring) unlockOps() { <-k.ops }

// validKey rejects keys that would collide with the names of record parts
// or mean a path to a backend.
func validKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	if strings.ContainsAny(key, chunkSeparator+`/\`) {
		return fmt.Errorf("invalid key %q: it must not contain %q, '/' or '\\'", key, chunkSeparator)
	}
	if strings.IndexFunc(key, unicode.IsControl) >= 0 {
		return fmt.Errorf("invalid key %q: it contains a control character", key)
	}
	return nil
}

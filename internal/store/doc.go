// Package store keeps authd's credentials in the user's keyring.
//
// It knows nothing of OAuth: it stores one small versioned JSON [Record] per
// key, on top of github.com/99designs/keyring.
//
// # Opening a keyring
//
// [Open] picks a backend from [Options.Backend]. "auto" (the default) tries
// the OS keyring first (Keychain on macOS, Credential Manager on Windows,
// Secret Service then KWallet on Linux when a session bus is configured) and
// then the kernel keyring (keyctl) on Linux. It never falls back to the
// encrypted file backend, let alone to plaintext: when nothing is usable, Open
// returns [ErrUnavailable] and says which backend to configure. A Secret
// Service whose "login" collection is locked is [ErrLocked], not a reason to
// pick another backend.
//
// The "file" backend needs a passphrase; [PassphraseFrom] resolves it from
// AUTHD_KEYRING_PASSPHRASE or a passphrase file.
//
// # Reading and writing
//
// [Keyring.Get], [Keyring.Put] and [Keyring.Delete] take a context. Every call
// into the backend runs in its own goroutine under [Options.Timeout]: a hung
// D-Bus service or a keychain prompt returns [ErrTimeout] instead of blocking
// the daemon, and the call finishes on its own later. Calls into one backend
// are serialised, so a call that is still hanging makes the next ones time out
// rather than pile up.
//
// Records bigger than what a backend holds in one item (32767 bytes for a
// keyctl "user" key, 2560 for Windows credentials) are split into several
// items: key, key#1, key#2, ... The first one starts with a header giving the
// number of items and a SHA-256 of the whole record, so a torn write reads as
// [ErrCorrupt], never as a truncated record.
//
// # Errors
//
// Callers branch on the sentinels: [ErrNotFound], [ErrLocked],
// [ErrUnavailable], [ErrTimeout], [ErrNoPassphrase] and [ErrCorrupt]. A record
// that does not parse, or that a newer authd wrote, is [ErrCorrupt]; it is
// never silently treated as absent.
//
// # Secrets in logs
//
// [Record] formats itself with its tokens redacted, under every fmt verb and
// as a [log/slog] value, so logging a record cannot leak a token.
package store

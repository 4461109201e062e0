package store

import (
	"strings"
	"testing"
	"time"
)

// benchRecord is a record the size a real session stores: JWT access and ID
// tokens of about a kilobyte, an opaque refresh token.
func benchRecord() *Record {
	now := time.Now()
	return &Record{
		Issuer:       "https://idp.example.com",
		ClientID:     "authd-cli",
		Account:      "alice@example.com",
		RefreshToken: strings.Repeat("r", 96),
		AccessToken:  strings.Repeat("a", 1000),
		TokenType:    "Bearer",
		Expiry:       now.Add(time.Hour),
		IDToken:      strings.Repeat("i", 900),
		Scopes:       []string{"openid", "profile", "email", "offline_access"},
		IssuedAt:     now,
	}
}

// BenchmarkKeyringGet reads one session record from the encrypted file
// backend: what the daemon pays for each profile at start-up and after a
// reload (the hot path serves from memory).
func BenchmarkKeyringGet(b *testing.B) {
	k, err := Open(Options{Backend: "file", FileDir: b.TempDir(), Passphrase: "bench passphrase"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	if err := k.Put(ctx, "profile:work", benchRecord()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Get(ctx, "profile:work"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyringPut writes one session record to the encrypted file
// backend: what every refresh pays before its waiters are released.
func BenchmarkKeyringPut(b *testing.B) {
	k, err := Open(Options{Backend: "file", FileDir: b.TempDir(), Passphrase: "bench passphrase"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	rec := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		if err := k.Put(ctx, "profile:work", rec); err != nil {
			b.Fatal(err)
		}
	}
}

package oidcagent

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// connPair is both ends of a Unix stream connection, closed when t ends.
func connPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func read(t *testing.T, c net.Conn, within time.Duration, whole func([]byte) bool) ([]byte, error) {
	t.Helper()
	deadline := time.Now().Add(within)
	if err := c.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	return readMessage(c, deadline, whole)
}

func TestReadMessage(t *testing.T) {
	v := loadVectors(t)
	pk, sealed := v.Exchanges[0].ClientPublicKey, v.Exchanges[0].SealedRequest
	plain := `{"request":"access_token","account":"work"}`
	for _, tt := range []struct {
		name   string
		pieces []string // written with a short pause between them
		whole  func([]byte) bool
		want   string
	}{
		{"public key", []string{pk}, wholeFirst, pk},
		{"request in the clear", []string{plain}, wholeFirst, plain},
		{"sealed request", []string{sealed}, wholeSealed, sealed},
		{"public key in pieces", []string{pk[:10], pk[10:30], pk[30:]}, wholeFirst, pk},
		{"clear request in pieces", []string{plain[:5], plain[5:]}, wholeFirst, plain},
		{"sealed request in pieces", []string{sealed[:2], sealed[2:40], sealed[40:]}, wholeSealed, sealed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, server := connPair(t)
			go func() {
				for i, p := range tt.pieces {
					if i > 0 {
						time.Sleep(pieceGap / 5)
					}
					client.Write([]byte(p))
				}
			}()
			start := time.Now()
			got, err := read(t, server, 10*time.Second, tt.whole)
			if err != nil || string(got) != tt.want {
				t.Fatalf("read %q, %v; want %q", got, err, tt.want)
			}
			// A whole message is taken at once, not after a pause.
			if d := time.Since(start); d > time.Duration(len(tt.pieces))*pieceGap {
				t.Errorf("took %s", d)
			}
		})
	}
}

// A message that stays incomplete is what came before the pause, for the
// decoder to refuse; the wait is bounded by the piece gap, not the read
// deadline.
func TestReadMessageStops(t *testing.T) {
	t.Parallel()
	for name, msg := range map[string]string{
		"short key":          "abc",
		"open JSON":          `{"request":"access_token"`,
		"truncated sealed":   "142:4FXXkDsBwkh9xsuoLCY54xyaMjgh+oOS:t7YK",
		"sealed, no nonce":   "142:",
		"sealed, long nonce": "142:" + strings.Repeat("A", 40),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			whole := wholeFirst
			if strings.HasPrefix(msg, "142:") {
				whole = wholeSealed
			}
			client, server := connPair(t)
			client.Write([]byte(msg))
			start := time.Now()
			got, err := read(t, server, time.Minute, whole)
			if err != nil || string(got) != msg {
				t.Fatalf("read %q, %v; want %q", got, err, msg)
			}
			if d := time.Since(start); d > 10*pieceGap {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestReadMessageFails(t *testing.T) {
	t.Parallel()
	t.Run("silence", func(t *testing.T) {
		t.Parallel()
		_, server := connPair(t)
		if got, err := read(t, server, 100*time.Millisecond, wholeFirst); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read %q, %v; want the deadline", got, err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		t.Parallel()
		client, server := connPair(t)
		client.Write([]byte("abc"))
		client.Close()
		if got, err := read(t, server, 10*time.Second, wholeFirst); err == nil {
			t.Errorf("read %q from a closed connection", got)
		}
	})
	t.Run("too long", func(t *testing.T) {
		t.Parallel()
		client, server := connPair(t)
		// JSON that is never whole, and more of it than a message may be.
		go client.Write([]byte("{" + strings.Repeat(" ", 2*maxMessage)))
		if got, err := read(t, server, 10*time.Second, wholeFirst); !errors.Is(err, errTooLarge) {
			t.Errorf("read %d bytes, %v; want errTooLarge", len(got), err)
		}
	})
	t.Run("sealed too long", func(t *testing.T) {
		t.Parallel()
		client, server := connPair(t)
		go client.Write([]byte("65536:" + strings.Repeat("A", 32) + ":" + strings.Repeat("A", 2*maxMessage)))
		if got, err := read(t, server, 10*time.Second, wholeSealed); !errors.Is(err, errTooLarge) {
			t.Errorf("read %d bytes, %v; want errTooLarge", len(got), err)
		}
	})
}

func TestWhole(t *testing.T) {
	v := loadVectors(t)
	sealed := v.Exchanges[0].SealedRequest
	for _, tt := range []struct {
		whole func([]byte) bool
		msg   string
		want  bool
	}{
		{wholeFirst, v.Exchanges[0].ClientPublicKey, true},
		{wholeFirst, v.Exchanges[0].ClientPublicKey[:43], false},
		{wholeFirst, `{"request":"x"}`, true},
		{wholeFirst, ` {"request":"x"`, false},
		{wholeSealed, sealed, true},
		{wholeSealed, sealed[:len(sealed)-1], false},
		{wholeSealed, "142", false},
		{wholeSealed, "12345678", true}, // no length field is so long: malformed
		{wholeSealed, "x:", true},
		{wholeSealed, "99999999:", true},
		{wholeSealed, "1:" + strings.Repeat("A", 32), false},
		{wholeSealed, "1:" + strings.Repeat("A", 33), true},
	} {
		if got := tt.whole([]byte(tt.msg)); got != tt.want {
			t.Errorf("%q: whole %v, want %v", tt.msg, got, tt.want)
		}
	}
}

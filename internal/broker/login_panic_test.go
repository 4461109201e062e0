package broker_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/store"
)

// panickyStore panics on its first Put: a bug anywhere in a login's
// goroutine, here while saving what the flow got.
type panickyStore struct {
	broker.Store
	panicked atomic.Bool
}

func (p *panickyStore) Put(ctx context.Context, key string, rec *store.Record) error {
	if p.panicked.CompareAndSwap(false, true) {
		panic("injected: keyring backend bug")
	}
	return p.Store.Put(ctx, key, rec)
}

func TestLoginPanicFailsOnlyThatLogin(t *testing.T) {
	t.Parallel()
	k, err := store.Open(store.Options{Backend: "file", FileDir: filepath.Join(t.TempDir(), "keyring"), Passphrase: "p"})
	if err != nil {
		t.Fatal(err)
	}
	d := daemontest.NewOn(t, "file", idptest.New(t, idptest.Options{}), "", &panickyStore{Store: k})
	ctx := daemontest.Context(t)
	starter, joiner := d.Client(), d.Client()

	// Two callers wait on the login that panics: both must be released.
	joinErr := make(chan error, 1)
	err = starter.Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
		if ev.OpenURL == nil {
			return
		}
		joined := make(chan struct{})
		go func() {
			joinErr <- joiner.Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
				if ev.OpenURL != nil {
					close(joined)
				}
			})
		}()
		<-joined
		if status, body, err := idptest.CompleteLogin(ctx, ev.OpenURL.URL, "alice", "alice-password"); err != nil || status != 200 {
			t.Errorf("complete login: status %d, err %v, body %s", status, err, body)
		}
	})
	if !errors.Is(err, client.ErrLoginFailed) {
		t.Fatalf("login that panicked: %v, want ErrLoginFailed", err)
	}
	if err := <-joinErr; !errors.Is(err, client.ErrLoginFailed) {
		t.Errorf("caller who joined the login that panicked: %v, want ErrLoginFailed", err)
	}
	if strings.Contains(err.Error(), "injected") {
		t.Errorf("the panic's text reached the client: %v", err)
	}
	logs := d.Logs.String()
	if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "injected: keyring backend bug") || !strings.Contains(logs, "panickyStore") {
		t.Errorf("the panic and its stack are not logged at error level:\n%s", logs)
	}

	// The daemon lives on, and the next login works.
	done := d.Login(ctx, starter)
	if done.Account != "alice@example.com" {
		t.Errorf("second login: account %q", done.Account)
	}
	if _, err := starter.Token(ctx, client.TokenOptions{}); err != nil {
		t.Errorf("token after the second login: %v", err)
	}
}

package broker_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/store"
)

func profileStatus(t *testing.T, c *client.Client) *client.ProfileStatus {
	t.Helper()
	st, err := c.Status(daemontest.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	return &st.Profiles[0]
}

func TestBackgroundRefreshBeforeExpiry(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{AccessTokenLifetime: 5 * time.Minute}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	first, err := c.Token(ctx, client.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := profileStatus(t, c).NextRefresh
	// 75-85% of 5 minutes, but early enough to leave DefaultMinValid and a margin.
	if left := first.Expiry.Sub(next); left < broker.DefaultMinValid || left > 5*time.Minute/4 {
		t.Fatalf("background refresh planned %s before expiry", left)
	}
	d.Clock.Advance(next.Sub(d.Clock.Now()) + time.Second)
	if n := d.IdP.Count("token:refresh_token"); n != 1 {
		t.Fatalf("%d background refreshes, want 1", n)
	}
	// A caller with the default min_valid is served at once, by the new token.
	second, err := c.Token(ctx, client.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.AccessToken == first.AccessToken || d.IdP.Count("token:refresh_token") != 1 {
		t.Errorf("caller did not get the background-refreshed token without waiting")
	}
	if profileStatus(t, c).LastRefresh.IsZero() {
		t.Error("status has no last refresh")
	}
}

func TestMinValid(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{AccessTokenLifetime: 5 * time.Minute}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	d.Clock.Sleep(2 * time.Minute) // 3 minutes left; the background refresh has not run
	d.IdP.ResetCounts()

	const callers = 500
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range callers {
		wg.Go(func() {
			tok, err := c.Token(ctx, client.TokenOptions{MinValid: 4 * time.Minute})
			if err != nil || tok.Expiry.Sub(d.Clock.Now()) < 4*time.Minute {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d callers got no token valid for 4 minutes", failed.Load())
	}
	if n := d.IdP.Count("token:refresh_token"); n != 1 {
		t.Errorf("%d refreshes for %d callers asking for more than was left, want 1", n, callers)
	}

	_, err := c.Token(ctx, client.TokenOptions{MinValid: 10 * time.Minute})
	if !isReason(err, "TOKEN_LIFETIME") || !strings.Contains(err.Error(), "not longer than the 10m0s asked for") {
		t.Errorf("min_valid beyond the provider's lifetime: %v", err)
	}
}

// TestOutage: the provider fails for two minutes while tokens are valid.
func TestOutage(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{AccessTokenLifetime: 20 * time.Minute})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	start := proxy.Count(daemontest.TokenPath) // the code exchange went through the proxy
	proxy.Set(idptest.Fault{Status: 503})

	// Run until the first background refresh fails.
	for proxy.Count(daemontest.TokenPath) == start {
		d.Clock.Advance(time.Second)
	}
	var attempts []time.Time
	outageStart := d.Clock.Now()
	attempts = append(attempts, outageStart)
	last := proxy.Count(daemontest.TokenPath)
	for d.Clock.Now().Sub(outageStart) < 2*time.Minute {
		d.Clock.Advance(time.Second)
		// Default callers are served the still-valid token, callers
		// asking for more than is left are told the provider is down;
		// neither reaches the provider.
		if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
			t.Fatalf("token during the outage at +%s: %v", d.Clock.Now().Sub(outageStart), err)
		}
		if _, err := c.Token(ctx, client.TokenOptions{MinValid: 19 * time.Minute}); !errors.Is(err, client.ErrProviderUnavailable) {
			t.Fatalf("token (min_valid 19m) during the outage at +%s: %v", d.Clock.Now().Sub(outageStart), err)
		}
		if n := proxy.Count(daemontest.TokenPath); n != last {
			if n != last+1 {
				t.Fatalf("%d requests at once", n-last)
			}
			last = n
			attempts = append(attempts, d.Clock.Now())
		}
	}
	// Backoff of 1 s, 2 s, 4 s ... (each jittered to 50-100%) fits 6 to 9
	// attempts in two minutes; clients calling every second add none.
	t.Logf("%d provider requests in a 2-minute outage, at %v", len(attempts), offsets(attempts))
	if len(attempts) < 6 || len(attempts) > 9 {
		t.Errorf("%d provider requests in a 2-minute outage, want 6-9", len(attempts))
	}
	for i := 2; i < len(attempts); i++ {
		prev, cur := attempts[i-1].Sub(attempts[i-2]), attempts[i].Sub(attempts[i-1])
		if cur < prev/2-time.Second {
			t.Errorf("retry interval shrank: %v then %v", prev, cur)
		}
	}
	st := profileStatus(t, c)
	if st.Failures == 0 || !strings.Contains(st.LastError, "503") || st.NextRefresh.IsZero() {
		t.Errorf("status during the outage: %v", st)
	}

	proxy.Set(idptest.Fault{})
	d.Clock.Advance(st.NextRefresh.Sub(d.Clock.Now()) + time.Second)
	st = profileStatus(t, c)
	if st.Failures != 0 || st.State != "valid" {
		t.Errorf("status after recovery: %v", st)
	}
}

func offsets(ts []time.Time) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Sub(ts[0]).Round(time.Second).String())
	}
	return out
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{AccessTokenLifetime: 20 * time.Minute})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	start := proxy.Count(daemontest.TokenPath)
	proxy.Set(idptest.Fault{Status: 429, RetryAfter: "120"})
	for proxy.Count(daemontest.TokenPath) == start {
		d.Clock.Advance(time.Second)
	}
	failedAt := d.Clock.Now()
	for d.Clock.Now().Sub(failedAt) < 119*time.Second {
		d.Clock.Advance(time.Second)
		if proxy.Count(daemontest.TokenPath) != start+1 {
			t.Fatalf("retried %s after a Retry-After of 120 s", d.Clock.Now().Sub(failedAt))
		}
	}
	d.Clock.Advance(3 * time.Second)
	if proxy.Count(daemontest.TokenPath) != start+2 {
		t.Errorf("no retry once Retry-After passed")
	}
}

func TestInvalidGrantNeedsOneLogin(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	d.IdP.RevokeAllRefreshTokens()
	d.Clock.Sleep(time.Hour)
	d.IdP.ResetCounts()
	var wg sync.WaitGroup
	var required atomic.Int32
	for range 20 {
		wg.Go(func() {
			if _, err := c.Token(ctx, client.TokenOptions{}); errors.Is(err, client.ErrLoginRequired) {
				required.Add(1)
			}
		})
	}
	wg.Wait()
	if required.Load() != 20 {
		t.Errorf("%d of 20 callers were told to log in", required.Load())
	}
	if n := d.IdP.Count("token:refresh_token"); n != 1 {
		t.Errorf("%d refresh attempts with a revoked grant, want 1", n)
	}
	if st := profileStatus(t, c); st.State != "needs_login" || st.HasRefreshToken {
		t.Errorf("status %v, want needs_login", st)
	}
	if _, err := c.Token(ctx, client.TokenOptions{}); !errors.Is(err, client.ErrLoginRequired) || d.IdP.Count("token:refresh_token") != 1 {
		t.Errorf("a later call tried the dead grant again: %v", err)
	}
	d.Login(ctx, c)
	if st := profileStatus(t, c); st.State != "valid" {
		t.Errorf("status after the new login: %v", st)
	}
}

func TestHungProviderTimesOut(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	proxy.Set(idptest.Fault{Hang: true})
	d.Clock.Sleep(time.Hour)
	_, err := c.Token(ctx, client.TokenOptions{})
	if !errors.Is(err, client.ErrProviderUnavailable) {
		t.Errorf("hung provider: %v, want ErrProviderUnavailable", err)
	}
}

func TestDownScopedTokens(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	full, err := c.Token(ctx, client.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.IdP.ResetCounts()
	var wg sync.WaitGroup
	tokens := make([]*client.Token, 50)
	for i := range tokens {
		wg.Go(func() {
			tok, err := c.Token(ctx, client.TokenOptions{Scopes: []string{"openid", "email"}})
			if err != nil {
				t.Error(err)
				return
			}
			tokens[i] = tok
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if n := d.IdP.Count("token:refresh_token"); n != 1 {
		t.Errorf("%d refreshes to mint one down-scoped token for 50 callers, want 1", n)
	}
	down := tokens[0]
	if down.AccessToken == full.AccessToken || strings.Join(down.Scopes, " ") != "openid email" {
		t.Errorf("down-scoped token: same=%v scopes=%v", down.AccessToken == full.AccessToken, down.Scopes)
	}
	for _, tok := range tokens {
		if tok.AccessToken != down.AccessToken {
			t.Fatal("callers got different down-scoped tokens")
		}
	}
	// The session's own token is untouched, and the rotated refresh token
	// was kept: the session survives a restart.
	if again, err := c.Token(ctx, client.TokenOptions{}); err != nil || again.AccessToken != full.AccessToken {
		t.Errorf("session token after minting: %v", err)
	}
	d.Restart()
	d.Clock.Sleep(time.Hour)
	if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
		t.Errorf("refresh after minting and restart: %v", err)
	}
}

// failingStore fails Put on command, as a keyring that locks mid-session.
type failingStore struct {
	broker.Store
	fail atomic.Bool
}

func (f *failingStore) Put(ctx context.Context, key string, rec *store.Record) error {
	if f.fail.Load() {
		return fmt.Errorf("put %s: %w", key, store.ErrLocked)
	}
	return f.Store.Put(ctx, key, rec)
}

func TestRotatedTokenSurvivesAFailedWrite(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t, idptest.Options{})
	k, err := store.Open(store.Options{Backend: "file", FileDir: filepath.Join(t.TempDir(), "keyring"), Passphrase: "p"})
	if err != nil {
		t.Fatal(err)
	}
	fs := &failingStore{Store: k}
	d := daemontest.NewOn(t, "file", idp, "", fs)
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)

	fs.fail.Store(true)
	d.Clock.Sleep(time.Hour)
	_, err = c.Token(ctx, client.TokenOptions{})
	if !errors.Is(err, client.ErrKeyring) {
		t.Fatalf("refresh with a failing keyring: %v, want ErrKeyring", err)
	}
	if st := profileStatus(t, c); !strings.Contains(st.LastError, "save to keyring") {
		t.Errorf("status does not show the failed write: %v", st)
	}
	// The rotated refresh token lives on in memory: the next call works, and
	// once the keyring is back, the next refresh is saved.
	if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
		t.Fatalf("token after the failed write: %v", err)
	}
	fs.fail.Store(false)
	d.Clock.Sleep(time.Hour)
	if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
		t.Fatal(err)
	}
	d.Restart()
	d.Clock.Sleep(time.Hour)
	if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
		t.Errorf("session lost after the keyring recovered: %v", err)
	}
}

package broker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

func TestLoginTokenRefreshLogout(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, `audience = "api://kube"
extra_auth_params = { prompt = "consent" }`)
	ctx := daemontest.Context(t)
	c := d.Client()

	if _, err := c.Token(ctx, client.TokenOptions{}); !errors.Is(err, client.ErrLoginRequired) {
		t.Fatalf("token before login: %v, want ErrLoginRequired", err)
	}
	done := d.Login(ctx, c)
	if done.Account != "alice@example.com" {
		t.Errorf("account %q", done.Account)
	}
	reqs := d.IdP.AuthorizeRequests()
	if len(reqs) != 1 {
		t.Fatalf("%d authorize requests, want 1", len(reqs))
	}
	q := reqs[0]
	for k, want := range map[string]string{"code_challenge_method": "S256", "audience": "api://kube", "prompt": "consent", "client_id": idptest.PublicClientID} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"code_challenge", "state", "nonce"} {
		if len(q.Get(k)) < 32 {
			t.Errorf("authorize %s = %q: missing or short", k, q.Get(k))
		}
	}
	if ru, _ := url.Parse(q.Get("redirect_uri")); ru == nil || ru.Hostname() != "127.0.0.1" || ru.Path != "/callback" {
		t.Errorf("redirect_uri %q is not a 127.0.0.1 loopback /callback", q.Get("redirect_uri"))
	}

	tok, err := c.Token(ctx, client.TokenOptions{IDToken: true})
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.IDToken == "" || tok.Profile != "work" || time.Until(tok.Expiry) < time.Minute {
		t.Fatalf("bad token %+v", tok)
	}
	again, err := c.Token(ctx, client.TokenOptions{})
	if err != nil || again.AccessToken != tok.AccessToken || again.IDToken != "" {
		t.Fatalf("cached token: %v, same=%v, id token without asking=%q", err, again.AccessToken == tok.AccessToken, again.IDToken)
	}
	if n := d.IdP.Count("token:refresh_token"); n != 0 {
		t.Fatalf("%d refreshes for a valid token", n)
	}

	// Past the access token's expiry, the next call refreshes once.
	d.Clock.Advance(10 * time.Minute)
	fresh, err := c.Token(ctx, client.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken {
		t.Error("expired token served again")
	}
	if n := d.IdP.Count("token:refresh_token"); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}

	names, err := c.Logout(ctx, "", false)
	if err != nil || len(names) != 1 || names[0] != "work" {
		t.Fatalf("logout: %v %v", names, err)
	}
	if d.IdP.Count("revoke") != 1 {
		t.Errorf("logout did not revoke the refresh token")
	}
	if _, err := c.Token(ctx, client.TokenOptions{}); !errors.Is(err, client.ErrLoginRequired) {
		t.Fatalf("token after logout: %v, want ErrLoginRequired", err)
	}
	d.Restart()
	if _, err := c.Token(ctx, client.TokenOptions{}); !errors.Is(err, client.ErrLoginRequired) {
		t.Fatalf("token after logout and restart: %v, want ErrLoginRequired", err)
	}
	assertNoSecretsInLogs(t, d, tok.AccessToken, fresh.AccessToken)
}

func TestRestartKeepsSession(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"file", "keyctl"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			d := daemontest.New(t, backend, idptest.Options{}, "")
			ctx := daemontest.Context(t)
			c := d.Client()
			d.Login(ctx, c)
			before, err := c.Token(ctx, client.TokenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			d.Restart()
			after, err := c.Token(ctx, client.TokenOptions{})
			if err != nil {
				t.Fatalf("token after restart: %v", err)
			}
			if after.AccessToken != before.AccessToken {
				t.Error("restart lost the cached access token")
			}
			// And the stored refresh token still works after the restart.
			d.Clock.Advance(time.Hour)
			if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
				t.Fatalf("refresh after restart: %v", err)
			}
			if n := d.IdP.Count("authorize"); n != 1 {
				t.Errorf("%d authorize requests, want 1", n)
			}
			if _, err := c.Logout(ctx, "work", false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConcurrentGetTokenAfterExpiryRefreshesOnce(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	d.Clock.Sleep(time.Hour) // wakes up with the background refresh not yet run
	d.IdP.ResetCounts()

	const callers = 200
	tokens := make([]string, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			tok, err := c.Token(ctx, client.TokenOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			tokens[i] = tok.AccessToken
		})
	}
	wg.Wait()
	if n := d.IdP.Count("token:refresh_token"); n != 1 {
		t.Errorf("%d refresh requests at the provider for %d callers, want 1", n, callers)
	}
	for i, tok := range tokens {
		if tok != tokens[0] {
			t.Fatalf("caller %d got another token", i)
		}
	}
}

func TestConcurrentLoginsShareOneAuthorization(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()

	const callers = 50
	urls := make(chan string, callers)
	var waiting sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			errs <- c.Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
				if ev.Waiting != "" {
					waiting.Store(i, ev.Waiting)
				}
				if ev.OpenURL != nil {
					urls <- ev.OpenURL.URL
				}
			})
		})
	}
	// Interactive token requests join the same login.
	tokens := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			_, err := c.Token(ctx, client.TokenOptions{Interactive: true})
			tokens <- err
		})
	}
	first := <-urls
	for range callers - 1 {
		if u := <-urls; u != first {
			t.Fatalf("callers were given different login URLs")
		}
	}
	status, body, err := idptest.CompleteLogin(ctx, first, "alice", "alice-password")
	if err != nil || status != http.StatusOK || !strings.Contains(body, "Signed in") {
		t.Fatalf("complete login: %d %v %s", status, err, body)
	}
	wg.Wait()
	close(errs)
	close(tokens)
	for err := range errs {
		if err != nil {
			t.Errorf("login: %v", err)
		}
	}
	for err := range tokens {
		if err != nil {
			t.Errorf("interactive token: %v", err)
		}
	}
	if n := d.IdP.Count("authorize"); n != 1 {
		t.Errorf("%d authorization requests for %d callers, want 1", n, callers)
	}
	if n := d.IdP.Count("token:authorization_code"); n != 1 {
		t.Errorf("%d code exchanges, want 1", n)
	}
	joined := 0
	waiting.Range(func(_, _ any) bool { joined++; return true })
	// The login's starter may be one of the token requests: then all joined.
	if joined != callers-1 && joined != callers {
		t.Errorf("%d of %d callers were told they joined a login", joined, callers)
	}
}

func TestCallerGivingUpDoesNotCancelLogin(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()

	first, cancel := context.WithCancel(ctx)
	var loginURL string
	err := c.Login(first, client.LoginOptions{}, func(ev client.LoginEvent) {
		if ev.OpenURL != nil {
			loginURL = ev.OpenURL.URL
			cancel()
		}
	})
	if err == nil {
		t.Fatal("cancelled login returned no error")
	}
	var joinedURL, startedBy string
	errc := make(chan error, 1)
	go func() {
		errc <- c.Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
			if ev.Waiting != "" {
				startedBy = ev.Waiting
			}
			if ev.OpenURL != nil {
				joinedURL = ev.OpenURL.URL
				if _, _, err := idptest.CompleteLogin(ctx, joinedURL, "alice", "alice-password"); err != nil {
					t.Error(err)
				}
			}
		})
	}()
	if err := <-errc; err != nil {
		t.Fatalf("second login: %v", err)
	}
	if joinedURL != loginURL || startedBy == "" {
		t.Errorf("the second caller did not join the first login (url same: %v, started by %q)", joinedURL == loginURL, startedBy)
	}
}

func TestCallbackErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		complete func(ctx context.Context, authURL, redirectURI string) (int, string, error)
		page     string // on the failure page
		reason   string // in the client's error
	}{
		{
			name: "state mismatch",
			// A forged callback gets the failure page and is ignored: the
			// login goes on to the provider's answer.
			complete: func(ctx context.Context, authURL, redirectURI string) (int, string, error) {
				status, body, err := get(ctx, redirectURI+"?code=stolen&state=forged")
				if err != nil || status != http.StatusBadRequest || !strings.Contains(body, "does not belong to this login") {
					return status, body, fmt.Errorf("forged callback answered %d (%v): %s", status, err, body)
				}
				return idptest.DenyLogin(ctx, authURL)
			},
			page:   "access_denied",
			reason: "access_denied",
		},
		{
			name: "provider error",
			complete: func(ctx context.Context, authURL, _ string) (int, string, error) {
				return idptest.DenyLogin(ctx, authURL)
			},
			page:   "access_denied",
			reason: "access_denied",
		},
		{
			name: "no code",
			complete: func(ctx context.Context, authURL, redirectURI string) (int, string, error) {
				u, _ := url.Parse(authURL)
				return get(ctx, redirectURI+"?state="+url.QueryEscape(u.Query().Get("state")))
			},
			page:   "no authorization code",
			reason: "no authorization code",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := daemontest.New(t, "file", idptest.Options{}, "")
			ctx := daemontest.Context(t)
			c := d.Client()
			var status int
			var body string
			err := c.Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
				if ev.OpenURL != nil {
					var err error
					status, body, err = tt.complete(ctx, ev.OpenURL.URL, ev.OpenURL.RedirectURI)
					if err != nil {
						t.Error(err)
					}
				}
			})
			if !errors.Is(err, client.ErrLoginFailed) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("login error %v, want ErrLoginFailed mentioning %q", err, tt.reason)
			}
			if status != http.StatusBadRequest || !strings.Contains(body, "Sign-in failed") || !strings.Contains(body, tt.page) {
				t.Errorf("browser saw %d:\n%s", status, body)
			}
			if n := d.IdP.Count("token:authorization_code"); n != 0 {
				t.Errorf("%d code exchanges after a failed callback", n)
			}
			// Nothing was lost: a new login works.
			d.Login(ctx, c)
		})
	}
}

// TestTokensNeverLeaveTheDaemon checks every answer for the refresh token.
func TestRefreshTokenNeverLeavesTheDaemon(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	tok, err := c.Token(ctx, client.TokenOptions{IDToken: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Profiles) != 1 || st.Profiles[0].State != "valid" || !st.Profiles[0].HasRefreshToken {
		t.Fatalf("status %v", st)
	}
	rt := d.RefreshToken(ctx)
	if rt == "" {
		t.Fatal("no refresh token stored")
	}
	for what, s := range map[string]string{"token": fmt.Sprintf("%+v", tok), "status": fmt.Sprintf("%+v", st)} {
		if strings.Contains(s, rt) {
			t.Errorf("%s answer carries the refresh token", what)
		}
	}
	assertNoSecretsInLogs(t, d, tok.AccessToken, rt, tok.IDToken)
}

func get(ctx context.Context, u string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = fmt.Fprint(&b, readAll(resp))
	return resp.StatusCode, b.String(), err
}

func assertNoSecretsInLogs(t *testing.T, d *daemontest.Daemon, secrets ...string) {
	t.Helper()
	logs := d.Logs.String()
	if logs == "" {
		t.Fatal("the daemon logged nothing: the check would be empty")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("a token appears in the daemon's log")
		}
	}
}

func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

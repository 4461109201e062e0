package flow

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/otheruser"
	"authd.dev/authd/internal/regularfile"
)

func TestMain(m *testing.M) {
	otheruser.Main()
	os.Exit(m.Run())
}

// pendingLogin is a PKCELogin running against the in-process provider.
type pendingLogin struct {
	authURL, redirectURI, state string
	result                      chan pendingResult
}

type pendingResult struct {
	tok *Token
	err error
}

func startPKCELogin(t *testing.T, mod func(*config.Profile)) *pendingLogin {
	t.Helper()
	idp := idptest.New(t, idptest.Options{})
	p := &config.Profile{
		Name: "work", Issuer: idp.Issuer(), ClientID: idptest.PublicClientID,
		Scopes: config.DefaultScopes(), RedirectPath: "/callback", Timeout: 5 * time.Second,
	}
	if mod != nil {
		mod(p)
	}
	c, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	l := &pendingLogin{result: make(chan pendingResult, 1)}
	opened := make(chan struct{})
	go func() {
		tok, err := c.PKCELogin(ctx, func(authURL, redirectURI string) {
			l.authURL, l.redirectURI = authURL, redirectURI
			close(opened)
		})
		l.result <- pendingResult{tok, err}
	}()
	select {
	case <-opened:
	case r := <-l.result:
		t.Fatalf("login ended before it asked for a browser: %v", r.err)
	}
	u, err := url.Parse(l.authURL)
	if err != nil {
		t.Fatal(err)
	}
	l.state = u.Query().Get("state")
	return l
}

// callbackURL is the redirect URI with query.
func (l *pendingLogin) callbackURL(query url.Values) string {
	return l.redirectURI + "?" + query.Encode()
}

// complete signs in on the provider, whose redirect reaches the callback.
func (l *pendingLogin) complete(t *testing.T) *Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if status, body, err := idptest.CompleteLogin(ctx, l.authURL, "alice", "alice-password"); err != nil || status != http.StatusOK {
		t.Fatalf("complete login: status %d, err %v, body %.300s", status, err, body)
	}
	r := l.wait(t)
	if r.err != nil {
		t.Fatalf("login: %v", r.err)
	}
	return r.tok
}

func (l *pendingLogin) wait(t *testing.T) pendingResult {
	t.Helper()
	select {
	case r := <-l.result:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("the login did not end")
		return pendingResult{}
	}
}

// stillRunning fails when the login has already ended.
func (l *pendingLogin) stillRunning(t *testing.T) {
	t.Helper()
	select {
	case r := <-l.result:
		t.Fatalf("the login ended on a request it should have ignored: %v", r.err)
	default:
	}
}

func TestCallbackIgnoresStrangeRequests(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		do     func(l *pendingLogin) (*http.Request, error)
		status int
	}{
		{"wrong state", func(l *pendingLogin) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, l.callbackURL(url.Values{"state": {"forged"}, "code": {"forged"}}), nil)
		}, http.StatusBadRequest},
		{"missing state", func(l *pendingLogin) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, l.callbackURL(url.Values{"error": {"access_denied"}}), nil)
		}, http.StatusBadRequest},
		{"state twice", func(l *pendingLogin) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, l.callbackURL(url.Values{"state": {l.state, "x"}, "code": {"forged"}}), nil)
		}, http.StatusBadRequest},
		{"wrong Host", func(l *pendingLogin) (*http.Request, error) {
			// A page whose DNS name was rebound to 127.0.0.1.
			r, err := http.NewRequest(http.MethodGet, l.callbackURL(url.Values{"state": {l.state}, "code": {"forged"}}), nil)
			if err == nil {
				r.Host = "rebound.example.com:" + r.URL.Port()
			}
			return r, err
		}, http.StatusBadRequest},
		{"other path", func(l *pendingLogin) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, strings.Replace(l.callbackURL(url.Values{"state": {l.state}, "code": {"forged"}}), "/callback?", "/callback/x?", 1), nil)
		}, http.StatusNotFound},
		{"POST", func(l *pendingLogin) (*http.Request, error) {
			return http.NewRequest(http.MethodPost, l.callbackURL(url.Values{"state": {l.state}, "code": {"forged"}}), nil)
		}, http.StatusMethodNotAllowed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := startPKCELogin(t, nil)
			req, err := tt.do(l)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			l.stillRunning(t)
			if tok := l.complete(t); tok.Account != "alice@example.com" {
				t.Errorf("account %q", tok.Account)
			}
		})
	}
}

func TestCallbackProviderError(t *testing.T) {
	t.Parallel()
	t.Run("denied on the provider", func(t *testing.T) {
		t.Parallel()
		l := startPKCELogin(t, nil)
		if _, _, err := idptest.DenyLogin(context.Background(), l.authURL); err != nil {
			t.Fatal(err)
		}
		if r := l.wait(t); !errors.Is(r.err, ErrLoginFailed) || !strings.Contains(r.err.Error(), "access_denied") {
			t.Errorf("denied login: %v, want ErrLoginFailed with access_denied", r.err)
		}
	})
	t.Run("control characters", func(t *testing.T) {
		t.Parallel()
		l := startPKCELogin(t, nil)
		desc := "\x1b]0;pwned\x07\r\nfake line" + strings.Repeat("\x1b[2Jx", 500)
		resp, err := http.Get(l.callbackURL(url.Values{"state": {l.state}, "error": {"access_denied\r\n\x1b[31m"}, "error_description": {desc}}))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := l.wait(t)
		if !errors.Is(r.err, ErrLoginFailed) {
			t.Fatalf("login: %v, want ErrLoginFailed", r.err)
		}
		var pe *ProviderError
		if !errors.As(r.err, &pe) || len(pe.Description) > 256 || len(pe.Code) > 256 {
			t.Errorf("provider text not capped: code %.100q, description %.300q", pe.Code, pe.Description)
		}
		msg := r.err.Error()
		if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) || !strings.Contains(msg, "fake line") {
			t.Errorf("error text: %q", msg)
		}
		if strings.ContainsAny(string(page), "\x1b\x07\r") || !strings.Contains(string(page), "fake line") {
			t.Errorf("failure page: %q", page)
		}
	})
}

// TestCallbackRefusesOtherUsers has a process of another uid send the
// callback with the login's very state: its connection is closed unread,
// and the user's own browser still completes the login.
func TestCallbackRefusesOtherUsers(t *testing.T) {
	t.Parallel()
	l := startPKCELogin(t, nil)
	u, err := url.Parse(l.callbackURL(url.Values{"state": {l.state}, "code": {"forged"}}))
	if err != nil {
		t.Fatal(err)
	}
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n\r\n"
	out, closed := otheruser.Dial(t, "tcp", "127.0.0.1:"+u.Port(), []byte(req)).Received(t)
	if len(out) != 0 {
		t.Errorf("the callback answered another user: %q", out)
	}
	if !closed {
		t.Error("the callback held another user's connection open")
	}
	l.stillRunning(t)
	if tok := l.complete(t); tok.Account != "alice@example.com" {
		t.Errorf("account %q", tok.Account)
	}
}

// TestPageTemplateIsNotAFIFO: a failure_html that names a FIFO is refused at
// once instead of blocking the login on a read that never ends.
func TestPageTemplateIsNotAFIFO(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "failure.html")
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	idp := idptest.New(t, idptest.Options{})
	c, err := New(&config.Profile{Name: "work", Issuer: idp.Issuer(), ClientID: idptest.PublicClientID,
		Scopes: config.DefaultScopes(), Timeout: 5 * time.Second, FailureHTML: fifo})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.PKCELogin(ctx, func(string, string) { t.Error("the login started with an unreadable page") })
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, regularfile.ErrNotRegular) || !strings.Contains(err.Error(), "failure_html") {
			t.Errorf("login with a FIFO page: %v, want ErrNotRegular", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the login blocks on a FIFO page")
		// Unblock the reader so the test can end.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
	}
}

const (
	fuzzState = "fixed-state_0123456789"
	fuzzHost  = "127.0.0.1:49152"
	fuzzPath  = "/callback"
)

// FuzzCallback feeds the callback handler arbitrary queries, Host headers
// and paths. It must never panic, and only a GET of the redirect path with
// the login's Host and exact state may end the login, once.
func FuzzCallback(f *testing.F) {
	f.Add("state="+fuzzState+"&code=abc", fuzzHost, fuzzPath)
	f.Add("state=wrong&code=abc", fuzzHost, fuzzPath)
	f.Add("state="+fuzzState+"&error=access_denied&error_description=%1B%5D0%3Bpwned%07%0D%0Afake", fuzzHost, fuzzPath)
	f.Add("state="+fuzzState+"&state="+fuzzState+"&code=abc", fuzzHost, fuzzPath)
	f.Add("state="+fuzzState+"&code=abc", "localhost:49152", fuzzPath)
	f.Add("state="+fuzzState, fuzzHost, "/{")
	f.Fuzz(func(t *testing.T, rawQuery, host, path string) {
		cb := &callback{
			state: fuzzState, host: fuzzHost, path: fuzzPath,
			redeem: func(_ context.Context, code string) (*Token, error) {
				if code == "bad" {
					return nil, ErrInvalidGrant
				}
				return &Token{AccessToken: "at", Account: "alice"}, nil
			},
			profile: "work",
			success: defaultPages.Lookup("success.html"),
			failure: defaultPages.Lookup("failure.html"),
			result:  make(chan callbackResult, 1),
		}
		r := fuzzRequest(host, path, rawQuery)
		wantEnd := r.Method == http.MethodGet && r.URL.Path == fuzzPath && r.Host == fuzzHost &&
			len(r.URL.Query()["state"]) == 1 && r.URL.Query().Get("state") == fuzzState
		for i := range 2 {
			w := httptest.NewRecorder()
			cb.ServeHTTP(w, r)
			ended := false
			select {
			case res := <-cb.result:
				ended = true
				if res.err != nil && !errors.Is(res.err, ErrLoginFailed) && !errors.Is(res.err, ErrInvalidGrant) {
					t.Errorf("login ended with %v", res.err)
				}
			default:
			}
			if ended != (wantEnd && i == 0) {
				t.Fatalf("request %d (%s %q Host %q): ended the login = %v", i, r.Method, r.URL, r.Host, ended)
			}
			if !ended && w.Code == http.StatusOK {
				t.Errorf("an ignored request got 200")
			}
			if strings.ContainsFunc(w.Body.String(), func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f }) {
				t.Errorf("control characters on the page: %q", w.Body.String())
			}
		}
	})
}

// fuzzRequest parses the request as the server would; when the bytes are no
// valid request, the handler still gets the raw values.
func fuzzRequest(host, path, rawQuery string) *http.Request {
	raw := "GET " + path + "?" + rawQuery + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	if r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw))); err == nil {
		return r
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.URL = &url.URL{Path: path, RawQuery: rawQuery}
	r.Host = host
	return r
}

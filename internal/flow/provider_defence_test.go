package flow

// Tests of what authd does when the provider misbehaves, on purpose or not:
// each serves a hand-written hostile provider from an httptest.Server
// (zitadel's provider cannot be made to misbehave this way).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/regularfile"
)

// hostile is a provider on http://127.0.0.1 whose every endpoint is a
// handler the test may replace. The discovery document lists its own
// endpoints, with fields overridable through doc.
type hostile struct {
	srv  *httptest.Server
	doc  map[string]any // overrides of discovery document fields; nil deletes
	mux  map[string]http.HandlerFunc
	hits atomic.Int64
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	h := &hostile{doc: map[string]any{}, mux: map[string]http.HandlerFunc{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		if f, ok := h.mux[r.Method+" "+r.URL.Path]; ok {
			f(w, r)
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			writeJSON(w, http.StatusOK, h.discovery())
		case "/token":
			writeJSON(w, http.StatusOK, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600})
		case "/device":
			writeJSON(w, http.StatusOK, map[string]any{"device_code": "dc", "user_code": "ABCD-EFGH",
				"verification_uri": h.srv.URL + "/activate", "interval": 1, "expires_in": 600})
		case "/revoke":
			w.WriteHeader(http.StatusOK)
		case "/jwks":
			writeJSON(w, http.StatusOK, map[string]any{"keys": []any{}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostile) discovery() map[string]any {
	u := h.srv.URL
	doc := map[string]any{
		"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
		"device_authorization_endpoint": u + "/device", "revocation_endpoint": u + "/revoke",
		"jwks_uri": u + "/jwks", "response_types_supported": []string{"code"},
		"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
	}
	for k, v := range h.doc {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	return doc
}

func (h *hostile) handle(pattern string, f http.HandlerFunc) { h.mux[pattern] = f }

func (h *hostile) client(t *testing.T, mod ...func(*config.Profile)) *Client {
	t.Helper()
	p := &config.Profile{Name: "hostile", Issuer: h.srv.URL, ClientID: "cli", Scopes: []string{"openid"},
		RedirectPath: "/callback", Timeout: 5 * time.Second, TokenLifetime: config.DefaultTokenLifetime}
	for _, m := range mod {
		m(p)
	}
	c, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func redirectTo(status int, location string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, location, status)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// exchangeCode runs PKCELogin and plays the browser: it comes back to the
// loopback callback with the login's state and a code, so that the code is
// exchanged at the provider's token endpoint.
func exchangeCode(t *testing.T, c *Client) (*Token, error) {
	t.Helper()
	ctx := testCtx(t)
	return c.PKCELogin(ctx, func(authURL, redirectURI string) {
		go func() {
			u, err := url.Parse(authURL)
			if err != nil {
				t.Error(err)
				return
			}
			cb := redirectURI + "?" + url.Values{"state": {u.Query().Get("state")}, "code": {"the-code"}}.Encode()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cb, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	})
}

// assertClean fails when an error's text could disturb a terminal or a log.
func assertClean(t *testing.T, err error, maxLen int) {
	t.Helper()
	msg := err.Error()
	if len(msg) > maxLen {
		t.Errorf("error is %d bytes long, want at most %d: %.200q…", len(msg), maxLen, msg)
	}
	for _, r := range msg {
		if isControl(r) {
			t.Errorf("error contains control character %U: %.300q", r, msg)
			break
		}
	}
}

func TestRedirectsOfSecretsAreNotFollowed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		endpoint string // the path that redirects
		status   int
		run      func(*Client) error
	}{
		{"refresh 307", "POST /token", http.StatusTemporaryRedirect, func(c *Client) error {
			_, err := c.Refresh(context.Background(), RefreshRequest{RefreshToken: "the-refresh-token"})
			return err
		}},
		{"refresh 308", "POST /token", http.StatusPermanentRedirect, func(c *Client) error {
			_, err := c.Refresh(context.Background(), RefreshRequest{RefreshToken: "the-refresh-token"})
			return err
		}},
		{"refresh 302", "POST /token", http.StatusFound, func(c *Client) error {
			_, err := c.Refresh(context.Background(), RefreshRequest{RefreshToken: "the-refresh-token"})
			return err
		}},
		{"client credentials", "POST /token", http.StatusTemporaryRedirect, func(c *Client) error {
			_, err := c.ClientCredentials(context.Background(), "the-secret")
			return err
		}},
		{"revocation", "POST /revoke", http.StatusTemporaryRedirect, func(c *Client) error {
			_, err := c.Revoke(context.Background(), "the-refresh-token", "refresh_token")
			return err
		}},
		{"device authorization", "POST /device", http.StatusTemporaryRedirect, func(c *Client) error {
			_, err := c.DeviceLogin(context.Background(), func(DeviceCode) {})
			return err
		}},
		{"device polling", "POST /token", http.StatusTemporaryRedirect, func(c *Client) error {
			_, err := c.DeviceLogin(context.Background(), func(DeviceCode) {})
			return err
		}},
		{"code exchange", "POST /token", http.StatusTemporaryRedirect, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sink := newHostile(t)
			h := newHostile(t)
			target := sink.srv.URL + "/steal"
			h.handle(tt.endpoint, redirectTo(tt.status, target))
			c := h.client(t)
			var err error
			if tt.run == nil {
				_, err = exchangeCode(t, c)
			} else {
				err = tt.run(c)
			}
			if err == nil {
				t.Fatal("the redirect was followed, or ignored")
			}
			if n := sink.hits.Load(); n != 0 {
				t.Errorf("the redirect target received %d requests", n)
			}
			var re *RedirectError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), target) {
				t.Errorf("error does not report the redirect to %s: %v", target, err)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("a refused redirect is not an outage to retry: %v", err)
			}
		})
	}
}

func TestSameOriginRedirectsOnly(t *testing.T) {
	t.Parallel()
	t.Run("discovery same origin", func(t *testing.T) {
		t.Parallel()
		h := newHostile(t)
		h.handle("GET /.well-known/openid-configuration", redirectTo(http.StatusFound, "/moved/openid-configuration"))
		h.handle("GET /moved/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, h.discovery())
		})
		if _, err := h.client(t).Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"}); err != nil {
			t.Fatalf("same-origin redirect of discovery: %v", err)
		}
	})
	t.Run("discovery another origin", func(t *testing.T) {
		t.Parallel()
		other := newHostile(t)
		h := newHostile(t)
		target := other.srv.URL + "/.well-known/openid-configuration"
		h.handle("GET /.well-known/openid-configuration", redirectTo(http.StatusFound, target))
		_, err := h.client(t).Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"})
		if err == nil || !strings.Contains(err.Error(), target) {
			t.Fatalf("cross-origin redirect of discovery: %v, want an error naming %s", err, target)
		}
		if n := other.hits.Load(); n != 0 {
			t.Errorf("the other origin received %d requests", n)
		}
	})
	t.Run("discovery redirect loop", func(t *testing.T) {
		t.Parallel()
		h := newHostile(t)
		h.handle("GET /.well-known/openid-configuration", redirectTo(http.StatusFound, "/.well-known/openid-configuration"))
		if _, err := h.client(t).Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"}); err == nil {
			t.Fatal("a redirect loop was followed to the end")
		} else if n := h.hits.Load(); n > maxRedirects+1 {
			t.Errorf("%d requests for a redirect loop, want at most %d", n, maxRedirects+1)
		}
	})
	t.Run("port differs", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			a, b string
			same bool
		}{
			{"https://idp.example.com/a", "https://IDP.example.com:443/b", true},
			{"http://127.0.0.1/a", "http://127.0.0.1:80/b", true},
			{"https://idp.example.com/a", "http://idp.example.com/a", false},
			{"https://idp.example.com/a", "https://idp.example.com:8443/a", false},
			{"https://idp.example.com/a", "https://evil.example.com/a", false},
		} {
			a, _ := url.Parse(tt.a)
			b, _ := url.Parse(tt.b)
			if (origin(a) == origin(b)) != tt.same {
				t.Errorf("origin(%s) == origin(%s): %v, want %v", tt.a, tt.b, !tt.same, tt.same)
			}
		}
	})
}

func TestDiscoveredEndpointsAreChecked(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		field, value string
	}{
		{"token_endpoint", "http://idp.example.com/token"},
		{"token_endpoint", "https://user:pass@idp.example.com/token"},
		{"token_endpoint", "https://idp.example.com/\u202etoken"},
		{"authorization_endpoint", "file:///etc/passwd"},
		{"authorization_endpoint", "javascript:alert(1)"},
		{"authorization_endpoint", "https://idp.example.com/authorize#frag"},
		{"device_authorization_endpoint", "http://idp.example.com/device"},
		{"revocation_endpoint", "ftp://idp.example.com/revoke"},
		{"jwks_uri", "http://idp.example.com/jwks"},
	} {
		t.Run(tt.field+" "+tt.value, func(t *testing.T) {
			t.Parallel()
			h := newHostile(t)
			h.doc[tt.field] = tt.value
			_, err := h.client(t).Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"})
			if err == nil || !strings.Contains(err.Error(), "discovery: "+tt.field) {
				t.Fatalf("discovered %s %q: %v, want a discovery error naming the field", tt.field, tt.value, err)
			}
			assertClean(t, err, 1024)
		})
	}
	t.Run("configured endpoint wins", func(t *testing.T) {
		t.Parallel()
		h := newHostile(t)
		h.doc["token_endpoint"] = "http://idp.example.com/token"
		c := h.client(t, func(p *config.Profile) { p.TokenEndpoint = h.srv.URL + "/token" })
		if _, err := c.Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"}); err != nil {
			t.Fatalf("a discovered endpoint the profile overrides failed discovery: %v", err)
		}
	})
}

func TestIssuerMustMatch(t *testing.T) {
	t.Parallel()
	for _, issuer := range []string{"https://evil.example.com", "{self}/", "{self}/other"} {
		t.Run(issuer, func(t *testing.T) {
			t.Parallel()
			h := newHostile(t)
			h.doc["issuer"] = strings.ReplaceAll(issuer, "{self}", h.srv.URL)
			var tokenRequests atomic.Int64
			h.handle("POST /token", func(w http.ResponseWriter, _ *http.Request) {
				tokenRequests.Add(1)
				writeJSON(w, http.StatusOK, map[string]any{"access_token": "at", "expires_in": 60})
			})
			if _, err := h.client(t).Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"}); err == nil {
				t.Fatal("discovery accepted another issuer")
			}
			if tokenRequests.Load() != 0 {
				t.Error("the refresh token was sent after an issuer mismatch")
			}
		})
	}
}

func TestDeviceAuthorizationIsChecked(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		mod  func(r map[string]any, self string)
	}{
		{"javascript verification_uri", func(r map[string]any, _ string) { r["verification_uri"] = "javascript:alert(1)" }},
		{"plain http verification_uri", func(r map[string]any, _ string) { r["verification_uri"] = "http://evil.example.com/activate" }},
		{"missing verification_uri", func(r map[string]any, _ string) { delete(r, "verification_uri") }},
		{"file verification_uri_complete", func(r map[string]any, _ string) { r["verification_uri_complete"] = "file:///etc/passwd" }},
		{"bidi in verification_uri_complete", func(r map[string]any, s string) { r["verification_uri_complete"] = s + "/activate?\u202ecode" }},
		{"escape in user_code", func(r map[string]any, _ string) { r["user_code"] = "\x1b]0;pwned\x07ABCD" }},
		{"bidi in user_code", func(r map[string]any, _ string) { r["user_code"] = "ABCD\u202eEFGH" }},
		{"long user_code", func(r map[string]any, _ string) { r["user_code"] = strings.Repeat("A", 65) }},
		{"empty user_code", func(r map[string]any, _ string) { r["user_code"] = "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHostile(t)
			h.handle("POST /device", func(w http.ResponseWriter, _ *http.Request) {
				r := map[string]any{"device_code": "dc", "user_code": "ABCD-EFGH",
					"verification_uri": h.srv.URL + "/activate", "interval": 1, "expires_in": 600}
				tt.mod(r, h.srv.URL)
				writeJSON(w, http.StatusOK, r)
			})
			shown := false
			_, err := h.client(t).DeviceLogin(testCtx(t), func(DeviceCode) { shown = true })
			if err == nil || !strings.Contains(err.Error(), "device authorization") {
				t.Fatalf("DeviceLogin: %v, want a device authorization error", err)
			}
			if shown {
				t.Error("the code was shown to the user")
			}
			assertClean(t, err, 1024)
		})
	}
}

func TestDeviceAuthorizationBounds(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, tt := range []struct {
		name         string
		interval     int64
		expiry       time.Time
		wantInterval int64
		wantExpiry   time.Time
	}{
		{"as given", 7, now.Add(10 * time.Minute), 7, now.Add(10 * time.Minute)},
		{"negative interval: the default", -1, now.Add(10 * time.Minute), 0, now.Add(10 * time.Minute)},
		{"overflowing interval", 1 << 40, now.Add(10 * time.Minute), maxPollInterval, now.Add(10 * time.Minute)},
		{"no expiry", 5, time.Time{}, 5, now.Add(defaultDeviceCodeLife)},
		{"expiry in the past (negative or overflowed expires_in)", 5, now.Add(-time.Hour), 5, now.Add(defaultDeviceCodeLife)},
		{"expiry far away", 5, now.Add(100 * 365 * 24 * time.Hour), 5, now.Add(maxDeviceCodeLife)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			da := &oauth2.DeviceAuthResponse{DeviceCode: "dc", UserCode: "ABCD", VerificationURI: "https://idp.example.com/activate",
				Interval: tt.interval, Expiry: tt.expiry}
			if err := checkDeviceAuth(da, now); err != nil {
				t.Fatal(err)
			}
			if da.Interval != tt.wantInterval || !da.Expiry.Equal(tt.wantExpiry) {
				t.Errorf("interval %d, expiry %v; want %d, %v", da.Interval, da.Expiry.Sub(now), tt.wantInterval, tt.wantExpiry.Sub(now))
			}
		})
	}
	// End to end: x/oauth2 turns a negative interval into a ticker period,
	// and time.NewTicker panics on it.
	t.Run("negative interval polls", func(t *testing.T) {
		t.Parallel()
		h := newHostile(t)
		h.handle("POST /device", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"device_code": "dc", "user_code": "ABCD",
				"verification_uri": h.srv.URL + "/activate", "interval": -1, "expires_in": 600})
		})
		if _, err := h.client(t).DeviceLogin(testCtx(t), func(DeviceCode) {}); err != nil {
			t.Fatal(err)
		}
	})
}

// jwtWithExp is an unsigned JWT whose only claim is exp.
func jwtWithExp(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%d}`, exp.Unix()))) + ".sig"
}

func TestSecondsParser(t *testing.T) {
	t.Parallel()
	year := maxTokenLifetime
	for _, tt := range []struct {
		in   any
		want time.Duration
		ok   bool
	}{
		{float64(3600), time.Hour, true},
		{3599.5, 3599 * time.Second, true},
		{0.2, time.Second, true},
		{1e18, year, true},
		{1e300, year, true},
		{float64(year/time.Second) + 1, year, true},
		{float64(0), 0, false},
		{float64(-5), 0, false},
		{json.Number("3600"), time.Hour, true},
		{json.Number("1e18"), year, true},
		{json.Number("1e999"), year, true},
		{json.Number("1e-999"), 0, false},
		{json.Number("-5"), 0, false},
		{"3600", time.Hour, true},
		{" 3600 ", time.Hour, true},
		{"3599.9", 3599 * time.Second, true},
		{"abc", 0, false},
		{"", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"+Inf", 0, false},
		{"0x10", 0, false},
		{"1_000", 0, false},
		{"-0", 0, false},
		{nil, 0, false},
		{true, 0, false},
		{map[string]any{}, 0, false},
		{3600, time.Hour, true},
		{int64(-1), 0, false},
	} {
		got, ok := seconds(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("seconds(%#v) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestExpiresIn(t *testing.T) {
	t.Parallel()
	inTwoHours := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	const lifetime = 7 * time.Minute
	for _, tt := range []struct {
		name        string
		expiresIn   any // nil: absent
		accessToken string
		want        time.Duration // from now
	}{
		{"overflowing 1e18", 1e18, "at", maxTokenLifetime},
		{"overflowing integer", json.Number("1000000000000000000"), "at", maxTokenLifetime},
		{"negative", -5, "at", lifetime},
		{"zero", 0, "at", lifetime},
		{"fractional", 3599.5, "at", 3599 * time.Second},
		{"string", "3600", "at", time.Hour},
		{"not a number", "abc", "at", lifetime},
		{"null", json.RawMessage("null"), "at", lifetime},
		{"absent, opaque token", nil, "at", lifetime},
		{"absent, JWT token", nil, jwtWithExp(inTwoHours), time.Until(inTwoHours)},
		// A JWT's exp is a known end that expires_in cannot extend.
		{"absent, expired JWT token", nil, jwtWithExp(time.Now().Add(-time.Hour)), -time.Hour},
		{"1e18, JWT token ending sooner", 1e18, jwtWithExp(time.Now().Add(3 * time.Second)), 3 * time.Second},
		{"3600, JWT token ending sooner", 3600, jwtWithExp(time.Now().Add(time.Minute)), time.Minute},
		{"negative, JWT token", -5, jwtWithExp(inTwoHours), time.Until(inTwoHours)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHostile(t)
			h.handle("POST /token", func(w http.ResponseWriter, _ *http.Request) {
				r := map[string]any{"access_token": tt.accessToken, "token_type": "Bearer", "refresh_in": 1e18}
				if tt.expiresIn != nil {
					r["expires_in"] = tt.expiresIn
				}
				writeJSON(w, http.StatusOK, r)
			})
			c := h.client(t, func(p *config.Profile) { p.TokenLifetime = lifetime })
			start := time.Now()
			tok, err := c.Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"})
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Expiry.Sub(start); got < tt.want-5*time.Second || got > tt.want+5*time.Second {
				t.Errorf("expiry in %v, want %v", got, tt.want)
			}
			if left := time.Until(tok.Expiry); left > 0 && (tok.RefreshIn <= 0 || tok.RefreshIn > left+time.Second) || left <= 0 && tok.RefreshIn != 0 {
				t.Errorf("refresh_in 1e18 gave %v, want at most the lifetime %v", tok.RefreshIn, time.Until(tok.Expiry))
			}
		})
	}
}

// TestEveryFlowBoundsExpiry checks that the expiry rule is the one of every
// flow, x/oauth2's included: a token without expires_in is not served forever.
func TestEveryFlowBoundsExpiry(t *testing.T) {
	t.Parallel()
	const lifetime = 3 * time.Minute
	for _, tt := range []struct {
		name string
		run  func(*testing.T, *Client) (*Token, error)
	}{
		{"refresh", func(t *testing.T, c *Client) (*Token, error) {
			return c.Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"})
		}},
		{"client credentials", func(t *testing.T, c *Client) (*Token, error) { return c.ClientCredentials(testCtx(t), "s") }},
		{"device", func(t *testing.T, c *Client) (*Token, error) { return c.DeviceLogin(testCtx(t), func(DeviceCode) {}) }},
		{"code exchange", exchangeCode},
	} {
		for _, expiresIn := range []any{nil, -5, 1e18} {
			t.Run(fmt.Sprintf("%s expires_in %v", tt.name, expiresIn), func(t *testing.T) {
				t.Parallel()
				h := newHostile(t)
				h.handle("POST /token", func(w http.ResponseWriter, _ *http.Request) {
					r := map[string]any{"access_token": "at", "token_type": "Bearer"}
					if expiresIn != nil {
						r["expires_in"] = expiresIn
					}
					writeJSON(w, http.StatusOK, r)
				})
				c := h.client(t, func(p *config.Profile) { p.TokenLifetime = lifetime })
				tok, err := tt.run(t, c)
				if err != nil {
					t.Fatal(err)
				}
				left := time.Until(tok.Expiry)
				if left <= 0 || left > maxTokenLifetime {
					t.Errorf("expiry %v from now, want a bounded future", left)
				}
				if _, overflow := expiresIn.(float64); !overflow && (left < lifetime-5*time.Second || left > lifetime) {
					t.Errorf("expiry %v from now, want the profile's token_lifetime %v", left, lifetime)
				}
			})
		}
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"invalid_grant", 64, "invalid_grant"},
		{"", 10, ""},
		{"a\x1b[31mred\x1b[0m", 0, "a [31mred [0m"},
		{"line\r\nbreak\ttab\x00nul\x7fdel", 0, "line  break tab nul del"},
		{"c1\u0085\u009bx", 0, "c1  x"},
		{"bidi \u202eevil\u202c \u2066iso\u2069 \u200fmark", 0, "bidi  evil   iso   mark"},
		{"sep\u2028x", 0, "sep x"},
		{"bad \xff utf8", 0, "bad \uFFFD utf8"},
		{"héllo wörld", 0, "héllo wörld"},
		{"日本語のテキスト", 0, "日本語のテキスト"},
		{"abcdefghij", 10, "abcdefghij"},
		{"abcdefghijk", 10, "abcdefg…"},
		{"ééééé", 8, "éé…"}, // 2-byte runes: cut at a rune boundary
		{"ab€cd", 6, "ab…"}, // € is 3 bytes: it does not fit beside the ellipsis
		{"abcdef", 2, "ab"}, // too short for an ellipsis
		{"abc", -1, "abc"},  // no cap
	} {
		got := CleanText(tt.in, tt.max)
		if got != tt.want {
			t.Errorf("CleanText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
		if tt.max > 0 && len(got) > tt.max {
			t.Errorf("CleanText(%q, %d) is %d bytes", tt.in, tt.max, len(got))
		}
		if !utf8.ValidString(got) {
			t.Errorf("CleanText(%q, %d) = %q is not UTF-8", tt.in, tt.max, got)
		}
		if again := CleanText(got, tt.max); again != got {
			t.Errorf("CleanText is not idempotent: %q then %q", got, again)
		}
	}
}

func TestProviderTextIsCleaned(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("\x1b[2J\u202eAAAA", 900<<10/16) // about 900 KB of JSON
	t.Run("token error", func(t *testing.T) {
		t.Parallel()
		h := newHostile(t)
		h.handle("POST /token", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant\x1b[31m" + strings.Repeat("x", 100), "error_description": huge})
		})
		_, err := h.client(t).Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"})
		var pe *ProviderError
		if !errors.As(err, &pe) {
			t.Fatalf("%v is no ProviderError", err)
		}
		if len(pe.Code) > maxCodeLen || len(pe.Description) > maxDescriptionLen || !strings.HasSuffix(pe.Description, "…") {
			t.Errorf("code %d bytes, description %d bytes (%.100q): not capped", len(pe.Code), len(pe.Description), pe.Description)
		}
		if pe.Code != CleanText(pe.Code, 0) || pe.Description != CleanText(pe.Description, 0) {
			t.Errorf("raw text kept: %q %q", pe.Code, pe.Description)
		}
		assertClean(t, err, 512)
	})
	t.Run("device authorization error (x/oauth2)", func(t *testing.T) {
		t.Parallel()
		h := newHostile(t)
		h.handle("POST /device", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "\u202einvalid_client", "error_description": huge})
		})
		_, err := h.client(t).DeviceLogin(testCtx(t), func(DeviceCode) {})
		var pe *ProviderError
		if !errors.As(err, &pe) || len(pe.Description) > maxDescriptionLen || strings.ContainsRune(pe.Code, '\u202e') {
			t.Fatalf("device authorization error not cleaned: %.300q", err)
		}
		assertClean(t, err, 512)
	})
	t.Run("discovery error body", func(t *testing.T) {
		t.Parallel()
		h := newHostile(t)
		h.handle("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(huge[:500<<10]))
		})
		_, err := h.client(t).Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"})
		if err == nil {
			t.Fatal("discovery succeeded")
		}
		assertClean(t, err, 1024)
	})
	t.Run("redirect location", func(t *testing.T) {
		t.Parallel()
		h := newHostile(t)
		h.handle("POST /token", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Location", "https://evil.example.com/\u202e"+strings.Repeat("a", 10000))
			w.WriteHeader(http.StatusTemporaryRedirect)
		})
		_, err := h.client(t).Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"})
		if err == nil || !strings.Contains(err.Error(), "evil.example.com") {
			t.Fatalf("refresh: %v, want the redirect refused", err)
		}
		assertClean(t, err, 1024)
	})
	t.Run("not JSON", func(t *testing.T) {
		t.Parallel()
		h := newHostile(t)
		h.handle("POST /token", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`{"access_token": 1` + strings.Repeat("0", 100000) + "}"))
		})
		_, err := h.client(t).Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"})
		if err == nil {
			t.Fatal("refresh accepted a number as the access token")
		}
		assertClean(t, err, 1024)
	})
}

func TestResponseSizeIsCapped(t *testing.T) {
	t.Parallel()
	h := newHostile(t)
	h.handle("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		doc := h.discovery()
		doc["padding"] = strings.Repeat("x", 2<<20)
		writeJSON(w, http.StatusOK, doc)
	})
	_, err := h.client(t).Refresh(testCtx(t), RefreshRequest{RefreshToken: "rt"})
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("a 2 MiB discovery document: %v, want a size error", err)
	}
}

func TestCAFileIsNotAFIFO(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "ca.pem")
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := New(&config.Profile{Name: "p", Issuer: "https://idp.example.com", ClientID: "c", CAFile: fifo})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, regularfile.ErrNotRegular) {
			t.Errorf("ca_file on a FIFO: %v, want ErrNotRegular", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("New blocked reading a FIFO as ca_file")
	}
}

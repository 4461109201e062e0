package flow_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/flow"
	"authd.dev/authd/internal/idptest"
)

func profile(idp *idptest.Provider) *config.Profile {
	return &config.Profile{
		Name: "work", Issuer: idp.Issuer(), ClientID: idptest.PublicClientID,
		Scopes: config.DefaultScopes(), RedirectPath: "/callback", Timeout: 5 * time.Second,
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// login runs PKCELogin, completing the provider's form over plain HTTP.
func login(t *testing.T, c *flow.Client) (*flow.Token, string, error) {
	t.Helper()
	ctx := ctxFor(t)
	page := make(chan string, 1)
	tok, err := c.PKCELogin(ctx, func(authURL, _ string) {
		go func() {
			_, body, err := idptest.CompleteLogin(ctx, authURL, "alice", "alice-password")
			if err != nil {
				t.Error(err)
			}
			page <- body
		}()
	})
	select {
	case body := <-page:
		return tok, body, err
	case <-ctx.Done():
		return tok, "", err
	}
}

func TestAuthParamsAndCustomPages(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t, idptest.Options{})
	p := profile(idp)
	p.Audience = "api://kube"
	p.ExtraAuthParams = map[string]string{"resource": "urn:kube"}
	p.AuthParamsInTokenRequest = true
	p.SuccessHTML = filepath.Join(t.TempDir(), "ok.html")
	if err := os.WriteFile(p.SuccessHTML, []byte(`<p id="result">Welcome {{.Account}} to {{.Profile}}</p>`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := flow.New(p)
	if err != nil {
		t.Fatal(err)
	}
	tok, page, err := login(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.IDToken == "" || tok.Account != "alice@example.com" {
		t.Errorf("token %+v", tok)
	}
	if !strings.Contains(page, "Welcome alice@example.com to work") {
		t.Errorf("custom success page not used: %q", page)
	}
	var exchange map[string][]string
	for _, r := range idp.TokenRequests() {
		if r.Get("grant_type") == "authorization_code" {
			exchange = r
		}
	}
	if exchange == nil {
		t.Fatal("no code exchange seen")
	}
	for k, want := range map[string]string{"audience": "api://kube", "resource": "urn:kube", "client_id": idptest.PublicClientID} {
		if got := exchange[k]; len(got) != 1 || got[0] != want {
			t.Errorf("token request %s = %q, want %q", k, got, want)
		}
	}
	if len(exchange["code_verifier"]) != 1 || len(exchange["code_verifier"][0]) < 43 {
		t.Errorf("no PKCE verifier in the exchange: %v", exchange["code_verifier"])
	}

	// A rotated refresh token comes back; the old one is dead.
	fresh, err := c.Refresh(ctxFor(t), flow.RefreshRequest{RefreshToken: tok.RefreshToken})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
		t.Error("refresh returned the old tokens")
	}
	_, err = c.Refresh(ctxFor(t), flow.RefreshRequest{RefreshToken: tok.RefreshToken})
	if !errors.Is(err, flow.ErrInvalidGrant) {
		t.Errorf("reused refresh token: %v, want ErrInvalidGrant", err)
	}
}

func TestLoginTimesOut(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t, idptest.Options{})
	c, err := flow.New(profile(idp))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.PKCELogin(ctx, func(string, string) {})
	if !errors.Is(err, flow.ErrLoginFailed) {
		t.Errorf("abandoned login: %v, want ErrLoginFailed", err)
	}
}

// tlsProvider is a provider on TLS whose token endpoint always answers
// status with body.
func tlsProvider(t *testing.T, status int, body string, header http.Header) *httptest.Server {
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize", "token_endpoint": srv.URL + "/token",
			"jwks_uri": srv.URL + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	})
	srv = httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestCAFileAndTLS(t *testing.T) {
	t.Parallel()
	srv := tlsProvider(t, http.StatusBadRequest, `{"error":"invalid_grant","error_description":"revoked"}`, nil)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	base := &config.Profile{Name: "tls", Issuer: srv.URL, ClientID: "c", Timeout: 5 * time.Second}
	for _, tt := range []struct {
		name    string
		mod     func(*config.Profile)
		trusted bool
	}{
		{"untrusted", func(*config.Profile) {}, false},
		{"ca_file", func(p *config.Profile) { p.CAFile = caFile }, true},
		{"insecure_skip_verify", func(p *config.Profile) { p.InsecureSkipVerify = true }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := *base
			tt.mod(&p)
			c, err := flow.New(&p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Refresh(ctxFor(t), flow.RefreshRequest{RefreshToken: "rt"})
			if tt.trusted != errors.Is(err, flow.ErrInvalidGrant) {
				t.Errorf("refresh: %v (trusted=%v)", err, tt.trusted)
			}
			if !tt.trusted && !strings.Contains(err.Error(), "certificate") {
				t.Errorf("untrusted server error does not say why: %v", err)
			}
		})
	}
}

func TestProviderErrorsAreClassified(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		status     int
		body       string
		header     http.Header
		want       error
		retryAfter time.Duration
	}{
		{"invalid_grant", 400, `{"error":"invalid_grant"}`, nil, flow.ErrInvalidGrant, 0},
		{"503", 503, `<html>down</html>`, nil, flow.ErrUnavailable, 0},
		{"429 with Retry-After", 429, `{"error":"slow_down"}`, http.Header{"Retry-After": {"7"}}, flow.ErrUnavailable, 7 * time.Second},
		{"temporarily_unavailable", 400, `{"error":"temporarily_unavailable"}`, nil, flow.ErrUnavailable, 0},
		{"invalid_client", 401, `{"error":"invalid_client"}`, nil, nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := tlsProvider(t, tt.status, tt.body, tt.header)
			c, err := flow.New(&config.Profile{Name: "p", Issuer: srv.URL, ClientID: "c", InsecureSkipVerify: true, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Refresh(ctxFor(t), flow.RefreshRequest{RefreshToken: "rt"})
			var pe *flow.ProviderError
			if !errors.As(err, &pe) || pe.StatusCode != tt.status {
				t.Fatalf("error %v is not a ProviderError with status %d", err, tt.status)
			}
			for _, sentinel := range []error{flow.ErrInvalidGrant, flow.ErrUnavailable} {
				if errors.Is(err, sentinel) != (sentinel == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, sentinel, !(sentinel == tt.want))
				}
			}
			if pe.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter %v, want %v", pe.RetryAfter, tt.retryAfter)
			}
		})
	}
}

func TestUnreachableProvider(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := flow.New(&config.Profile{Name: "p", Issuer: url, ClientID: "c", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctxFor(t), flow.RefreshRequest{RefreshToken: "rt"}); !errors.Is(err, flow.ErrUnavailable) {
		t.Errorf("closed port: %v, want ErrUnavailable", err)
	}
}

package flow

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/jwt"
)

// The fuzz targets serve provider answers from a RoundTripper rather than a
// server: no sockets, thousands of executions a second. The RoundTripper
// sits under the client's own body cap and redirect policy, as the real
// transport does.

// canned answers every request from a function of its method and path.
type canned func(r *http.Request) (status int, contentType string, body []byte)

func (f canned) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	status, ct, body := f(r)
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h, Request: r,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), ProtoMajor: 1, ProtoMinor: 1}, nil
}

func fuzzClient(t *testing.T, p *config.Profile, rt canned) *Client {
	p.Name, p.ClientID, p.Timeout = "fuzz", "cli", 5*time.Second
	c, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	c.http.Transport = cappedTransport{rt}
	return c
}

// checkToken holds the promises every flow makes about a token it returns.
func checkToken(t *testing.T, start time.Time, tok *Token) {
	t.Helper()
	if tok.AccessToken == "" {
		t.Fatal("accepted a token without access_token")
	}
	if tok.Expiry.IsZero() || tok.Expiry.After(time.Now().Add(maxTokenLifetime)) {
		t.Fatalf("expiry %v from now is not bounded", time.Until(tok.Expiry))
	}
	// Only a JWT's own exp may put the expiry in the past: the token is
	// then known to be expired, and is never served.
	if c, ok := jwt.ReadClaims(tok.AccessToken); !tok.Expiry.After(start) && (!ok || !c.Expiry.Equal(tok.Expiry)) {
		t.Fatalf("expiry %v from now is in the past, and not the access token's exp", time.Until(tok.Expiry))
	}
	if tok.RefreshIn < 0 || tok.RefreshIn > maxTokenLifetime {
		t.Fatalf("refresh_in %v out of bounds", tok.RefreshIn)
	}
}

// checkErrorText holds the promise that provider text reaches errors cleaned and capped.
func checkErrorText(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if len(msg) > 2048 {
		t.Fatalf("error of %d bytes", len(msg))
	}
	for _, r := range msg {
		if isControl(r) {
			t.Fatalf("error text contains %U: %q", r, msg)
		}
	}
}

func FuzzTokenResponse(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt2"}`))
	f.Add(200, "application/json", []byte(`{"access_token":"at","expires_in":1e18,"refresh_in":"1e400"}`))
	f.Add(200, "application/json", []byte(`{"access_token":"at","expires_in":"3599.5"}`))
	f.Add(200, "application/json", []byte(`{"access_token":"eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTk5fQ.sig"}`))
	f.Add(400, "application/json", []byte(`{"error":"invalid_grant","error_description":"\u202eevil\u001b[2J"}`))
	f.Add(503, "text/html", []byte(`<html>down</html>`))
	f.Add(200, "text/plain", []byte(`access_token=at&expires_in=-5`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		if status < 100 || status > 999 {
			status = 200
		}
		c := fuzzClient(t, &config.Profile{TokenEndpoint: "https://idp.example.com/token"},
			func(*http.Request) (int, string, []byte) { return status, contentType, body })
		start := time.Now()
		tok, err := c.Refresh(context.Background(), RefreshRequest{RefreshToken: "rt"})
		if err != nil {
			checkErrorText(t, err)
			return
		}
		checkToken(t, start, tok)
	})
}

func FuzzDeviceResponse(f *testing.F) {
	f.Add(200, []byte(`{"device_code":"dc","user_code":"ABCD-EFGH","verification_uri":"https://idp.example.com/device","expires_in":600,"interval":5}`))
	f.Add(200, []byte(`{"device_code":"dc","user_code":"ABCD","verification_uri":"https://idp.example.com/device","verification_uri_complete":"https://idp.example.com/device?c=ABCD","interval":-1,"expires_in":-1}`))
	f.Add(200, []byte(`{"device_code":"dc","user_code":"\u202eABCD","verification_url":"javascript:alert(1)","interval":10000000000000}`))
	f.Add(400, []byte(`{"error":"invalid_client","error_description":"\u001b]0;x\u0007"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			status = 200
		}
		c := fuzzClient(t, &config.Profile{
			TokenEndpoint: "https://idp.example.com/token", DeviceAuthorizationEndpoint: "https://idp.example.com/device",
		}, func(r *http.Request) (int, string, []byte) {
			if r.URL.Path == "/device" {
				return status, "application/json", body
			}
			return 200, "application/json", []byte(`{"access_token":"at","expires_in":60}`)
		})
		// Stop at the first poll: what is under test is the response, and
		// what x/oauth2 does with it before polling (its ticker).
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		tok, err := c.DeviceLogin(ctx, func(dc DeviceCode) {
			cancel()
			for i, u := range []string{dc.VerificationURI, dc.VerificationURIComplete} {
				if i == 1 && u == "" {
					continue // verification_uri_complete is optional
				}
				if err := config.CheckEndpoint(u); err != nil || CleanText(u, 0) != u {
					t.Fatalf("shown verification URI %q: %v", u, err)
				}
			}
			if checkUserCode(dc.UserCode) != nil {
				t.Fatalf("shown user code %q", dc.UserCode)
			}
			if !dc.Expires.After(start) || dc.Expires.After(time.Now().Add(maxDeviceCodeLife)) {
				t.Fatalf("code expires in %v", time.Until(dc.Expires))
			}
		})
		if err != nil {
			checkErrorText(t, err)
			return
		}
		checkToken(t, start, tok)
	})
}

func FuzzDiscovery(f *testing.F) {
	const issuer = "https://idp.example.com"
	f.Add([]byte(`{"issuer":"https://idp.example.com","authorization_endpoint":"https://idp.example.com/authorize","token_endpoint":"https://idp.example.com/token","jwks_uri":"https://idp.example.com/jwks"}`))
	f.Add([]byte(`{"issuer":"https://idp.example.com","token_endpoint":"http://idp.example.com/token"}`))
	f.Add([]byte(`{"issuer":"https://idp.example.com","token_endpoint":"https://idp.example.com/token","authorization_endpoint":"javascript:alert(1)"}`))
	f.Add([]byte(`{"issuer":"https://evil.example.com","token_endpoint":"https://idp.example.com/token"}`))
	f.Add([]byte(`{"issuer":"https://idp.example.com","token_endpoint":"https://idp.example.com/\u202etoken","revocation_endpoint":"file:///etc/passwd"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c := fuzzClient(t, &config.Profile{Issuer: issuer}, func(r *http.Request) (int, string, []byte) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
				return 200, "application/json", doc
			case r.Method == http.MethodPost:
				return 200, "application/json", []byte(`{"access_token":"at","expires_in":60}`)
			}
			return 404, "text/plain", nil
		})
		start := time.Now()
		tok, err := c.Refresh(context.Background(), RefreshRequest{RefreshToken: "rt"})
		if err != nil {
			checkErrorText(t, err)
			return
		}
		checkToken(t, start, tok)
		ep := c.endpoints
		for _, u := range []string{ep.AuthURL, ep.TokenURL, ep.DeviceAuthURL, ep.revocation} {
			if u != "" && checkDiscovered(u) != nil {
				t.Fatalf("discovery accepted endpoint %q", u)
			}
		}
	})
}

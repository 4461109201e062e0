package oidcagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/flow"
)

// The requests oidc-token 4.2.6 sent read as what its arguments asked for.
func TestParseOIDCTokenRequests(t *testing.T) {
	v := loadVectors(t)
	want := map[string]request{
		"-t 120 -s openid -s email --aud api://x work": {Type: "access_token", Account: "work", MinValid: 120 * time.Second,
			Scopes: []string{"openid", "email"}, Audience: "api://x", ApplicationHint: "oidc-token"},
		"https://iss.example/":  {Type: "access_token", Issuer: "https://iss.example/", ApplicationHint: "oidc-token"},
		"-f --name my-app work": {Type: "access_token", Account: "work", Force: true, ApplicationHint: "my-app"},
	}
	for _, ex := range v.Exchanges {
		w, ok := want[ex.Args]
		if !ok {
			t.Errorf("no expectation for %q", ex.Args)
			continue
		}
		got, err := parseRequest([]byte(ex.Request))
		if err != nil {
			t.Errorf("%s: %v", ex.Args, err)
			continue
		}
		if !reflect.DeepEqual(*got, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", ex.Args, *got, w)
		}
	}
}

func TestParseRequest(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, tt := range []struct {
		name, json string
		want       request
		err        string // a part of the error; "" for none
	}{
		{"minimal", `{"request":"access_token","account":"work"}`, request{Type: "access_token", Account: "work"}, ""},
		{"unknown fields", `{"request":"access_token","account":"work","future":{"a":[1]},"always_allow_id":1}`,
			request{Type: "access_token", Account: "work"}, ""},
		{"both: account wins", `{"request":"access_token","account":"a","issuer":"https://i"}`,
			request{Type: "access_token", Account: "a", Issuer: "https://i"}, ""},
		{"seconds in a string", `{"request":"access_token","account":"a","min_valid_period":"30"}`,
			request{Type: "access_token", Account: "a", MinValid: 30 * time.Second}, ""},
		{"seconds as a float", `{"request":"access_token","account":"a","min_valid_period":30.0}`,
			request{Type: "access_token", Account: "a", MinValid: 30 * time.Second}, ""},
		{"null seconds", `{"request":"access_token","account":"a","min_valid_period":null}`,
			request{Type: "access_token", Account: "a"}, ""},
		{"scopes with extra spaces", `{"request":"access_token","account":"a","scope":"  openid   email "}`,
			request{Type: "access_token", Account: "a", Scopes: []string{"openid", "email"}}, ""},
		{"other type", `{"request":"add","config":{"refresh_token":"x"}}`, request{Type: "add"}, ""},
		{"white space", " \n{\"request\":\"access_token\",\"account\":\"a\"}\n", request{Type: "access_token", Account: "a"}, ""},

		{"not JSON", `request=access_token`, request{}, "not a JSON object"},
		{"array", `[{"request":"access_token"}]`, request{}, "not a JSON object"},
		{"two objects", `{"request":"access_token","account":"a"}{}`, request{}, "not a JSON object"},
		{"no type", `{"account":"a"}`, request{}, "no request type"},
		{"type not a string", `{"request":1,"account":"a"}`, request{}, `"request" has the wrong type`},
		{"account not a string", `{"request":"access_token","account":["a"]}`, request{}, `"account" has the wrong type`},
		{"neither account nor issuer", `{"request":"access_token"}`, request{}, "account"},
		{"empty account", `{"request":"access_token","account":""}`, request{}, "account"},
		{"negative seconds", `{"request":"access_token","account":"a","min_valid_period":-2}`, request{}, "min_valid_period"},
		{"fractional seconds", `{"request":"access_token","account":"a","min_valid_period":1.5}`, request{}, "whole number"},
		{"huge seconds", `{"request":"access_token","account":"a","min_valid_period":1e300}`, request{}, "whole number"},
		{"seconds beyond a year", `{"request":"access_token","account":"a","min_valid_period":99999999999}`, request{}, "too long"},
		{"seconds not a number", `{"request":"access_token","account":"a","min_valid_period":"soon"}`, request{}, "min_valid_period"},
		{"seconds an object", `{"request":"access_token","account":"a","min_valid_period":{}}`, request{}, "min_valid_period"},
		{"long account", `{"request":"access_token","account":"` + long(129) + `"}`, request{}, "account name too long"},
		{"long issuer", `{"request":"access_token","issuer":"` + long(1025) + `"}`, request{}, "issuer too long"},
		{"long audience", `{"request":"access_token","account":"a","audience":"` + long(1025) + `"}`, request{}, "audience too long"},
		{"long scope", `{"request":"access_token","account":"a","scope":"` + long(257) + `"}`, request{}, "scope too long"},
		{"many scopes", `{"request":"access_token","account":"a","scope":"` + strings.Repeat("s ", 65) + `"}`, request{}, "too many scopes"},
		{"long type", `{"request":"` + long(65) + `"}`, request{}, "type too long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRequest([]byte(tt.json))
			if tt.err != "" {
				var bad *badRequestError
				if err == nil || !errors.As(err, &bad) || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "Bad Request: ") {
					t.Fatalf("error %v (%+v), want a Bad Request with %q", err, got, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

// The broker is asked as authd's own API asks it, and never for a login.
func TestTokenRequest(t *testing.T) {
	r := request{Type: "access_token", Account: "a", MinValid: time.Minute, Scopes: []string{"openid"}, Audience: "api"}
	want := broker.TokenRequest{Scopes: []string{"openid"}, Audience: "api", MinValid: time.Minute}
	if got := r.tokenRequest(); !reflect.DeepEqual(got, want) {
		t.Errorf("%+v, want %+v", got, want)
	}
	r = request{Type: "access_token", Account: "a", Force: true}
	if got := r.tokenRequest(); !got.ForceRefresh || got.Interactive || got.MinValid != 0 {
		t.Errorf("force: %+v", got)
	}
}

// Answers carry exactly oidc-agent's fields; a token without an expiry
// says 0, and failures carry their text as given.
func TestResponses(t *testing.T) {
	exp := time.Unix(1767225600, 0)
	for _, tt := range []struct {
		got  []byte
		want map[string]any
	}{
		{tokenResponse(&broker.Token{AccessToken: "at<&>", IDToken: "id", Expiry: exp}, "https://idp.example.com"),
			map[string]any{"status": "success", "access_token": "at<&>", "issuer": "https://idp.example.com", "expires_at": 1767225600.0}},
		{tokenResponse(&broker.Token{AccessToken: "at"}, ""),
			map[string]any{"status": "success", "access_token": "at", "issuer": "", "expires_at": 0.0}},
		{failure("not logged in"), map[string]any{"status": "failure", "error": "not logged in"}},
	} {
		var got map[string]any
		if err := json.Unmarshal(tt.got, &got); err != nil {
			t.Fatalf("%s: %v", tt.got, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s, want %v", tt.got, tt.want)
		}
		if !isJSONObject(tt.got) || strings.ContainsAny(string(tt.got), "\n\x00") {
			t.Errorf("%q is not one line of JSON", tt.got)
		}
	}
}

func TestErrorText(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("profile work: %w", broker.ErrLoginRequired), "not logged in: run 'authc login -p work'"},
		{fmt.Errorf("%w: no profile \"work\" in /x/config.toml", broker.ErrProfileNotFound), `no authd profile named "work"`},
		{fmt.Errorf("%w: profile work: a fresh token is valid for 5m0s, not longer than the 1h0m0s asked for", broker.ErrTokenLifetime),
			"the provider's tokens live shorter than asked: profile work: a fresh token is valid for 5m0s, not longer than the 1h0m0s asked for"},
		{fmt.Errorf("refresh: %w: \x1b[31mred\u202eevil\n", flow.ErrUnavailable),
			"refresh: " + flow.ErrUnavailable.Error() + ":  [31mred evil  (authd retries on its own; try again shortly)"},
		{context.DeadlineExceeded, "authd got no token for profile work within 1m0s"},
		{broker.ErrShutdown, "authd is shutting down"},
		{errors.New(strings.Repeat("x", 5000)), strings.Repeat("x", maxErrorLen-len("…")) + "…"},
	} {
		if got := errorText("work", tt.err, time.Minute); got != tt.want {
			t.Errorf("%v:\n got %q\nwant %q", tt.err, got, tt.want)
		}
	}
}

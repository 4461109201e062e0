package oidcagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"authd.dev/authd/internal/broker"
)

// requestAccessToken is the one request type authd answers.
const requestAccessToken = "access_token"

// forceNewToken is the min_valid_period that asks for a new token
// (oidc-agent's FORCE_NEW_TOKEN, what 'oidc-token --force-new' sends).
const forceNewToken = -1

// Bounds on request fields, as authd's own API bounds them.
const (
	maxAccountLen  = 128
	maxIssuerLen   = 1024
	maxAudienceLen = 1024
	maxScopes      = 64
	maxScopeLen    = 256
	maxTypeLen     = 64
	// maxMinValid is far beyond any token's lifetime: only a bound on
	// the arithmetic.
	maxMinValid = 366 * 24 * time.Hour
)

// request is a client's request: the fields of oidc-agent's IPC API that
// authd reads. Fields it does not know are ignored, as oidc-agent ignores
// them.
type request struct {
	Type    string // "request": access_token, add, remove, ...
	Account string // an authd profile name
	Issuer  string // when Account is empty: the profile with this issuer
	// MinValid is min_valid_period: how long the token must stay valid;
	// 0 for authd's default.
	MinValid time.Duration
	// Force is min_valid_period -1: a new token, whatever the cached one.
	Force           bool
	Scopes          []string // scope, split at spaces
	Audience        string
	ApplicationHint string // for the log only
}

// wireRequest is a request as JSON carries it.
type wireRequest struct {
	Request         *string         `json:"request"`
	Account         string          `json:"account"`
	Issuer          string          `json:"issuer"`
	MinValidPeriod  json.RawMessage `json:"min_valid_period"`
	Scope           string          `json:"scope"`
	Audience        string          `json:"audience"`
	ApplicationHint string          `json:"application_hint"`
}

// badRequestError is a request authd cannot read. Its text goes to the
// client after "Bad Request: ", as oidc-agent words it.
type badRequestError struct{ Msg string }

func (e *badRequestError) Error() string { return "Bad Request: " + e.Msg }

func badRequest(format string, args ...any) error {
	return &badRequestError{Msg: fmt.Sprintf(format, args...)}
}

// parseRequest reads a request's JSON. The fields of access_token requests
// are checked and bounded; other types are returned with their type only,
// for the caller to refuse.
func parseRequest(data []byte) (*request, error) {
	if !isJSONObject(data) {
		return nil, badRequest("the request is not a JSON object")
	}
	var w wireRequest
	if err := json.Unmarshal(data, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, badRequest("field %q has the wrong type (%s)", te.Field, te.Value)
		}
		return nil, badRequest("the request is not valid JSON")
	}
	if w.Request == nil {
		return nil, badRequest("no request type")
	}
	if len(*w.Request) > maxTypeLen {
		return nil, badRequest("request type too long")
	}
	req := &request{Type: *w.Request}
	if req.Type != requestAccessToken {
		return req, nil
	}
	req.Account, req.Issuer, req.Audience, req.ApplicationHint = w.Account, w.Issuer, w.Audience, w.ApplicationHint
	switch {
	case req.Account == "" && req.Issuer == "":
		return nil, badRequest("give an account (an authd profile) or an issuer")
	case len(req.Account) > maxAccountLen:
		return nil, badRequest("account name too long (%d bytes, at most %d)", len(req.Account), maxAccountLen)
	case len(req.Issuer) > maxIssuerLen:
		return nil, badRequest("issuer too long (%d bytes, at most %d)", len(req.Issuer), maxIssuerLen)
	case len(req.Audience) > maxAudienceLen:
		return nil, badRequest("audience too long (%d bytes, at most %d)", len(req.Audience), maxAudienceLen)
	case len(w.Scope) > maxScopes*(maxScopeLen+1):
		return nil, badRequest("scope too long (%d bytes)", len(w.Scope))
	}
	if scopes := strings.Fields(w.Scope); len(scopes) > 0 {
		req.Scopes = scopes
	}
	if len(req.Scopes) > maxScopes {
		return nil, badRequest("too many scopes (%d, at most %d)", len(req.Scopes), maxScopes)
	}
	for _, sc := range req.Scopes {
		if len(sc) > maxScopeLen {
			return nil, badRequest("scope too long (%d bytes, at most %d)", len(sc), maxScopeLen)
		}
	}
	secs, err := parseSeconds(w.MinValidPeriod)
	if err != nil {
		return nil, err
	}
	switch {
	case secs == forceNewToken:
		req.Force = true
	case secs < 0:
		return nil, badRequest("min_valid_period must be a number of seconds, or -1 for a new token")
	case secs > int64(maxMinValid/time.Second):
		return nil, badRequest("min_valid_period too long (%d s, at most %d)", secs, int64(maxMinValid/time.Second))
	default:
		req.MinValid = time.Duration(secs) * time.Second
	}
	return req, nil
}

// parseSeconds reads min_valid_period: a JSON number of whole seconds
// (oidc-agent's own clients), or such a number in a string; absent or null
// is 0.
func parseSeconds(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, badRequest("min_valid_period must be a number of seconds")
		}
		s = strings.TrimSpace(s)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f != math.Trunc(f) || math.Abs(f) > 1e15 {
		return 0, badRequest("min_valid_period must be a whole number of seconds")
	}
	return int64(f), nil
}

// tokenRequest is the broker's request for r, as authd's own API would make
// it: never interactive, for a client of this socket cannot show a login.
func (r *request) tokenRequest() broker.TokenRequest {
	return broker.TokenRequest{
		Scopes:       r.Scopes,
		Audience:     r.Audience,
		MinValid:     r.MinValid,
		ForceRefresh: r.Force,
	}
}

// successResponse is an access token's answer; every field is always
// present, as oidc-agent sends them.
type successResponse struct {
	Status      string `json:"status"`
	AccessToken string `json:"access_token"`
	Issuer      string `json:"issuer"`
	ExpiresAt   int64  `json:"expires_at"`
}

type failureResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
}

// tokenResponse is the JSON answer with tok, for a profile of issuer.
func tokenResponse(tok *broker.Token, issuer string) []byte {
	var exp int64
	if !tok.Expiry.IsZero() {
		exp = tok.Expiry.Unix()
	}
	return encodeJSON(successResponse{Status: "success", AccessToken: tok.AccessToken, Issuer: issuer, ExpiresAt: exp})
}

// failure is the JSON answer for an error whose text is msg, which must
// already be safe to show.
func failure(msg string) []byte {
	return encodeJSON(failureResponse{Status: "failure", Error: msg})
}

func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Strings and integers only: this does not happen.
		return []byte(`{"status":"failure","error":"internal error"}`)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Package jwt reads JSON Web Tokens without verifying them, for display and
// bookkeeping only: authd never trusts an unverified claim for a decision
// about access. ID tokens are verified by package flow before use.
package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// ErrNotJWT means the token is not a JWT (an opaque token, or garbage).
var ErrNotJWT = errors.New("not a JWT (an opaque token has nothing to decode)")

// Decode returns a JWT's header and claims as compact JSON.
func Decode(raw string) (header, claims json.RawMessage, err error) {
	parts := strings.Split(strings.TrimSpace(raw), ".")
	if len(parts) != 3 {
		return nil, nil, ErrNotJWT
	}
	dec := func(s string) (json.RawMessage, error) {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			return nil, ErrNotJWT
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
			return nil, ErrNotJWT
		}
		return buf.Bytes(), nil
	}
	if header, err = dec(parts[0]); err != nil {
		return nil, nil, err
	}
	if claims, err = dec(parts[1]); err != nil {
		return nil, nil, err
	}
	return header, claims, nil
}

// Claims are the few claims authd reads.
type Claims struct {
	Account string    // email, preferred_username or subject
	Expiry  time.Time // exp; zero when absent
}

// ReadClaims reads a JWT's account and expiry; ok is false when raw is no JWT.
func ReadClaims(raw string) (c Claims, ok bool) {
	_, payload, err := Decode(raw)
	if err != nil {
		return c, false
	}
	var claims struct {
		Sub               string   `json:"sub"`
		Email             string   `json:"email"`
		PreferredUsername string   `json:"preferred_username"`
		Exp               *float64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return c, false
	}
	for _, a := range []string{claims.Email, claims.PreferredUsername, claims.Sub} {
		if a != "" {
			c.Account = a
			break
		}
	}
	if claims.Exp != nil {
		c.Expiry = time.Unix(int64(*claims.Exp), 0)
	}
	return c, true
}

// Package jwt reads JSON Web Tokens without verifying them, for display and
// bookkeeping only: authd never trusts an unverified claim for a decision
// about access. ID tokens are verified by package flow before use.
package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
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
	Expiry  time.Time // exp; zero when absent or unusable
}

// ReadClaims reads a JWT's account and expiry; ok is false when raw is no JWT.
// An exp that is not a number, or lies before 1970 or after year 9999, is
// taken as absent.
func ReadClaims(raw string) (c Claims, ok bool) {
	_, payload, err := Decode(raw)
	if err != nil {
		return c, false
	}
	var claims struct {
		Sub               string          `json:"sub"`
		Email             string          `json:"email"`
		PreferredUsername string          `json:"preferred_username"`
		Exp               json.RawMessage `json:"exp"`
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
	c.Expiry = readExp(claims.Exp)
	return c, true
}

// maxExp is 9999-12-31T23:59:59Z, the last second time.Time formats in
// RFC 3339 and a keyring record round-trips.
const maxExp = 253402300799

// readExp is the time of an exp claim (seconds since 1970, RFC 7519
// NumericDate), or zero when exp is absent or unusable: not a number, or
// before 1970 or after year 9999, which converting to int64 would wrap or
// saturate into a time in the past (a token taken as expired) or that
// cannot be stored.
func readExp(raw json.RawMessage) time.Time {
	var exp *float64 // nil for null
	if len(raw) == 0 || json.Unmarshal(raw, &exp) != nil || exp == nil {
		return time.Time{}
	}
	if math.IsNaN(*exp) || *exp < 0 || *exp > maxExp {
		return time.Time{}
	}
	return time.Unix(int64(*exp), 0)
}

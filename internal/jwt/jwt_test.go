package jwt

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

func token(header, claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + ".sig"
}

func TestReadClaims(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		raw  string
		ok   bool
		want Claims
	}{
		{"email and exp", token(`{"alg":"RS256"}`, `{"sub":"1","email":"a@x","exp":1700000000}`), true, Claims{"a@x", time.Unix(1700000000, 0)}},
		{"username", token(`{}`, `{"sub":"1","preferred_username":"alice"}`), true, Claims{Account: "alice"}},
		{"subject only", token(`{}`, `{"sub":"1"}`), true, Claims{Account: "1"}},
		{"opaque", "abc123", false, Claims{}},
		{"two parts", "a.b", false, Claims{}},
		{"bad base64", "!!.!!.!!", false, Claims{}},
		{"not an object", token(`{}`, `[1]`), false, Claims{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ReadClaims(tt.raw)
			if ok != tt.ok || got.Account != tt.want.Account || !got.Expiry.Equal(tt.want.Expiry) {
				t.Errorf("ReadClaims = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if _, _, err := Decode("opaque"); !errors.Is(err, ErrNotJWT) {
		t.Errorf("Decode(opaque) = %v", err)
	}
}

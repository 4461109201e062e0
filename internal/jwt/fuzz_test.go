package jwt

import (
	"encoding/json"
	"testing"
)

var fuzzSeeds = []string{
	token(`{"alg":"RS256"}`, `{"sub":"1","email":"a@x","exp":1700000000}`),
	token(`{}`, `{"exp":1e400}`),
	token(`{}`, `{"exp":-9.3e18}`),
	token(`{}`, `{"exp":253402300800}`),
	token(`{}`, `{"exp":null,"preferred_username":"alice"}`),
	token(`{}`, `[1]`),
	"a.b",
	"opaque",
	"e30.e30.",
	"e30=.e30==.x",
}

// FuzzReadClaims: any token string reads without panic, and an expiry it
// gives lies between 1970 and year 9999.
func FuzzReadClaims(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, ok := ReadClaims(raw)
		if !ok && c != (Claims{}) {
			t.Fatalf("claims %+v of no JWT", c)
		}
		if !c.Expiry.IsZero() && (c.Expiry.Unix() < 0 || c.Expiry.Unix() > maxExp) {
			t.Fatalf("expiry %v out of range", c.Expiry)
		}
	})
}

// FuzzDecode: any token string decodes without panic, to two JSON objects
// or to ErrNotJWT.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		header, claims, err := Decode(raw)
		if err != nil {
			if err != ErrNotJWT || header != nil || claims != nil {
				t.Fatalf("Decode: %v, %q, %q", err, header, claims)
			}
			return
		}
		for _, part := range []json.RawMessage{header, claims} {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(part, &m); err != nil {
				t.Fatalf("part %q is no JSON object: %v", part, err)
			}
		}
	})
}

package main

import (
	"context"
	"encoding/json"
	"time"

	"authd.dev/authd/internal/jwt"
	"authd.dev/authd/internal/wire"
)

// runInspect decodes a JWT for display. It verifies nothing: access tokens
// may be opaque or meant for another audience.
func runInspect(ctx context.Context, args []string) error {
	fs := flags("inspect")
	profile := profileFlags(fs)
	idToken := fs.Bool("id-token", false, "inspect the profile's ID token instead of its access token")
	timeout := timeoutFlag(fs, defaultTimeout, "give up when authd has not answered within this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	var raw string
	switch fs.NArg() {
	case 1:
		raw = fs.Arg(0)
	case 0:
		conn, err := connect(ctx, *timeout)
		if err != nil {
			return err
		}
		defer conn.Close()
		var tok *wire.Token
		err = within(ctx, *timeout, func(ctx context.Context) (err error) {
			tok, err = conn.GetToken(ctx, &wire.GetTokenRequest{Profile: *profile, WantIDToken: *idToken})
			return err
		})
		if err != nil {
			return err
		}
		raw = tok.AccessToken
		if *idToken {
			raw = tok.IDToken
		}
	default:
		return usageError{"inspect takes at most one token"}
	}
	header, claims, err := jwt.Decode(raw)
	if err != nil {
		return err
	}
	out := map[string]json.RawMessage{"header": header, "claims": claims}
	var times map[string]any
	if json.Unmarshal(claims, &times) == nil {
		readable := map[string]string{}
		for _, k := range []string{"exp", "iat", "nbf", "auth_time"} {
			if v, ok := times[k].(float64); ok {
				readable[k] = time.Unix(int64(v), 0).UTC().Format(time.RFC3339)
			}
		}
		if len(readable) > 0 {
			b, _ := json.Marshal(readable)
			out["times"] = b
		}
	}
	// The claims are the provider's text: printJSON keeps their control
	// characters escaped.
	return printJSON(out)
}

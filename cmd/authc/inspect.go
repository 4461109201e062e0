package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/jwt"
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
	switch {
	case fs.NArg() == 1 && fs.Arg(0) == "-":
		var err error
		if raw, err = readStdin(ctx, os.Stdin, "token"); err != nil {
			return err
		}
	case fs.NArg() == 1:
		raw = fs.Arg(0)
	case fs.NArg() == 0:
		conn, err := connect()
		if err != nil {
			return err
		}
		defer conn.Close()
		var tok *client.Token
		err = within(ctx, *timeout, func(ctx context.Context) (err error) {
			tok, err = conn.Token(ctx, client.TokenOptions{Profile: *profile, IDToken: *idToken})
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

// maxStdin bounds what authc reads from stdin (a token, a client secret): a
// JWT is a few KB; a file piped in by mistake is not read to its end, nor
// silently cut short.
const maxStdin = 64 << 10

// readStdin reads one value (what: "token", "client secret") from stdin,
// white space around it ignored. Ctrl-C ends the wait for it, which a read
// does not heed.
func readStdin(ctx context.Context, r io.Reader, what string) (string, error) {
	type result struct {
		data []byte
		err  error
	}
	read := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(r, maxStdin+1))
		read <- result{data, err}
	}()
	var data []byte
	select {
	case <-ctx.Done():
		return "", context.Cause(ctx)
	case res := <-read:
		if res.err != nil {
			return "", fmt.Errorf("read the %s from stdin: %w", what, res.err)
		}
		data = res.data
	}
	if len(data) > maxStdin {
		return "", fmt.Errorf("the %s on stdin is longer than %d KiB; is it a %s?", what, maxStdin>>10, what)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", usageError{"no " + what + " on stdin"}
	}
	return v, nil
}

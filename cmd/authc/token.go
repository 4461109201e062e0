package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"authd.dev/authd/client"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runToken(ctx context.Context, args []string) error {
	fs := flags("token")
	profile := profileFlags(fs)
	minValid := fs.Duration("min-valid", 0, "the token must stay valid at least this long (default 1m)")
	var scopes stringList
	fs.Var(&scopes, "scope", "a scope of the profile to down-scope to (repeatable)")
	audience := fs.String("audience", "", "audience of the token")
	idToken := fs.Bool("id-token", false, "print the ID token instead of the access token (with --json: beside it)")
	asJSON := fs.Bool("json", false, "print the token and its metadata as JSON")
	loginFlag := fs.Bool("login", false, "start a login when one is needed (default when stderr is a terminal)")
	noLogin := fs.Bool("no-login", false, "never start a login: exit with code 3 when one is needed")
	force := fs.Bool("force-refresh", false, "refresh even when the cached token is valid")
	rejectedStdin := fs.Bool("rejected-stdin", false, "read from stdin a token a server refused: authd replaces it (once for all who name it) and does not print it again (an AUTHD_TOKEN is printed as it is)")
	timeout := timeoutFlag(fs, defaultTimeout, "give up when authd has not answered within this long (a login it starts waits up to 10m)")
	if err := parseNoArgs(fs, args, timeout); err != nil {
		return err
	}
	if *loginFlag && *noLogin {
		return usageError{"--login and --no-login exclude each other"}
	}
	var rejected string
	if *rejectedStdin {
		// On stdin, not in an argument: other users can read every
		// process's command line.
		var err error
		if rejected, err = readStdin(ctx, os.Stdin, "token"); err != nil {
			return err
		}
	}
	if *minValid < 0 {
		return usageError{"--min-valid must not be negative"}
	}

	req := client.TokenOptions{
		Profile: *profile, Scopes: scopes, Audience: *audience, MinValid: *minValid,
		// --json has the ID token only with --id-token: a program that
		// reads the access token's metadata has no use for the identity.
		ForceRefresh: *force, IDToken: *idToken, Rejected: rejected,
	}
	interactive := *loginFlag || (!*noLogin && term.IsTerminal(int(os.Stderr.Fd())))
	tok, err := helperToken(ctx, req, interactive, *timeout)
	if err != nil {
		return err
	}
	return printToken(tok, *asJSON, *idToken)
}

// secretHint makes the login-required error of a client_credentials
// profile say what it lacks: a client secret, which 'authc login' alone
// cannot give it. It asks authd for the profile's flow, and leaves de as
// it is when authd does not say.
func secretHint(ctx context.Context, conn *client.Client, profile string, timeout time.Duration, de *daemonError) {
	var st *client.Status
	err := within(ctx, min(timeout, probeTimeout), func(ctx context.Context) (err error) {
		st, err = conn.Status(ctx)
		return err
	})
	if err != nil {
		return
	}
	if profile == "" {
		profile = st.DefaultProfile
		if profile == "" && len(st.Profiles) == 1 {
			profile = st.Profiles[0].Name
		}
	}
	for _, p := range st.Profiles {
		if p.Name == profile && p.Flow == "client_credentials" {
			de.msg = fmt.Sprintf("profile %s has no client secret", profile)
			de.hint = fmt.Sprintf("run 'authc login -p %s --client-secret-stdin'", profile)
		}
	}
}

func printToken(tok *client.Token, asJSON, idToken bool) error {
	if err := checkTokenText("access token", tok.AccessToken); err != nil {
		return err
	}
	if err := checkTokenText("ID token", tok.IDToken); err != nil {
		return err
	}
	switch {
	case asJSON:
		return printJSON(tokenJSON(tok))
	case idToken:
		if tok.IDToken == "" {
			return fmt.Errorf("profile %s has no ID token (is 'openid' among its scopes?)", printable(tok.Profile))
		}
		fmt.Println(tok.IDToken)
	default:
		fmt.Println(tok.AccessToken)
	}
	return nil
}

type jsonToken struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type,omitempty"`
	Expiry      *jsonTime `json:"expiry,omitempty"`
	Scopes      []string  `json:"scopes,omitempty"`
	IDToken     string    `json:"id_token,omitempty"`
	Profile     string    `json:"profile"`
}

func tokenJSON(t *client.Token) jsonToken {
	return jsonToken{AccessToken: t.AccessToken, TokenType: t.TokenType, Expiry: timePtr(t.Expiry),
		Scopes: t.Scopes, IDToken: t.IDToken, Profile: t.Profile}
}

// jsonTime is a time as every JSON output of authc writes it: RFC 3339,
// in UTC, to the second.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339) + `"`), nil
}

// timePtr is t for JSON, nil (left out) when it is not known.
func timePtr(t time.Time) *jsonTime {
	if t.IsZero() {
		return nil
	}
	j := jsonTime(t)
	return &j
}

// printJSON prints v indented, with the runes encoding/json leaves raw
// that a terminal would act on escaped.
func printJSON(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err := os.Stdout.Write(jsonPrintable(buf.Bytes()))
	return err
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/jwt"
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
	idToken := fs.Bool("id-token", false, "print the ID token instead of the access token")
	asJSON := fs.Bool("json", false, "print the token and its metadata as JSON")
	loginFlag := fs.Bool("login", false, "start a login when one is needed (default when stderr is a terminal)")
	noLogin := fs.Bool("no-login", false, "never start a login: exit with code 3 when one is needed")
	force := fs.Bool("force-refresh", false, "refresh even when the cached token is valid")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *loginFlag && *noLogin {
		return usageError{"--login and --no-login exclude each other"}
	}
	interactive := *loginFlag || (!*noLogin && term.IsTerminal(int(os.Stderr.Fd())))

	if tok, _ := staticToken(*profile); tok != "" && len(scopes) == 0 && *audience == "" && !*idToken {
		st := &client.Token{AccessToken: tok, TokenType: "Bearer", Profile: *profile}
		if c, ok := jwt.ReadClaims(tok); ok {
			st.Expiry = c.Expiry
		}
		if *asJSON {
			return printJSON(tokenJSON(st))
		}
		fmt.Println(tok)
		return nil
	}

	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()
	opts := client.TokenOptions{
		Profile: *profile, Scopes: scopes, Audience: *audience, MinValid: *minValid,
		ForceRefresh: *force, IDToken: *idToken || *asJSON,
	}
	tok, err := c.Token(ctx, opts)
	if errors.Is(err, client.ErrLoginRequired) && interactive {
		ui := loginUI{noBrowser: !canOpenBrowser()}
		if err = login(ctx, c, client.LoginOptions{Profile: *profile, NoBrowser: ui.noBrowser}, ui); err != nil {
			return err
		}
		opts.ForceRefresh = false
		tok, err = c.Token(ctx, opts)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(tokenJSON(tok))
	}
	if *idToken {
		if tok.IDToken == "" {
			return fmt.Errorf("profile %s has no ID token (is 'openid' among its scopes?)", tok.Profile)
		}
		fmt.Println(tok.IDToken)
		return nil
	}
	fmt.Println(tok.AccessToken)
	return nil
}

type jsonToken struct {
	AccessToken string     `json:"access_token"`
	TokenType   string     `json:"token_type,omitempty"`
	Expiry      *time.Time `json:"expiry,omitempty"`
	Scopes      []string   `json:"scopes,omitempty"`
	IDToken     string     `json:"id_token,omitempty"`
	Profile     string     `json:"profile"`
}

func tokenJSON(t *client.Token) jsonToken {
	j := jsonToken{AccessToken: t.AccessToken, TokenType: t.TokenType, Scopes: t.Scopes, IDToken: t.IDToken, Profile: t.Profile}
	if !t.Expiry.IsZero() {
		j.Expiry = &t.Expiry
	}
	return j
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/jwt"
)

// What the credential helpers (exec, header, kubectl, git-credential,
// docker-credential) share: they are run by tools, often with nobody at a
// terminal, so none of them starts a login unless told it may, each call
// has a deadline (--timeout, 30s by default), and a failure is one line on
// stderr that names the command to run ('authc login -p PROFILE').

// helperToken returns the token of opts.Profile for 'authc token' and the
// tools. A login is started only when interactive is true and one is
// needed; otherwise a login-required error names 'authc login -p PROFILE'.
// A static token of the environment (AUTHD_TOKEN, AUTHD_TOKEN_<PROFILE>) is
// served as it is, with the expiry of its JWT claims if any, even when
// named as refused: authd cannot renew what it does not hold.
func helperToken(ctx context.Context, opts client.TokenOptions, interactive bool, timeout time.Duration) (*client.Token, error) {
	if opts.Profile != "" {
		profileArg = opts.Profile // for the hints of errors
	}
	if tok, _ := staticToken(opts.Profile); tok != "" && len(opts.Scopes) == 0 && opts.Audience == "" && !opts.IDToken {
		st := &client.Token{AccessToken: tok, TokenType: "Bearer", Profile: opts.Profile}
		if c, ok := jwt.ReadClaims(tok); ok {
			st.Expiry = c.Expiry
		}
		return st, nil
	}
	conn, err := connect()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var tok *client.Token
	get := func(ctx context.Context) (err error) {
		tok, err = conn.Token(ctx, opts)
		return err
	}
	err = within(ctx, timeout, get)
	if de := (*daemonError)(nil); interactive && errors.As(err, &de) && de.reason == api.LoginRequired {
		ui := &loginUI{noBrowser: !canOpenBrowser()}
		lreq := client.LoginOptions{Profile: opts.Profile, NoBrowser: ui.noBrowser}
		if err = login(ctx, conn, lreq, ui, timeout, loginTimeout); err != nil {
			return nil, &loginError{err}
		}
		opts.ForceRefresh, opts.Rejected = false, ""
		err = within(ctx, timeout, get)
	}
	if de := (*daemonError)(nil); errors.As(err, &de) && de.reason == api.LoginRequired {
		secretHint(ctx, conn, opts.Profile, timeout, de)
	}
	if err != nil {
		return nil, err
	}
	if err := checkTokenText("access token", tok.AccessToken); err != nil {
		return nil, err
	}
	return tok, nil
}

// errNoProfile is a target (a git remote, a registry) that no profile's
// match list names, and no -p given: a clean miss, after which the tool
// tries its other helpers or goes without credentials.
var errNoProfile = errors.New("no profile matches")

// helperProfile returns the profile a helper uses for target (a URL, or a
// host with an optional port and path): the -p value when given (and its
// match list names target, or it has none and target is https), else the
// profile whose match list fits target best (config.ProfileFor). It
// returns errNoProfile when none does, and the configuration's problems
// when it cannot be read.
func helperProfile(explicit, target string) (profile string, cfg *config.Config, err error) {
	cfg, err = readConfig()
	if explicit != "" {
		// A profile named by hand still goes only where its match list
		// says, when it has one; without one, only to https: a helper
		// line for every remote (credential.helper with -p) must not
		// hand the token to a hostile submodule's plain-http server.
		// The configuration is optional: the daemon checks the profile.
		if err == nil {
			if p, ok := cfg.Profiles[explicit]; ok && len(p.Match) > 0 {
				if !p.Matches(target) {
					return "", cfg, errNoProfile
				}
				return explicit, cfg, nil
			}
		}
		if !config.SecureTarget(target) {
			return "", cfg, errNoProfile
		}
		return explicit, cfg, nil
	}
	if err != nil {
		return "", nil, &daemonError{reason: api.InvalidConfig, msg: fmt.Sprintf("cannot read the configuration: %v", err), cause: err}
	}
	name, ok := cfg.ProfileFor(target)
	if !ok {
		return "", cfg, errNoProfile
	}
	profileArg = name
	return name, cfg, nil
}

// helperUsername is the user name a git or docker helper gives with the
// token of profile: the profile's username key, else def.
func helperUsername(cfg *config.Config, profile, def string) string {
	if cfg != nil {
		if p, ok := cfg.Profiles[profile]; ok && p.Username != "" {
			return p.Username
		}
	}
	return def
}

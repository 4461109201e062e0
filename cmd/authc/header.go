package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"authd.dev/authd/client"
)

func init() {
	commands["header"] = command{
		"[-p PROFILE] [--format header|value|TEMPLATE] [--json] [--min-valid 1m] [--login|--no-login] [--timeout 30s]",
		"Print an HTTP Authorization header with a profile's access token: 'Authorization: Bearer TOKEN'.",
		runHeader,
	}
}

const headerNotes = `
Formats: header (the default) prints 'Authorization: Bearer TOKEN', for
curl -H @- or curl -H "$(authc header)"; value prints 'Bearer TOKEN'; any
other text with {token} in it is a template, {type} standing for the
token's type: --format 'X-Auth-Token: {token}'. The type is the one the
provider gave the token (bearer is written Bearer, as HTTP has it; DPoP
or MAC stay as they are).

Like 'authc token', it starts a login when one is needed only with --login,
or when stderr is a terminal and --no-login is not given.
`

// headerName is the HTTP header a token goes in (RFC 9110, section 11.6.2).
const headerName = "Authorization"

func runHeader(ctx context.Context, args []string) error {
	fs := flags("header")
	profile := profileFlags(fs)
	format := fs.String("format", "header", "header, value, or a template with {token} (and {type}) in it")
	asJSON := fs.Bool("json", false, "print the header's name and value, the token's type, expiry and profile as JSON")
	minValid := fs.Duration("min-valid", 0, "the token must stay valid at least this long (default 1m)")
	interactive := loginFlags(fs)
	timeout := timeoutFlag(fs, defaultTimeout, "give up when authd has not answered within this long (a login it starts waits up to 10m)")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(headerNotes)
		}
		return err
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *minValid < 0 {
		return usageError{"--min-valid must not be negative"}
	}
	formatSet := false
	fs.Visit(func(f *flag.Flag) { formatSet = formatSet || f.Name == "format" })
	if *asJSON && formatSet {
		return usageError{"--json and --format exclude each other"}
	}
	render, err := headerFormat(*format)
	if err != nil {
		return err
	}
	login, err := interactive()
	if err != nil {
		return err
	}

	tok, err := helperToken(ctx, client.TokenOptions{Profile: *profile, MinValid: *minValid}, login, *timeout)
	if err != nil {
		return err
	}
	scheme, err := authScheme(tok.TokenType)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(jsonHeader{
			Header: headerName, Value: scheme + " " + tok.AccessToken, TokenType: scheme,
			Expiry: timePtr(tok.Expiry), Profile: tok.Profile,
		})
	}
	_, err = fmt.Println(render(scheme, tok.AccessToken))
	return err
}

type jsonHeader struct {
	Header    string    `json:"header"`
	Value     string    `json:"value"`
	TokenType string    `json:"token_type"`
	Expiry    *jsonTime `json:"expiry,omitempty"`
	Profile   string    `json:"profile,omitempty"`
}

// headerFormat returns what --format asks for, as a function of the
// token's scheme and the token.
func headerFormat(format string) (func(scheme, token string) string, error) {
	switch {
	case format == "header":
		return func(scheme, token string) string { return headerName + ": " + scheme + " " + token }, nil
	case format == "value":
		return func(scheme, token string) string { return scheme + " " + token }, nil
	case strings.Contains(format, "{token}"):
		return func(scheme, token string) string {
			return strings.NewReplacer("{token}", token, "{type}", scheme).Replace(format)
		}, nil
	}
	return nil, usageError{fmt.Sprintf("--format %q: want header, value, or a template with {token} in it (e.g. 'X-Auth-Token: {token}')", format)}
}

// authScheme is the HTTP authentication scheme of a token of type
// tokenType: Bearer for bearer tokens however the provider spells it
// (RFC 6749 section 5.1 makes token_type case-insensitive) or when it
// gives none, else the type as given: DPoP, MAC. A type that is no HTTP
// token (RFC 9110 section 5.6.2) would corrupt the header; it is refused.
func authScheme(tokenType string) (string, error) {
	if tokenType == "" || strings.EqualFold(tokenType, "bearer") {
		return "Bearer", nil
	}
	for _, r := range tokenType {
		if !isTokenChar(r) {
			return "", fmt.Errorf("the provider's token type %q is not an HTTP authentication scheme; refusing to print it (--format with {token} leaves the type out)", printable(tokenType))
		}
	}
	return tokenType, nil
}

// isTokenChar reports the runes of an HTTP token (RFC 9110 tchar).
func isTokenChar(r rune) bool {
	return r < 0x7f && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
}

// loginFlags adds --login and --no-login to fs. The function it returns
// says, once fs is parsed, whether a login may start: as for 'authc
// token', when --login is given, or when stderr is a terminal unless
// --no-login is.
func loginFlags(fs *flag.FlagSet) func() (bool, error) {
	loginFlag := fs.Bool("login", false, "start a login when one is needed (default when stderr is a terminal)")
	noLogin := fs.Bool("no-login", false, "never start a login: exit with code 3 when one is needed")
	return func() (bool, error) {
		if *loginFlag && *noLogin {
			return false, usageError{"--login and --no-login exclude each other"}
		}
		return *loginFlag || (!*noLogin && term.IsTerminal(int(os.Stderr.Fd()))), nil
	}
}

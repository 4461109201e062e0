package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/config"
)

// The git credential helper: git runs 'git credential-authd [ARGS] OP'
// (credential.helper = authd, or credential.<url>.helper for one remote)
// with OP get, store or erase, writes key=value lines on its stdin up to
// a blank line, and reads the answer the same way (gitcredentials(7),
// git-credential(1)).
//
//   - get answers the token of the profile that -p names, or that the
//     config's match lists map the remote to: username and password, with
//     password_expiry_utc; or, when git announces capability[]=authtype
//     (git 2.46 and later), authtype=Bearer and credential=TOKEN, which git
//     sends as 'Authorization: Bearer TOKEN', marked ephemeral so that no
//     storing helper keeps it. A remote no profile matches gets no answer
//     and exit 0: git asks its other helpers, or goes on without.
//   - erase is git's word that the server refused what get answered. When
//     that is the token authd serves now, authd refreshes it, so the next
//     get has a new one; a stale erase (of a token cached elsewhere, or one
//     authd replaced already) changes nothing.
//   - store stores nothing: authd keeps the tokens. Other operations are
//     ignored, as git asks of its helpers.

// defaultGitUsername is the user name get answers with a token when neither
// git (from the remote's URL) nor the profile's username key names one. It
// is what GitLab requires with an OAuth token; GitHub and most servers that
// take a token as the password accept any name.
const defaultGitUsername = "oauth2"

// Bounds of git's request: git keeps each line under 64 KiB, and a request
// is a handful of lines (more with a server's WWW-Authenticate headers).
const (
	maxGitLine    = 64 << 10
	maxGitRequest = 256 << 10
)

func init() {
	commands["git-credential"] = command{
		"[-p PROFILE] [--no-login] [--timeout 30s] get|store|erase",
		"Be git's credential helper (credential.helper = authd): answer get with a profile's access token.",
		runGitCredential,
	}
}

const gitCredentialNotes = `
Set it up with the command on PATH as git-credential-authd (a link to authc):

  git config --global credential.https://git.example.com.helper authd
  git config --global credential.https://git.example.com.helper 'authd -p work'

or, without the link: credential.https://git.example.com.helper = '!authc
git-credential -p work'. Scope the helper to the hosts it serves, as
above: a helper for every remote is asked by every remote, a hostile
submodule's included.

Without -p, the profile is the one whose match list fits the remote
(match = ["git.example.com"]: https on port 443; write
"http://host:port" or "host:port" for others); for a remote none fits,
the helper answers nothing, and git asks its other helpers. With -p, the
token still goes only to a remote of that profile's match list, or, for a
profile without one, to https remotes. A remote with user info, a path in
its host, or . and .. segments gets nothing. A URL prefix in a match list
(https://git.example.com/team/) needs git to tell the path: git config
credential.useHttpPath true.

The user name is the remote URL's, else the profile's username key, else
"oauth2" (GitLab wants that one; GitHub takes any, by convention
"x-access-token"). A git that announces the authtype capability (2.46 and
later) gets the token as a Bearer credential instead.

When git was refused the token get gave (erase), authd refreshes it, so
that the next get has a new one; an erase of a token authd no longer
serves (one git cached elsewhere) changes nothing. store keeps nothing.

A login is started only when git may prompt: stderr is a terminal and
GIT_TERMINAL_PROMPT is not 0 (an IDE's git never is); otherwise a profile
that needs one fails at once, naming 'authc login -p PROFILE'.
`

func runGitCredential(ctx context.Context, args []string) error {
	fs := flags("git-credential")
	profile := helperProfileFlags(fs, "remote")
	noLogin := fs.Bool("no-login", false, "never start a login, even when git may prompt")
	timeout := timeoutFlag(fs, defaultTimeout, "give up when git's request or authd's answer has not come within this long")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(gitCredentialNotes)
		}
		return err
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"git-credential takes one operation: get, store or erase"}
	}
	switch fs.Arg(0) {
	case "get", "erase":
	case "capability":
		// Asked by 'git credential capability'-style callers; git reads
		// no request for it.
		_, err := io.WriteString(os.Stdout, "version 0\ncapability authtype\n")
		return err
	default:
		// store, and what later gits may add: git asks that a helper
		// ignore what it does not know. Its request is left unread (git
		// ignores SIGPIPE while it writes it).
		return nil
	}
	var req gitRequest
	err := readWithin(ctx, *timeout, "git's request", func() (err error) {
		req, err = readGitRequest(os.Stdin)
		return err
	})
	if err != nil {
		return err
	}
	h := gitHelper{profile: *profile, timeout: *timeout, interactive: !*noLogin && gitMayPrompt(os.Getenv, term.IsTerminal(int(os.Stderr.Fd())))}
	if fs.Arg(0) == "get" {
		return h.get(ctx, req, os.Stdout)
	}
	return h.erase(ctx, req)
}

// helperProfileFlags adds -p and --profile to a helper's flags: unlike
// other commands', its default is the profile whose match list fits the
// target (a remote, a registry), not the config's default profile.
func helperProfileFlags(fs *flag.FlagSet, target string) *string {
	usage := fmt.Sprintf("the profile (default: the one whose match list fits the %s); its token still goes only to a %s of its match list, or, when it has none, to https ones", target, target)
	fs.StringVar(&profileArg, "profile", "", usage)
	fs.StringVar(&profileArg, "p", "", "shorthand for --profile")
	return &profileArg
}

// gitRequest is what git tells a helper about the credential it wants.
// Attributes other than these are ignored.
type gitRequest struct {
	protocol, host, path string
	username, password   string
	authtype, credential string
	capabilities         []string
}

func (r gitRequest) can(capability string) bool {
	for _, c := range r.capabilities {
		if c == capability {
			return true
		}
	}
	return false
}

// target is the remote as config.ProfileFor reads it, "" when git named no
// http(s) host: the helper answers only for http and https (git also asks
// for smtp passwords, client certificates' passphrases, ...).
func (r gitRequest) target() string {
	if (r.protocol != "https" && r.protocol != "http") || !config.ValidHostPort(r.host) {
		return "" // and a host with user info, a path or a query in it
	}
	return r.protocol + "://" + r.host + "/" + strings.TrimPrefix(r.path, "/")
}

// readGitRequest reads key=value lines up to a blank line or EOF. Lines
// without '=' and unknown keys are skipped: the protocol grows by keys that
// older helpers ignore. A multi-valued key (capability[]) given empty
// clears its list, as in git.
func readGitRequest(r io.Reader) (gitRequest, error) {
	var req gitRequest
	lr := &io.LimitedReader{R: r, N: maxGitRequest + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 4096), maxGitLine)
	ended := false
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			ended = true
			break
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch key {
		case "protocol":
			req.protocol = value
		case "host":
			req.host = value
		case "path":
			req.path = value
		case "username":
			req.username = value
		case "password":
			req.password = value
		case "authtype":
			req.authtype = value
		case "credential":
			req.credential = value
		case "capability[]":
			if value == "" {
				req.capabilities = nil
			} else {
				req.capabilities = append(req.capabilities, value)
			}
		case "url":
			// Callers of 'git credential' may give the remote as one URL.
			// Its escapes must not smuggle in a line break.
			u, err := url.Parse(value)
			if err != nil || strings.ContainsAny(u.Path+u.User.Username(), "\r\n\x00") {
				continue
			}
			req.protocol, req.host, req.path = u.Scheme, u.Host, strings.TrimPrefix(u.Path, "/")
			if u.User != nil {
				req.username = u.User.Username()
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return req, fmt.Errorf("git's request has a line longer than %d KiB", maxGitLine>>10)
		}
		return req, fmt.Errorf("read git's request: %w", err)
	}
	if !ended && lr.N <= 0 {
		return req, fmt.Errorf("git's request is longer than %d KiB", maxGitRequest>>10)
	}
	return req, nil
}

// readWithin runs read, a read of stdin, until it returns, ctx ends
// (Ctrl-C, which a read does not heed) or timeout passes: the tool that
// runs a helper writes its request at once.
func readWithin(ctx context.Context, timeout time.Duration, what string, read func() error) error {
	done := make(chan error, 1)
	go func() { done <- read() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		return fmt.Errorf("%s did not come on stdin within %s", what, shortDuration(timeout))
	}
}

// gitMayPrompt reports whether git would prompt the user here, so that a
// login may start: stderr is a terminal (git's prompts and authc's login
// URL go there), and GIT_TERMINAL_PROMPT does not say no, as IDEs and
// scripts set it.
func gitMayPrompt(getenv func(string) string, stderrIsTerminal bool) bool {
	if !stderrIsTerminal {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(getenv("GIT_TERMINAL_PROMPT"))) {
	case "0", "false", "no", "off":
		return false
	}
	return true
}

// gitHelper answers git's requests for one run of the helper.
type gitHelper struct {
	profile     string // -p, or "" to go by the match lists
	timeout     time.Duration
	interactive bool
}

// get writes the credential for req on w, or nothing for a remote that no
// profile matches.
func (h gitHelper) get(ctx context.Context, req gitRequest, w io.Writer) error {
	target := req.target()
	if target == "" {
		return nil
	}
	profile, cfg, err := helperProfile(h.profile, target)
	if errors.Is(err, errNoProfile) {
		return nil
	}
	if err != nil {
		return err
	}
	tok, err := helperToken(ctx, client.TokenOptions{Profile: profile}, h.interactive, h.timeout)
	if err != nil {
		return err
	}
	var b strings.Builder
	if req.can("authtype") {
		// capability[]=authtype first: what depends on it follows it.
		fmt.Fprintf(&b, "capability[]=authtype\nauthtype=Bearer\ncredential=%s\nephemeral=1\n", tok.AccessToken)
	} else {
		username := req.username
		if username == "" {
			username = helperUsername(cfg, profile, defaultGitUsername)
		}
		fmt.Fprintf(&b, "username=%s\npassword=%s\n", username, tok.AccessToken)
	}
	if !tok.Expiry.IsZero() {
		// Git 2.41 and later skip a stored password once it expired.
		fmt.Fprintf(&b, "password_expiry_utc=%d\n", tok.Expiry.Unix())
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// erase tells authd that the server refused the token get answered
// (client.TokenOptions.Rejected): while it is the profile's token, authd
// refreshes it, so that the next get answers a new one. A token git cached
// elsewhere, or one authd has replaced already, is stale: erasing it costs
// no refresh. It is one call, and helpers erasing the same token at once
// share one refresh.
func (h gitHelper) erase(ctx context.Context, req gitRequest) error {
	rejected := req.password
	if req.credential != "" {
		rejected = req.credential
	}
	target := req.target()
	if rejected == "" || target == "" {
		return nil
	}
	profile, _, err := helperProfile(h.profile, target)
	if errors.Is(err, errNoProfile) {
		return nil
	}
	if err != nil {
		return err
	}
	if tok, _ := staticToken(profile); tok != "" {
		return nil // the environment's token: nothing authd can renew
	}
	_, err = helperToken(ctx, client.TokenOptions{Profile: profile, Rejected: rejected}, false, h.timeout)
	return err
}

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/buildinfo"
	"authd.dev/authd/internal/config"
)

// The docker credential helper: docker runs 'docker-credential-authd
// ACTION' for the registries that credHelpers (or credsStore, for all)
// names authd, with the server URL or a JSON credential on stdin, and
// reads JSON on stdout; a failure is its message on stdout and exit 1.
// credentials.HandleCommand, the helper side of the protocol as
// docker-credential-helpers ships it, reads and writes the bytes, so the
// format is docker's own.
//
//   - get answers {"ServerURL","Username","Secret"} with the token of the
//     profile that -p names (within its match list, if it has one), or that the config's match
//     lists map the registry to; for a registry no profile matches, exactly
//     "credentials not found in native keychain", after which docker goes
//     on without credentials.
//   - list answers every match list entry with the user name get gives.
//   - store keeps nothing, and succeeds for a registry authd serves:
//     'docker login' stores what it logged in with after it checked it,
//     and fails on an error; for a registry authd does not serve, it fails,
//     so that a password typed at 'docker login' is not silently dropped.
//   - erase ('docker logout', or a user's word that the registry refused
//     the token) refreshes the token, as git's erase does. Docker sends no
//     secret to tell a stale erase from a current one: a token authd
//     refreshed moments ago counts as the answer to the erase already. A
//     registry authd does not serve has nothing to erase.
//
// Docker runs its helper without a terminal of its own to prompt on, from
// daemons and IDEs too: no login is ever started.

// defaultDockerUsername is the user name get answers when the profile has
// no username key. Never "<token>": docker would take the secret for an
// identity (refresh) token and redeem it at the registry's token service.
const defaultDockerUsername = "oauth2"

// maxDockerRequest bounds what docker writes: a server URL, or a
// credential of a user name and a password.
const maxDockerRequest = 64 << 10

func init() {
	commands["docker-credential"] = command{
		"[-p PROFILE] [--timeout 30s] get|store|erase|list",
		"Be docker's credential helper (credHelpers: authd): answer get with a profile's access token.",
		runDockerCredential,
	}
	credentials.Name = "docker-credential-authd"
	credentials.Package = "authd.dev/authd"
}

const dockerCredentialNotes = `
Set it up with the command on PATH as docker-credential-authd (a link to
authc), and in ~/.docker/config.json:

  "credHelpers": { "registry.example.com": "authd" }

Without -p, the profile is the one whose match list fits the registry
(match = ["registry.example.com"]); a registry none fits is not found.
With -p, the token still goes only to a registry of that profile's match
list, or, for a profile without one, to any https registry.
The user name is the profile's username key, else "oauth2".

store keeps nothing: for a registry authd serves it succeeds ('docker
login' works, and get answers authd's token after it); for another it
fails, so that a password given to 'docker login' is not lost unsaid.
erase, as 'docker logout' runs it, makes authd refresh the token, unless
authd did so in the last 10s. No login is ever started: run 'authc login'.
`

func runDockerCredential(ctx context.Context, args []string) error {
	fs := flags("docker-credential")
	profile := helperProfileFlags(fs, "registry")
	timeout := timeoutFlag(fs, defaultTimeout, "give up when docker's request or authd's answer has not come within this long")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(dockerCredentialNotes)
		}
		return err
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"docker-credential takes one action: get, store, erase or list"}
	}
	credentials.Version = buildinfo.Version(version)
	action := fs.Arg(0)
	var in []byte
	switch action {
	case credentials.ActionGet, credentials.ActionStore, credentials.ActionErase:
		err := readWithin(ctx, *timeout, "docker's request", func() (err error) {
			in, err = io.ReadAll(io.LimitReader(os.Stdin, maxDockerRequest+1))
			return err
		})
		if err == nil && len(in) > maxDockerRequest {
			err = fmt.Errorf("docker's request is longer than %d KiB", maxDockerRequest>>10)
		}
		if err != nil {
			return dockerFailed(err)
		}
	}
	h := &dockerHelper{ctx: ctx, profile: *profile, timeout: *timeout}
	var out bytes.Buffer
	if err := credentials.HandleCommand(h, action, bytes.NewReader(in), &out); err != nil {
		return dockerFailed(err)
	}
	_, err := os.Stdout.Write(out.Bytes())
	return err
}

// dockerFailed writes err's one line on stdout, where docker reads a
// helper's errors, and returns an error that ends authc with exit 1 and
// nothing more on stderr: the line reaches the user through docker,
// once. The not-found error stays the protocol's exact words, which
// docker tells apart from a failure.
func dockerFailed(err error) error {
	msg := err.Error()
	if !credentials.IsErrCredentialsNotFound(err) {
		_, msg = explain(err)
	}
	fmt.Fprintln(os.Stdout, msg)
	return errReported
}

// errReported is an error its command has shown the user already: explain
// makes it exit 1 with no line of its own.
var errReported = reportedError{}

type reportedError struct{}

func (reportedError) Error() string { return "" }

// dockerHelper is credentials.Helper on authd, for one run of the helper.
type dockerHelper struct {
	ctx     context.Context
	profile string // -p, or "" to go by the match lists
	timeout time.Duration
}

// profileFor is the profile for serverURL and the configuration (nil when
// it cannot be read and -p was given); a registry no profile matches is
// credentials' not-found error.
func (h *dockerHelper) profileFor(serverURL string) (string, *config.Config, error) {
	profile, cfg, err := helperProfile(h.profile, serverURL)
	if errors.Is(err, errNoProfile) {
		return "", nil, credentials.NewErrCredentialsNotFound()
	}
	return profile, cfg, err
}

func (h *dockerHelper) Get(serverURL string) (username, secret string, err error) {
	profile, cfg, err := h.profileFor(serverURL)
	if err != nil {
		return "", "", err
	}
	tok, err := helperToken(h.ctx, client.TokenOptions{Profile: profile}, false, h.timeout)
	if err != nil {
		return "", "", err
	}
	return helperUsername(cfg, profile, defaultDockerUsername), tok.AccessToken, nil
}

func (h *dockerHelper) Add(c *credentials.Credentials) error {
	_, _, err := h.profileFor(c.ServerURL)
	if credentials.IsErrCredentialsNotFound(err) {
		return fmt.Errorf("authd keeps no passwords, and no profile's match list names %s: store its credentials elsewhere, or add it to a profile's match list", c.ServerURL)
	}
	return err
}

func (h *dockerHelper) Delete(serverURL string) error {
	profile, _, err := h.profileFor(serverURL)
	if credentials.IsErrCredentialsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if tok, _ := staticToken(profile); tok != "" {
		return nil // the environment's token: nothing authd can renew
	}
	if h.refreshedLately(profile) {
		return nil
	}
	_, err = helperToken(h.ctx, client.TokenOptions{Profile: profile, ForceRefresh: true}, false, h.timeout)
	return err
}

// freshToken is how long after a refresh docker's erase leaves the token
// alone: docker erases every spelling of a registry it knows ("host:port",
// "http://host:port") one after the other, and without the secret it gave
// up on, the helper cannot tell its second erase from a first. A token
// this new is not the one docker's user is done with.
const freshToken = 10 * time.Second

// refreshedLately reports whether authd refreshed profile's token within
// freshToken; false when it cannot tell.
func (h *dockerHelper) refreshedLately(profile string) bool {
	st, err := callDaemon(h.ctx, h.timeout, (*client.Client).Status)
	if err != nil {
		return false
	}
	for _, p := range st.Profiles {
		if p.Name == profile {
			return !p.LastRefresh.IsZero() && time.Since(p.LastRefresh) < freshToken
		}
	}
	return false
}

// List answers every entry of the match lists (of -p's profile only, when
// given) with the user name get gives for it. An entry that two profiles
// list belongs to the one get picks.
func (h *dockerHelper) List() (map[string]string, error) {
	cfg, err := readConfig()
	if err != nil {
		return nil, &daemonError{reason: api.InvalidConfig, msg: fmt.Sprintf("cannot read the configuration: %v", err), cause: err}
	}
	out := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Profiles)) {
		if h.profile != "" && name != h.profile {
			continue
		}
		for _, entry := range cfg.Profiles[name].Match {
			owner := name
			if h.profile == "" {
				if o, ok := cfg.ProfileFor(entry); ok {
					owner = o
				}
			}
			out[entry] = helperUsername(cfg, owner, defaultDockerUsername)
		}
	}
	return out, nil
}

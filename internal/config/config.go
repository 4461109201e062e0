// Package config reads authd's profiles file: a TOML file that names the
// identity providers a user logs in to, and how the daemon keeps their
// credentials.
//
// # Where the file is
//
// [DefaultPath] is $AUTHD_CONFIG, else $XDG_CONFIG_HOME/authd/config.toml,
// else the platform's user config directory (os.UserConfigDir) plus
// authd/config.toml. [Load] reads and validates it; [Parse] validates bytes
// that came from elsewhere. A file that does not exist is an error wrapping
// fs.ErrNotExist: a daemon that wants to run with no profiles uses
// Parse(path, nil), which gives the default [Keyring] settings and no
// profiles.
//
// # The file
//
//	default_profile = "work"
//	autostart = true          # authc starts the daemon when it is not running
//
//	[compat]
//	oidc_agent_socket = ""    # also serve oidc-agent's clients here (off when empty)
//
//	[keyring]
//	backend = "auto"          # auto | keychain | secret-service | kwallet | wincred | keyctl | pass | file
//	file_dir = ""             # file backend; default $XDG_DATA_HOME/authd/keyring
//	passphrase_file = ""
//	timeout = "10s"           # every keyring call
//
//	[profiles.work]
//	issuer = "https://idp.example.com"
//	client_id = "authd-cli"
//	scopes = ["openid", "profile", "email", "offline_access"]
//	flow = "auto"             # auto | browser | device | client_credentials
//	extra_auth_params = { prompt = "consent" }
//	match = ["git.example.com", "https://registry.example.com/team/"]  # for the git, docker and kubectl helpers
//	username = "oauth2"       # the user name the git and docker helpers give
//
// See [Profile] and [Keyring] for every key, its default and its rules. Paths
// (ca_file, success_html, failure_html, file_dir, passphrase_file) may start
// with "~/"; relative paths are relative to the directory of the file.
//
// # Errors
//
// Every problem in the file is an [*Error] that names the file, the line
// and the full dotted key, for example
//
//	/home/u/.config/authd/config.toml:12: profiles.work.flow: must be one of auto, browser, device, client_credentials; not "pkce"
//
// Unknown keys are errors, so a typo never silently falls back to a
// default. A key that is missing is reported at the line of its table. A
// file's problems are reported together, as [Errors]: up to five, unknown
// keys first, then in file order. The rules across keys of a profile
// (token_endpoint when there is no issuer, ...) are checked once its keys
// are valid, and a key a misspelt one stands for is not also reported
// missing. [Config.Profile] returns errors wrapping [ErrProfileNotFound].
//
// # Secrets
//
// A profile may hold a client_secret, for confidential clients (and the
// client_credentials flow). The file is then as sensitive as the keyring:
// keep it mode 0600. [Profile.String] and [Profile.LogValue] leave the secret
// out, and no error of this package quotes a value of client_secret.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"authd.dev/authd/internal/regularfile"
)

// ErrProfileNotFound is wrapped by the errors of [Config.Profile] when the
// asked-for profile, or a default one, does not exist.
var ErrProfileNotFound = errors.New("profile not found")

// Flows a profile can use; see [Profile.Flow].
const (
	FlowAuto              = "auto"
	FlowBrowser           = "browser"
	FlowDevice            = "device"
	FlowClientCredentials = "client_credentials"
)

// Keyring backends; see [Keyring.Backend].
const (
	BackendAuto          = "auto"
	BackendKeychain      = "keychain"
	BackendSecretService = "secret-service"
	BackendKWallet       = "kwallet"
	BackendWinCred       = "wincred"
	BackendKeyctl        = "keyctl"
	BackendPass          = "pass"
	BackendFile          = "file"
)

// Defaults of the values a file may leave out.
const (
	DefaultKeyringTimeout = 10 * time.Second
	DefaultTimeout        = 30 * time.Second
	DefaultLoginTimeout   = 5 * time.Minute
	DefaultRedirectPath   = "/callback"
	DefaultTokenLifetime  = 5 * time.Minute
)

var (
	flows    = []string{FlowAuto, FlowBrowser, FlowDevice, FlowClientCredentials}
	backends = []string{BackendAuto, BackendKeychain, BackendSecretService, BackendKWallet,
		BackendWinCred, BackendKeyctl, BackendPass, BackendFile}
)

// DefaultScopes are the scopes of a profile with an issuer that sets none.
func DefaultScopes() []string {
	return []string{"openid", "profile", "email", "offline_access"}
}

// Config is a validated profiles file.
type Config struct {
	// Path is the file the configuration came from.
	Path string
	// DefaultProfile is the profile used when none is named (toml
	// default_profile); it names an existing profile, or is empty.
	DefaultProfile string
	Keyring        Keyring
	// Profiles are keyed by name (the NAME of [profiles.NAME]).
	Profiles map[string]*Profile
	// ProfilesExplicit is true when the file has a profiles table, even an
	// empty one (profiles = {} or [profiles]). An empty file, or one that
	// just lost its profiles, has none: a reload can tell "remove every
	// profile" from a file that was truncated or not yet written.
	ProfilesExplicit bool
	// Autostart lets authc start the daemon when it is not running (toml
	// autostart); default true. AUTHD_NO_AUTOSTART=1 also turns it off.
	Autostart bool
	// OIDCAgentSocket is where the daemon also serves oidc-agent's clients
	// (toml [compat] oidc_agent_socket, a path); empty, the
	// default, for not at all.
	OIDCAgentSocket string
}

// Keyring is the [keyring] table: where the daemon keeps credentials.
type Keyring struct {
	// Backend is one of the Backend constants; "auto" (the default) picks
	// the platform's keyring.
	Backend string
	// FileDir is the directory of the encrypted file backend (toml file_dir);
	// default $XDG_DATA_HOME/authd/keyring, else ~/.local/share/authd/keyring.
	FileDir string
	// PassphraseFile holds the file backend's passphrase (toml
	// passphrase_file); empty means AUTHD_KEYRING_PASSPHRASE. It need not
	// exist when the file is loaded.
	PassphraseFile string
	// Timeout bounds every keyring call (toml timeout, a Go duration
	// string); default 10s.
	Timeout time.Duration
}

// Profile is one [profiles.NAME] table: an identity provider and a client
// registered with it.
type Profile struct {
	Name string
	// Issuer is the OIDC issuer URL, used for discovery. It must be https;
	// http is allowed for loopback hosts (127.0.0.1, localhost, [::1]).
	Issuer string
	// The endpoints override discovery, or replace it for plain OAuth2
	// providers (no Issuer), which need at least TokenEndpoint. Same URL
	// rules as Issuer.
	AuthorizationEndpoint       string
	TokenEndpoint               string
	DeviceAuthorizationEndpoint string
	RevocationEndpoint          string
	// ClientID is required.
	ClientID string
	// ClientSecret is for confidential clients only. A client_credentials
	// profile should keep its secret in the keyring instead ('authc login
	// --client-secret-stdin'). Never log it; see the package doc.
	ClientSecret string
	// Scopes default to [DefaultScopes] when Issuer is set, and to none
	// otherwise. An explicit empty list is kept.
	Scopes []string
	// Audience is sent as the audience parameter when set (e.g. Auth0 APIs).
	Audience string
	// Flow is one of the Flow constants; default "auto".
	Flow string
	// RedirectPort is the loopback redirect port, 0 (the default) for an
	// ephemeral one.
	RedirectPort int
	// RedirectPath is the loopback redirect path; default "/callback".
	RedirectPath string
	// ExtraAuthParams are added to the authorization request. They may not
	// replace the parameters authd sets itself (state, nonce, PKCE, ...).
	ExtraAuthParams map[string]string
	// AuthParamsInTokenRequest sends ExtraAuthParams with the token request
	// too (FlyteAdmin-style providers).
	AuthParamsInTokenRequest bool
	// CAFile is an extra PEM CA bundle (absolute path once loaded).
	CAFile             string
	InsecureSkipVerify bool
	// SuccessHTML and FailureHTML are html/template files for the browser's
	// last page (absolute paths once loaded); empty means the built-in pages.
	SuccessHTML string
	FailureHTML string
	// Timeout bounds each request to the provider; default 30s.
	Timeout time.Duration
	// LoginTimeout bounds an interactive login (toml login_timeout);
	// default 5m.
	LoginTimeout time.Duration
	// TokenLifetime is how long an access token is taken to live when the
	// provider's token response gives no usable expires_in and the token
	// is no JWT with an exp claim (toml token_lifetime); default 5m.
	TokenLifetime time.Duration
	// Match lists the hosts ("git.example.com", "registry:5000") and URL
	// prefixes ("https://git.example.com/team/") whose credential helpers
	// (git, docker, kubectl) use this profile; see [Config.ProfileFor].
	Match []string
	// Username is what the git and docker helpers give as the user name
	// beside the token (e.g. "oauth2" for GitLab, "x-access-token" for
	// GitHub); empty for the helper's own default.
	Username string
}

// String describes the profile without its client secret.
func (p *Profile) String() string {
	where := p.Issuer
	if where == "" {
		where = p.TokenEndpoint
	}
	return fmt.Sprintf("profile %q (%s, client %q, flow %s)", p.Name, where, p.ClientID, p.Flow)
}

// LogValue lets log/slog print the profile without its client secret.
func (p *Profile) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", p.Name),
		slog.String("issuer", p.Issuer),
		slog.String("token_endpoint", p.TokenEndpoint),
		slog.String("client_id", p.ClientID),
		slog.Bool("client_secret_set", p.ClientSecret != ""),
		slog.String("flow", p.Flow),
	)
}

// Profile returns the profile called name or, when name is "", the default
// one: DefaultProfile, or the only profile when there is exactly one.
func (c *Config) Profile(name string) (*Profile, error) {
	if name == "" {
		switch {
		case c.DefaultProfile != "":
			name = c.DefaultProfile
		case len(c.Profiles) == 1:
			for _, p := range c.Profiles {
				return p, nil
			}
		case len(c.Profiles) == 0:
			return nil, fmt.Errorf("%w: %s has no profiles", ErrProfileNotFound, c.Path)
		default:
			return nil, fmt.Errorf("%w: no profile named and %s has %d profiles but no default_profile",
				ErrProfileNotFound, c.Path, len(c.Profiles))
		}
	}
	if p, ok := c.Profiles[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: no profile %q in %s", ErrProfileNotFound, name, c.Path)
}

// Error is a problem in a configuration file, at a line and key. It does not
// wrap the error behind it (such as a missing ca_file), so that only a
// missing configuration file itself matches fs.ErrNotExist.
type Error struct {
	File string
	// Line is 1-based; 0 when unknown.
	Line int
	// Key is the full dotted key, e.g. profiles.work.client_id; empty for
	// syntax errors.
	Key string
	Msg string
}

// Error returns "file:line: key: msg", leaving out what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File == "" {
			b.WriteString("line ")
		} else {
			b.WriteString(":")
		}
		b.WriteString(strconv.Itoa(e.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are the problems of one file, at most five, in the order a reader
// fixes them: unknown keys first (a misspelt key also makes the real one
// look missing), then the others, each in file order. [Load] and [Parse]
// return them with at least one element; errors.As finds the first [*Error].
type Errors []*Error

// Error returns the problems one a line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.As.
func (e Errors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, err := range e {
		errs[i] = err
	}
	return errs
}

// DefaultPath returns $AUTHD_CONFIG, else $XDG_CONFIG_HOME/authd/config.toml,
// else authd/config.toml in os.UserConfigDir. The result is absolute.
func DefaultPath() (string, error) {
	if p := os.Getenv("AUTHD_CONFIG"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("config path from AUTHD_CONFIG: %w", err)
		}
		return abs, nil
	}
	// os.UserConfigDir reads XDG_CONFIG_HOME only on Unix; authd honours it
	// everywhere. A relative value is invalid per the XDG spec.
	if dir := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "authd", "config.toml"), nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("config path: %w", err)
	}
	return filepath.Join(dir, "authd", "config.toml"), nil
}

// Load reads and validates the file at path without reading the files it
// names: Reader{}.Load. A missing file is an error wrapping fs.ErrNotExist;
// problems in the file are [Errors].
func Load(path string) (*Config, error) { return Reader{}.Load(path) }

// Parse validates data as if read from path without reading the files it
// names: Reader{}.Parse.
func Parse(path string, data []byte) (*Config, error) { return Reader{}.Parse(path, data) }

// Reader reads configuration files. Its zero value resolves the paths of
// the files a profile names (ca_file, success_html, failure_html) without
// reading them, which is what a client needs; the daemon sets CheckFile so
// that a bad CA bundle or page template is a problem of the file, at its
// line, and a reload with one keeps the old configuration.
type Reader struct {
	// CheckFile checks the content of the file at path that key names,
	// read and bounded by MaxFileSize; its error is reported at key's line.
	CheckFile func(key, path string, content []byte) error
}

// Load reads and validates the file at path. A missing file is an error
// wrapping fs.ErrNotExist; problems in the file are [Errors].
func (r Reader) Load(path string) (*Config, error) {
	data, err := regularfile.Read(path, MaxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return r.Parse(path, data)
}

// MaxConfigSize bounds the configuration file: ten thousand profiles fit in
// a few megabytes, and /dev/zero must not grow the daemon without limit.
const MaxConfigSize = 16 << 20

// MaxFileSize bounds every file a profile names (CA bundles, page
// templates): they are small, and a path such as /dev/zero must not grow the
// daemon without limit.
const MaxFileSize = 1 << 20

// Parse validates data as if read from path: path names the file in errors,
// and relative paths in the file are relative to its directory.
func (r Reader) Parse(path string, data []byte) (*Config, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // as some editors save it
	d, err := newDecoder(path, data, r.CheckFile)
	if err != nil {
		return nil, err
	}
	cfg := d.config()
	if err := d.problems(); err != nil {
		return nil, err
	}
	return cfg, nil
}

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// diffFields reports every field that differs between two structs.
func diffFields(t *testing.T, what string, got, want any) {
	t.Helper()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			t.Errorf("%s.%s = %#v, want %#v", what, g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
		}
	}
}

func TestParseEveryKey(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	writeFile(t, dir, "certs/ca.pem", "not read: the zero Reader only resolves paths\n")
	writeFile(t, home, "pages/ok.html", `<p>Logged in to {{.Profile}}.</p>`)
	writeFile(t, dir, "fail.html", `<p>{{.Error}}</p>`)

	data := `# authd
default_profile = "work"

[keyring]
backend = "file"
file_dir = "~/keys"
passphrase_file = "pass.txt"
timeout = "3s"

[profiles.work]
issuer = "https://idp.example.com/realms/x"
authorization_endpoint = "https://idp.example.com/auth"
token_endpoint = "https://idp.example.com/token?tenant=a"
device_authorization_endpoint = "https://idp.example.com/device"
revocation_endpoint = "https://idp.example.com/revoke"
client_id = "authd-cli"
client_secret = "s3cret"
scopes = [
  "openid",   # a comment
  "groups",
]
audience = "api://x"
flow = "device"
redirect_port = 8400
redirect_path = "/cb"
extra_auth_params = { prompt = "consent", "acr_values" = "mfa" }
auth_params_in_token_request = true
ca_file = "certs/ca.pem"
insecure_skip_verify = true
success_html = "~/pages/ok.html"
failure_html = "fail.html"
timeout = "45s"
login_timeout = "2m30s"
token_lifetime = "1h"

[profiles."local.dev"]
issuer = "http://127.0.0.1:5556/dex"
client_id = "dev"
`
	cfg, err := Parse(path, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != path || cfg.DefaultProfile != "work" {
		t.Errorf("Path, DefaultProfile = %q, %q; want %q, work", cfg.Path, cfg.DefaultProfile, path)
	}
	diffFields(t, "Keyring", cfg.Keyring, Keyring{
		Backend:        "file",
		FileDir:        filepath.Join(home, "keys"),
		PassphraseFile: filepath.Join(dir, "pass.txt"),
		Timeout:        3 * time.Second,
	})
	if len(cfg.Profiles) != 2 {
		t.Fatalf("got %d profiles, want 2", len(cfg.Profiles))
	}
	diffFields(t, "work", *cfg.Profiles["work"], Profile{
		Name:                        "work",
		Issuer:                      "https://idp.example.com/realms/x",
		AuthorizationEndpoint:       "https://idp.example.com/auth",
		TokenEndpoint:               "https://idp.example.com/token?tenant=a",
		DeviceAuthorizationEndpoint: "https://idp.example.com/device",
		RevocationEndpoint:          "https://idp.example.com/revoke",
		ClientID:                    "authd-cli",
		ClientSecret:                "s3cret",
		Scopes:                      []string{"openid", "groups"},
		Audience:                    "api://x",
		Flow:                        FlowDevice,
		RedirectPort:                8400,
		RedirectPath:                "/cb",
		ExtraAuthParams:             map[string]string{"prompt": "consent", "acr_values": "mfa"},
		AuthParamsInTokenRequest:    true,
		CAFile:                      filepath.Join(dir, "certs", "ca.pem"),
		InsecureSkipVerify:          true,
		SuccessHTML:                 filepath.Join(home, "pages", "ok.html"),
		FailureHTML:                 filepath.Join(dir, "fail.html"),
		Timeout:                     45 * time.Second,
		LoginTimeout:                150 * time.Second,
		TokenLifetime:               time.Hour,
	})
	diffFields(t, "local.dev", *cfg.Profiles["local.dev"], Profile{
		Name:          "local.dev",
		Issuer:        "http://127.0.0.1:5556/dex",
		ClientID:      "dev",
		Scopes:        []string{"openid", "profile", "email", "offline_access"},
		Flow:          FlowAuto,
		RedirectPath:  "/callback",
		Timeout:       30 * time.Second,
		LoginTimeout:  5 * time.Minute,
		TokenLifetime: 5 * time.Minute,
	})
}

func TestParseDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", "")
	const path = "/nonexistent/authd/config.toml"

	cfg, err := Parse(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Profiles) != 0 || cfg.DefaultProfile != "" || cfg.Path != path {
		t.Errorf("empty file: got %+v", cfg)
	}
	diffFields(t, "Keyring", cfg.Keyring, Keyring{
		Backend: "auto",
		FileDir: filepath.Join(home, ".local", "share", "authd", "keyring"),
		Timeout: 10 * time.Second,
	})

	data := `
[keyring]
file_dir = ""      # empty means the default

[profiles.plain]
token_endpoint = "https://as.example.com/token"
authorization_endpoint = "https://as.example.com/authorize"
client_id = "c"

[profiles.noscopes]
issuer = "https://idp.example.com"
client_id = "c"
scopes = []
client_secret = ""

[profiles.machine]
token_endpoint = "https://as.example.com/token"
client_id = "c"
client_secret = "s"
flow = "client_credentials"
`
	t.Setenv("XDG_DATA_HOME", "/xdg/data")
	cfg, err = Parse(path, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Keyring.FileDir, "/xdg/data/authd/keyring"; got != want {
		t.Errorf("FileDir = %q, want %q", got, want)
	}
	for name, want := range map[string][]string{"plain": {}, "noscopes": {}, "machine": {}} {
		p := cfg.Profiles[name]
		if p == nil || p.Scopes == nil || !reflect.DeepEqual(p.Scopes, want) {
			t.Errorf("profile %s: Scopes = %#v, want %#v", name, p.Scopes, want)
		}
	}
	if p := cfg.Profiles["plain"]; p.Flow != "auto" || p.RedirectPort != 0 || p.RedirectPath != "/callback" ||
		p.Timeout != 30*time.Second || p.LoginTimeout != 5*time.Minute || p.ExtraAuthParams != nil {
		t.Errorf("plain: defaults not applied: %#v", *p)
	}
}

// TestParseDesignExample parses the example of DESIGN.md, empty values and
// all.
func TestParseDesignExample(t *testing.T) {
	t.Parallel()
	data := `default_profile = "work"

[keyring]
backend = "auto"          # auto | keychain | secret-service | kwallet | wincred | keyctl | pass | file
file_dir = ""             # file backend; passphrase from AUTHD_KEYRING_PASSPHRASE or passphrase_file
passphrase_file = ""

[profiles.work]
issuer = "https://idp.example.com"   # OIDC discovery; or set the endpoints below (plain OAuth2)
# authorization_endpoint = ""  token_endpoint = ""  device_authorization_endpoint = ""
client_id = "authd-cli"
client_secret = ""        # confidential clients only
scopes = ["openid", "profile", "email", "offline_access"]
audience = ""             # e.g. Auth0 APIs
flow = "auto"             # auto | browser | device | client_credentials
redirect_port = 0         # 0: ephemeral loopback port; set when the IdP needs an exact URI
redirect_path = "/callback"
extra_auth_params = {}    # e.g. { prompt = "consent" }
auth_params_in_token_request = false   # FlyteAdmin-style providers
ca_file = ""              # extra CA bundle; insecure_skip_verify = false
success_html = ""         # template files for the browser's last page
failure_html = ""
`
	cfg, err := Parse("/nonexistent/config.toml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Profile("")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "work" || p.ClientID != "authd-cli" || p.CAFile != "" || p.SuccessHTML != "" || len(p.ExtraAuthParams) != 0 {
		t.Errorf("work = %#v", *p)
	}
}

// TestParseErrors checks the exact message, line and key of every problem a
// file can have.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	const path = "/nonexistent/authd/config.toml"
	// work is a valid profile on lines 1-3; cases add lines from 4 on.
	const work = "[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n"
	const plain = "[profiles.p]\ntoken_endpoint = \"https://as.example.com/token\"\nclient_id = \"c\"\n"
	tests := []struct {
		name, data, want string
	}{
		// Syntax.
		{"syntax", "a = ", "1: syntax error: expected value, not end of input"},
		{"syntax later line", work + "audience = \"x", "4: syntax error: unterminated basic string"},
		{"duplicate key", work + "client_id = \"d\"", "4: syntax error: key client_id is already defined"},
		{"table defined twice", work + "[profiles.work]", "4: syntax error: table work already exists"},

		// Unknown keys.
		{"unknown top-level", "\n\nprofile = \"work\"", "3: profile: unknown key (did you mean profiles?)"},
		{"unknown keyring key", "[keyring]\nbackend = \"auto\"\npasphrase = \"x\"", "3: keyring.pasphrase: unknown key"},
		{"unknown profile key", work + "scope = [\"a\"]", "4: profiles.work.scope: unknown key (did you mean scopes?)"},
		{"unknown dashed key", work + "client-secret = \"x\"", "4: profiles.work.client-secret: unknown key (did you mean client_secret?)"},
		{"unknown dotted key", "profiles.work.issuer = \"https://idp.example.com\"\nprofiles.work.client_id = \"c\"\nprofiles.work.bogus = 1",
			"3: profiles.work.bogus: unknown key"},
		{"unknown in inline table", "[profiles]\nw = { client_id = \"c\", issuer = \"https://x.example\", bogus = 1 }",
			"2: profiles.w.bogus: unknown key"},
		{"unknown in inline table after multi-line array", "[profiles]\nw = { issuer = \"https://x.example\", scopes = [\n  \"a\",\n], bogus = 1, client_id = \"c\" }",
			"4: profiles.w.bogus: unknown key"},
		{"unknown after multi-line string", work + "audience = \"\"\"\nx\n[not.a.table]\n\"\"\"\nbogus = 1",
			"8: profiles.work.bogus: unknown key"},
		{"unknown quoted key", work + "\"a.b\" = 1", `4: profiles.work."a.b": unknown key`},

		// Wrong types.
		{"default_profile type", "default_profile = 1", "1: default_profile: must be a string, not integer"},
		{"keyring not a table", "keyring = \"file\"", "1: keyring: must be a table, not string"},
		{"profiles not a table", "profiles = []", "1: profiles: must be a table, not array"},
		{"profile not a table", "[profiles]\nwork = \"x\"", "2: profiles.work: must be a table, not string"},
		{"profile array of tables", "[[profiles.work]]\nclient_id = \"c\"", "1: profiles.work: must be a table, not array"},
		{"client_id type", "[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = 7", "3: profiles.work.client_id: must be a string, not integer"},
		{"client_secret type hides nothing", work + "client_secret = 12345", "4: profiles.work.client_secret: must be a string, not integer"},
		{"audience datetime", work + "audience = 1979-05-27", "4: profiles.work.audience: must be a string, not datetime"},
		{"bool type", work + "insecure_skip_verify = \"yes\"", "4: profiles.work.insecure_skip_verify: must be a boolean, not string"},
		{"bool type 2", work + "auth_params_in_token_request = 1", "4: profiles.work.auth_params_in_token_request: must be a boolean, not integer"},
		{"port type", work + "redirect_port = \"8080\"", "4: profiles.work.redirect_port: must be an integer, not string"},
		{"port float", work + "redirect_port = 8080.0", "4: profiles.work.redirect_port: must be an integer, not float"},
		{"scopes type", work + "scopes = \"openid email\"", "4: profiles.work.scopes: must be an array of strings, not string"},
		{"scopes element type", work + "scopes = [\n  \"openid\",\n  2,\n]", "4: profiles.work.scopes: element 2 must be a string, not integer"},
		{"scopes element with space", work + "scopes = [\"openid email\"]", `4: profiles.work.scopes: element 1 is not a valid scope: "openid email"`},
		{"scopes element empty", work + "scopes = [\"openid\", \"\"]", `4: profiles.work.scopes: element 2 is not a valid scope: ""`},
		{"extra_auth_params type", work + "extra_auth_params = \"prompt=consent\"", "4: profiles.work.extra_auth_params: must be a table, not string"},
		{"extra_auth_params value type", work + "extra_auth_params = { max_age = 0 }", "4: profiles.work.extra_auth_params.max_age: must be a string, not integer"},
		{"extra_auth_params reserved", work + "[profiles.work.extra_auth_params]\nprompt = \"login\"\nstate = \"x\"",
			"6: profiles.work.extra_auth_params.state: reserved: authd sets this parameter itself"},
		{"duration type", work + "timeout = 30", `4: profiles.work.timeout: must be a duration string such as "30s", not integer`},

		// Required keys, reported at the line of the profile's table.
		{"missing client_id", "# c\n\n[profiles.work]\nissuer = \"https://idp.example.com\"", "3: profiles.work.client_id: required"},
		{"empty client_id", "[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = \"\"", "3: profiles.work.client_id: required"},
		{"missing client_id, table seen again later", "[profiles.work]\nissuer = \"https://idp.example.com\"\n\n[profiles.work.extra_auth_params]\nprompt = \"login\"",
			"1: profiles.work.client_id: required"},
		{"missing client_id inline", "[profiles]\nw = { issuer = \"https://idp.example.com\" }", "2: profiles.w.client_id: required"},
		{"missing client_id dotted", "\nprofiles.w.issuer = \"https://idp.example.com\"", "2: profiles.w.client_id: required"},
		{"no issuer no token endpoint", "[profiles.p]\nauthorization_endpoint = \"https://as.example.com/a\"\nclient_id = \"c\"",
			"1: profiles.p.token_endpoint: required when issuer is not set"},
		{"plain auto without interactive endpoint", plain,
			`1: profiles.p.authorization_endpoint: flow "auto" needs authorization_endpoint or device_authorization_endpoint when issuer is not set`},
		{"plain browser", plain + "device_authorization_endpoint = \"https://as.example.com/d\"\nflow = \"browser\"",
			`1: profiles.p.authorization_endpoint: required for flow "browser" when issuer is not set`},
		{"plain device", plain + "authorization_endpoint = \"https://as.example.com/a\"\nflow = \"device\"",
			`1: profiles.p.device_authorization_endpoint: required for flow "device" when issuer is not set`},

		// URLs.
		{"url unparsable", work + "token_endpoint = \"https://as example.com/t\"", `4: profiles.work.token_endpoint: not a valid URL: invalid character " " in host name`},
		{"url no scheme", "[profiles.work]\nclient_id = \"c\"\nissuer = \"idp.example.com\"", "3: profiles.work.issuer: not a valid URL: want an absolute https URL such as https://idp.example.com"},
		{"url http", "[profiles.work]\nclient_id = \"c\"\nissuer = \"http://idp.example.com\"", "3: profiles.work.issuer: must use https (http is allowed only for 127.0.0.1, localhost and [::1])"},
		{"url http other loopback", work + "revocation_endpoint = \"http://127.0.0.2/r\"", "4: profiles.work.revocation_endpoint: must use https (http is allowed only for 127.0.0.1, localhost and [::1])"},
		{"url scheme", work + "authorization_endpoint = \"ftp://idp.example.com/a\"", "4: profiles.work.authorization_endpoint: must use https, not ftp"},
		{"url credentials", work + "device_authorization_endpoint = \"https://u:p@idp.example.com/d\"", "4: profiles.work.device_authorization_endpoint: must not contain credentials"},
		{"url fragment", work + "token_endpoint = \"https://idp.example.com/t#x\"", "4: profiles.work.token_endpoint: must not contain a fragment"},
		{"issuer query", "[profiles.work]\nclient_id = \"c\"\nissuer = \"https://idp.example.com/?tenant=a\"", "3: profiles.work.issuer: must not contain a query"},

		// Values.
		{"bad duration", work + "timeout = \"30\"", `4: profiles.work.timeout: not a valid duration: "30" (use a Go duration such as "30s" or "5m")`},
		{"bad login_timeout", work + "login_timeout = \"5 minutes\"", `4: profiles.work.login_timeout: not a valid duration: "5 minutes" (use a Go duration such as "30s" or "5m")`},
		{"zero duration", work + "login_timeout = \"0s\"", `4: profiles.work.login_timeout: must be positive, not "0s"`},
		{"bad keyring timeout", "[keyring]\ntimeout = \"-1s\"", `2: keyring.timeout: must be positive, not "-1s"`},
		{"bad flow", work + "flow = \"pkce\"", `4: profiles.work.flow: must be one of auto, browser, device, client_credentials; not "pkce"`},
		{"bad backend", "[keyring]\nbackend = \"gnome-keyring\"", `2: keyring.backend: must be one of auto, keychain, secret-service, kwallet, wincred, keyctl, pass, file; not "gnome-keyring"`},
		{"default_profile unknown", "default_profile = \"home\"\n" + work, `1: default_profile: no profile "home" in this file`},
		{"default_profile without profiles", "\ndefault_profile = \"home\"", `2: default_profile: no profile "home" in this file`},
		{"profile name space", "[profiles.\"my work\"]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"", `1: profiles."my work": profile name must match [A-Za-z0-9_.-]+`},
		{"profile name unicode", "[profiles]\n\"caf\u00e9\" = { issuer = \"https://idp.example.com\", client_id = \"c\" }", `2: profiles."caf` + "\u00e9" + `": profile name must match [A-Za-z0-9_.-]+`},
		{"port too large", work + "redirect_port = 65536", "4: profiles.work.redirect_port: must be between 0 and 65535, not 65536"},
		{"port negative", work + "redirect_port = -1", "4: profiles.work.redirect_port: must be between 0 and 65535, not -1"},
		{"redirect_path", work + "redirect_path = \"callback\"", `4: profiles.work.redirect_path: must start with "/"`},
		// A router pattern once reached the login's ServeMux and panicked the daemon.
		{"redirect_path wildcard", work + "redirect_path = \"/{\"", `4: profiles.work.redirect_path: must be a plain path such as "/callback" (letters, digits and . _ ~ - between slashes), not "/{"`},
		{"redirect_path space", work + "redirect_path = \"/a b\"", `4: profiles.work.redirect_path: must be a plain path such as "/callback" (letters, digits and . _ ~ - between slashes), not "/a b"`},
		{"redirect_path query", work + "redirect_path = \"/cb?x=1\"", `4: profiles.work.redirect_path: must be a plain path such as "/callback" (letters, digits and . _ ~ - between slashes), not "/cb?x=1"`},
		{"redirect_path dotdot", work + "redirect_path = \"/a/../b\"", `4: profiles.work.redirect_path: must not contain ".." segments`},
		{"redirect_path empty segment", work + "redirect_path = \"//cb\"", `4: profiles.work.redirect_path: must be a plain path such as "/callback" (letters, digits and . _ ~ - between slashes), not "//cb"`},

		// Several problems: every one (up to five), unknown keys first, then
		// in file order, whatever the order of checks.
		{"all in file order", "[profiles.work]\ntimeout = \"x\"\nissuer = \"nope\"\nclient_id = \"c\"",
			`2: profiles.work.timeout: not a valid duration: "x" (use a Go duration such as "30s" or "5m")` + "\n" +
				path + ":3: profiles.work.issuer: not a valid URL: want an absolute https URL such as https://idp.example.com"},
		{"all across tables, unknown keys first", "[profiles.b]\nbogus = 1\n[profiles.a]\nissuer = \"nope\"\nclient_id = \"c\"\n[keyring]\nbackend = \"x\"",
			"2: profiles.b.bogus: unknown key\n" +
				path + ":1: profiles.b.client_id: required\n" +
				path + ":4: profiles.a.issuer: not a valid URL: want an absolute https URL such as https://idp.example.com\n" +
				path + `:7: keyring.backend: must be one of auto, keychain, secret-service, kwallet, wincred, keyctl, pass, file; not "x"`},
		{"unknown key, not the missing one it explains", "[profiles.a]\nissuer = \"https://x.example\"\nclient_idd = \"c\"",
			"3: profiles.a.client_idd: unknown key (did you mean client_id?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse(path, []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", cfg)
			}
			if got, want := err.Error(), path+":"+tt.want; got != want {
				t.Errorf("error:\n got %s\nwant %s", got, want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != path || ce.Line == 0 {
				t.Errorf("error is not an *Error with file and line: %#v", err)
			}
			if errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error wraps fs.ErrNotExist, so the daemon would take it for a missing file")
			}
			if strings.Contains(err.Error(), "12345") {
				t.Errorf("error quotes the client secret")
			}
		})
	}
}

func TestParseAcceptsLoopbackHTTP(t *testing.T) {
	t.Parallel()
	for _, issuer := range []string{"http://127.0.0.1:5556/dex", "http://localhost:8080", "http://[::1]:9000/"} {
		data := fmt.Sprintf("[profiles.dev]\nissuer = %q\nclient_id = \"c\"\n", issuer)
		if _, err := Parse("/nonexistent/config.toml", []byte(data)); err != nil {
			t.Errorf("issuer %s: %v", issuer, err)
		}
	}
}

// TestParseLeavesFilesUnread checks that the zero Reader, authc's, only
// resolves the paths of the files a profile names: a FIFO or a device there
// must not hang or grow a client. The daemon's checks are flow's
// (TestReaderChecksFiles there).
func TestParseLeavesFilesUnread(t *testing.T) {
	t.Parallel()
	const work = "[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n"
	cfg, err := Parse("/nonexistent/config.toml", []byte(work+"ca_file = \"/dev/zero\"\nsuccess_html = \"ok.html\""))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Profiles["work"]; p.CAFile != "/dev/zero" || p.SuccessHTML != "/nonexistent/ok.html" {
		t.Errorf("paths = %q, %q", p.CAFile, p.SuccessHTML)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	_, err := Load(filepath.Join(dir, "missing.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want an error wrapping fs.ErrNotExist", err)
	}

	path := writeFile(t, dir, "config.toml", "[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != path || cfg.Profiles["work"].ClientID != "c" {
		t.Errorf("Load = %+v", cfg)
	}

	bad := writeFile(t, dir, "bad.toml", "[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\nflow = \"x\"\n")
	_, err = Load(bad)
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 4 || ce.Key != "profiles.work.flow" || ce.File != bad {
		t.Errorf("Load(bad) = %#v, want *Error at line 4, key profiles.work.flow", err)
	}
}

func TestDefaultPath(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                             string
		authdConfig, xdgConfigHome, home string
		want                             string // "" means an error
	}{
		{"AUTHD_CONFIG wins", "/etc/authd.toml", "/xdg", "/home/u", "/etc/authd.toml"},
		{"AUTHD_CONFIG relative", "my.toml", "/xdg", "/home/u", filepath.Join(cwd, "my.toml")},
		{"XDG_CONFIG_HOME", "", "/xdg", "/home/u", "/xdg/authd/config.toml"},
	}
	if runtime.GOOS == "linux" {
		tests = append(tests,
			struct {
				name                             string
				authdConfig, xdgConfigHome, home string
				want                             string
			}{"home", "", "", "/home/u", "/home/u/.config/authd/config.toml"},
			struct {
				name                             string
				authdConfig, xdgConfigHome, home string
				want                             string
			}{"relative XDG_CONFIG_HOME is invalid", "", "rel", "/home/u", ""},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AUTHD_CONFIG", tt.authdConfig)
			t.Setenv("XDG_CONFIG_HOME", tt.xdgConfigHome)
			t.Setenv("HOME", tt.home)
			got, err := DefaultPath()
			if tt.want == "" {
				if err == nil {
					t.Errorf("DefaultPath() = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("DefaultPath() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestConfigProfile(t *testing.T) {
	t.Parallel()
	const path = "/nonexistent/config.toml"
	const two = "[profiles.a]\nissuer = \"https://idp.example.com\"\nclient_id = \"a\"\n" +
		"[profiles.b]\nissuer = \"https://idp.example.com\"\nclient_id = \"b\"\n"
	tests := []struct {
		name, data, ask string
		want            string // profile name, or the error message
	}{
		{"named", two, "b", "b"},
		{"default_profile", "default_profile = \"b\"\n" + two, "", "b"},
		{"named beats default", "default_profile = \"b\"\n" + two, "a", "a"},
		{"the only one", "[profiles.solo]\nissuer = \"https://idp.example.com\"\nclient_id = \"s\"\n", "", "solo"},
		{"unknown", two, "c", `profile not found: no profile "c" in /nonexistent/config.toml`},
		{"none", "", "", "profile not found: /nonexistent/config.toml has no profiles"},
		{"ambiguous", two, "", "profile not found: no profile named and /nonexistent/config.toml has 2 profiles but no default_profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse(path, []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			p, err := cfg.Profile(tt.ask)
			if err != nil {
				if !errors.Is(err, ErrProfileNotFound) {
					t.Errorf("error %v does not wrap ErrProfileNotFound", err)
				}
				if err.Error() != tt.want {
					t.Errorf("error:\n got %v\nwant %s", err, tt.want)
				}
				return
			}
			if p.Name != tt.want {
				t.Errorf("Profile(%q) = %s, want %s", tt.ask, p.Name, tt.want)
			}
		})
	}
}

func TestProfileHidesSecret(t *testing.T) {
	t.Parallel()
	p := &Profile{Name: "w", Issuer: "https://idp.example.com", ClientID: "c", ClientSecret: "s3cret-value", Flow: FlowAuto}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("loaded", "profile", p)
	for _, out := range []string{p.String(), fmt.Sprint(p), fmt.Sprintf("%+v", p), logged.String()} {
		if strings.Contains(out, "s3cret") {
			t.Errorf("output shows the client secret: %s", out)
		}
		if !strings.Contains(out, "idp.example.com") {
			t.Errorf("output does not describe the profile: %s", out)
		}
	}
}

// TestKeyLines checks the key positions behind every error's line on the
// TOML that fools a line-based scanner.
func TestKeyLines(t *testing.T) {
	t.Parallel()
	data := `a = """
[not.a.table]
b = 1
"""
"quoted.key" = 1 # [c]
[ t . 'u v' ]   # table header with spaces and a quoted part
x.y = { z = 1, w = [ 1,
  2 ] }
arr = [
  "]",
  { k = 1 },
]
[[aot]]
n = 1
[t.other]
`
	want := map[string]int{
		"a": 1, "quoted.key": 5, "t": 6, "t\x00u v": 6, "t\x00u v\x00x": 7, "t\x00u v\x00x\x00y": 7,
		"t\x00u v\x00x\x00y\x00z": 7, "t\x00u v\x00x\x00y\x00w": 7, "t\x00u v\x00arr": 9, "aot": 13, "aot\x00n": 14, "t\x00other": 15,
	}
	got := keyLines([]byte(data))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keyLines:\n got %v\nwant %v", got, want)
	}
}

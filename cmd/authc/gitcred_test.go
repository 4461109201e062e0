package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

// The git and docker helpers' protocol tests feed stdin and read stdout of
// authc's run(), against a real broker (internal/daemontest: the daemon's
// server on a Unix socket, the in-process provider, a file keyring). Like
// run_test.go's, they swap os.Stdin, os.Stdout and os.Stderr: none is
// parallel.

// helperMatch is the match list of the helper tests' profile "work".
const helperMatch = `match = ["git.example.test", "registry.example.test:5000", "https://ghcr.example.test/team/"]` + "\n"

// helperDaemon starts a daemon whose profile "work" has profileExtra,
// logs it in unless loggedOut, and points authc at it.
func helperDaemon(t *testing.T, profileExtra string, loggedOut bool) *daemontest.Daemon {
	t.Helper()
	d := daemontest.New(t, "file", idptest.Options{}, profileExtra)
	if !loggedOut {
		d.Login(daemontest.Context(t), d.Client())
	}
	t.Setenv("AUTHD_CONFIG", d.Config)
	t.Setenv("AUTHD_SOCKET", d.Sock)
	return d
}

// currentToken is the token authd serves for "work" now.
func currentToken(t *testing.T, d *daemontest.Daemon) *client.Token {
	t.Helper()
	tok, err := d.Client().Token(daemontest.Context(t), client.TokenOptions{Profile: "work"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// runWithStdin is runAuthc with stdin reading in.
func runWithStdin(t *testing.T, in string, args ...string) runResult {
	t.Helper()
	var r runResult
	withStdin(t, in, func() { r = runAuthc(t, args...) })
	return r
}

func TestGitCredentialGet(t *testing.T) {
	d := helperDaemon(t, helperMatch, false)
	tok := currentToken(t, d)
	expiry := fmt.Sprintf("password_expiry_utc=%d\n", tok.Expiry.Unix())
	basic := func(user string) string { return "username=" + user + "\npassword=" + tok.AccessToken + "\n" + expiry }
	bearer := "capability[]=authtype\nauthtype=Bearer\ncredential=" + tok.AccessToken + "\nephemeral=1\n" + expiry
	for _, tt := range []struct {
		name, in string
		args     []string
		want     string
	}{
		{"password", "protocol=https\nhost=git.example.test\n\n", nil, basic("oauth2")},
		{"the remote's user name", "protocol=https\nhost=git.example.test\nusername=alice\n\n", nil, basic("alice")},
		{"bearer when git can take it", "capability[]=authtype\nprotocol=https\nhost=git.example.test\npath=team/repo.git\n\n", nil, bearer},
		{"capability list cleared", "capability[]=authtype\ncapability[]=\nprotocol=https\nhost=git.example.test\n\n", nil, basic("oauth2")},
		{"other capabilities only", "capability[]=state\nprotocol=https\nhost=git.example.test\n\n", nil, basic("oauth2")},
		{"unknown and malformed lines, CRLF, EOF without a blank line",
			"wwwauth[]=Basic realm=\"git\"\r\nprotocol=https\r\nnonsense\r\nfuture_key=1\r\nhost=git.example.test\r\n", nil, basic("oauth2")},
		{"url attribute", "url=https://bob@git.example.test/team/repo.git\n\n", nil, basic("bob")},
		{"a bare host is https on 443", "protocol=http\nhost=git.example.test\n\n", nil, ""},
		{"another port", "protocol=https\nhost=git.example.test:8443\n\n", nil, ""},
		{"user info in the host", "protocol=https\nhost=evil.example@git.example.test\n\n", nil, ""},
		{"a path in the host", "protocol=https\nhost=git.example.test/.evil.example\n\n", nil, ""},
		{"dot segments", "protocol=https\nhost=ghcr.example.test\npath=team/../other/repo.git\n\n", nil, ""},
		{"URL prefix needs the path", "protocol=https\nhost=ghcr.example.test\npath=team/repo.git\n\n", nil, basic("oauth2")},
		{"URL prefix without the path", "protocol=https\nhost=ghcr.example.test\n\n", nil, ""},
		{"unmapped host", "protocol=https\nhost=other.example.test\n\n", nil, ""},
		{"not http", "protocol=smtp\nhost=git.example.test\n\n", nil, ""},
		{"no host", "protocol=https\n\n", nil, ""},
		{"-p goes by the profile's match list", "protocol=https\nhost=other.example.test\n\n", []string{"-p", "work"}, ""},
		{"-p still only http", "protocol=cert\nhost=\npath=/home/u/cert.p12\n\n", []string{"-p", "work"}, ""},
		{"only the request is read", "protocol=https\nhost=git.example.test\n\nprotocol=https\nhost=other.example.test\n\n", nil, basic("oauth2")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"git-credential"}, tt.args...), "get")
			r := runWithStdin(t, tt.in, args...)
			if r.code != 0 || r.stdout != tt.want || r.stderr != "" {
				t.Errorf("authc %v with %q:\nexit %d, stderr %q\nstdout %q\nwant exit 0, nothing on stderr, stdout %q", args, tt.in, r.code, r.stderr, r.stdout, tt.want)
			}
		})
	}
	if n := d.IdP.Count(idptest.EndpointTokenRefresh); n != 0 {
		t.Errorf("get refreshed the token %d times, want 0", n)
	}
}

func TestGitCredentialUsernameKey(t *testing.T) {
	d := helperDaemon(t, helperMatch+`username = "x-access-token"`+"\n", false)
	tok := currentToken(t, d)
	want := fmt.Sprintf("username=x-access-token\npassword=%s\npassword_expiry_utc=%d\n", tok.AccessToken, tok.Expiry.Unix())
	if r := runWithStdin(t, "protocol=https\nhost=git.example.test\n\n", "git-credential", "get"); r.code != 0 || r.stdout != want {
		t.Errorf("get with the profile's username key: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	// The remote's URL names the user: that name wins.
	if r := runWithStdin(t, "protocol=https\nhost=git.example.test\nusername=alice\n\n", "git-credential", "get"); !strings.HasPrefix(r.stdout, "username=alice\n") {
		t.Errorf("get with a user in the URL: stdout %q, want username=alice", r.stdout)
	}
}

// erase refreshes the token only when git was refused the one authd
// serves; get then answers the new one.
func TestGitCredentialErase(t *testing.T) {
	d := helperDaemon(t, helperMatch, false)
	refreshes := func() int { return d.IdP.Count(idptest.EndpointTokenRefresh) }
	erase := func(in string, args ...string) {
		t.Helper()
		r := runWithStdin(t, in, append(append([]string{"git-credential"}, args...), "erase")...)
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("erase %q: exit %d, stdout %q, stderr %q; want exit 0 and no output", in, r.code, r.stdout, r.stderr)
		}
	}
	first := currentToken(t, d).AccessToken

	for _, in := range []string{
		"protocol=https\nhost=git.example.test\nusername=oauth2\npassword=some-older-token\n\n",
		"protocol=https\nhost=git.example.test\nusername=oauth2\n\n",
		"protocol=https\nhost=other.example.test\nusername=oauth2\npassword=" + first + "\n\n",
		"protocol=smtp\nhost=git.example.test\nusername=oauth2\npassword=" + first + "\n\n",
	} {
		erase(in)
	}
	if n := refreshes(); n != 0 {
		t.Fatalf("stale, unmapped or non-http erases refreshed the token %d times, want 0", n)
	}
	if now := currentToken(t, d).AccessToken; now != first {
		t.Fatal("a stale erase changed the token authd serves")
	}

	erase("protocol=https\nhost=git.example.test\nusername=oauth2\npassword=" + first + "\n\n")
	if n := refreshes(); n != 1 {
		t.Fatalf("erase of the current token: %d refreshes, want 1", n)
	}
	second := currentToken(t, d).AccessToken
	if second == first {
		t.Fatal("after the erase of the current token, authd serves it still")
	}
	r := runWithStdin(t, "protocol=https\nhost=git.example.test\n\n", "git-credential", "get")
	if !strings.Contains(r.stdout, "password="+second+"\n") {
		t.Errorf("get after erase: exit %d, stderr %q; its password is not the refreshed token", r.code, r.stderr)
	}
	// The same erase again (a second helper run, a retry) is stale now.
	erase("protocol=https\nhost=git.example.test\nusername=oauth2\npassword=" + first + "\n\n")
	if n := refreshes(); n != 1 {
		t.Errorf("a repeated erase refreshed again: %d refreshes, want 1", n)
	}

	// A Bearer credential is erased as git sends it back.
	erase("capability[]=authtype\nauthtype=Bearer\ncredential="+second+"\nephemeral=1\nprotocol=https\nhost=git.example.test\n\n", "-p", "work")
	if n := refreshes(); n != 2 {
		t.Errorf("erase of the current Bearer credential: %d refreshes, want 2", n)
	}
}

// TestGitCredentialExplicitProfile: -p names the profile, yet its token
// goes only where its match list says, and without a list only to https:
// a helper line for every remote must not hand it to a hostile
// submodule's plain-http server.
func TestGitCredentialExplicitProfile(t *testing.T) {
	noDaemon(t)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte(`[profiles.any]
issuer = "https://idp.example"
client_id = "c"
[profiles.plain]
issuer = "https://idp.example"
client_id = "c"
match = ["http://git.example.test:8080"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHD_CONFIG", cfg)
	t.Setenv("AUTHD_TOKEN_ANY", "token-of-any")
	t.Setenv("AUTHD_TOKEN_PLAIN", "token-of-plain")
	for _, tt := range []struct{ name, profile, in, want string }{
		{"no list: any https host", "any", "protocol=https\nhost=other.example.test\n\n", "username=oauth2\npassword=token-of-any\n"},
		{"no list: never http", "any", "protocol=http\nhost=other.example.test\n\n", ""},
		{"no list: no parser tricks", "any", "protocol=https\nhost=a@other.example.test\n\n", ""},
		{"a list with http and a port", "plain", "protocol=http\nhost=git.example.test:8080\n\n", "username=oauth2\npassword=token-of-plain\n"},
		{"a list: other hosts miss", "plain", "protocol=https\nhost=other.example.test\n\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runWithStdin(t, tt.in, "git-credential", "-p", tt.profile, "get")
			if r.code != 0 || r.stdout != tt.want || r.stderr != "" {
				t.Errorf("-p %s with %q: exit %d, stderr %q, stdout %q; want %q", tt.profile, tt.in, r.code, r.stderr, r.stdout, tt.want)
			}
		})
	}
}

// store stores nothing and asks authd nothing; operations git may add
// later are ignored; 'capability' announces authtype.
func TestGitCredentialOtherOperations(t *testing.T) {
	noDaemon(t)
	for _, tt := range []struct {
		op, in, want string
	}{
		{"store", "protocol=https\nhost=git.example.test\nusername=oauth2\npassword=tok\n\n", ""},
		{"frobnicate", "protocol=https\nhost=git.example.test\n\n", ""},
		{"capability", "", "version 0\ncapability authtype\n"},
	} {
		if r := runWithStdin(t, tt.in, "git-credential", tt.op); r.code != 0 || r.stdout != tt.want || r.stderr != "" {
			t.Errorf("git-credential %s: exit %d, stdout %q, stderr %q; want exit 0, stdout %q", tt.op, r.code, r.stdout, r.stderr, tt.want)
		}
	}
	for _, args := range [][]string{{"git-credential"}, {"git-credential", "get", "extra"}} {
		if r := runWithStdin(t, "", args...); r.code != api.ExitUsage || len(lines(r.stderr)) != 1 {
			t.Errorf("authc %v: exit %d, stderr %q; want a usage error", args, r.code, r.stderr)
		}
	}
}

// A profile that needs a login fails at once, with one line naming the
// command to run, and nothing for git on stdout.
func TestGitCredentialLoginRequired(t *testing.T) {
	helperDaemon(t, helperMatch, true)
	r := runWithStdin(t, "protocol=https\nhost=git.example.test\n\n", "git-credential", "get")
	if r.code != api.ExitLoginRequired || r.stdout != "" || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "'authc login -p work'") {
		t.Errorf("get, logged out: exit %d, stdout %q, stderr %q; want exit %d and one line naming 'authc login -p work'", r.code, r.stdout, r.stderr, api.ExitLoginRequired)
	}
}

func TestGitCredentialBounds(t *testing.T) {
	noDaemon(t)
	for _, tt := range []struct{ name, in, say string }{
		{"long line", "protocol=https\nhost=git.example.test\nwwwauth[]=" + strings.Repeat("x", maxGitLine) + "\n\n", "line longer than 64 KiB"},
		{"long request", strings.Repeat("wwwauth[]=Basic realm=\"git\"\n", maxGitRequest/20), "longer than 256 KiB"},
	} {
		r := runWithStdin(t, tt.in, "git-credential", "get")
		if r.code != api.ExitError || r.stdout != "" || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, tt.say) {
			t.Errorf("get with a %s: exit %d, stdout %q, stderr %q; want exit 1 and one line saying %q", tt.name, r.code, r.stdout, r.stderr, tt.say)
		}
	}
}

func TestGitMayPrompt(t *testing.T) {
	for _, tt := range []struct {
		terminal bool
		env      string
		want     bool
	}{
		{true, "", true},
		{true, "1", true},
		{true, "0", false},
		{true, "false", false},
		{true, " No ", false},
		{false, "", false},
		{false, "1", false},
	} {
		getenv := func(k string) string {
			if k == "GIT_TERMINAL_PROMPT" {
				return tt.env
			}
			return ""
		}
		if got := gitMayPrompt(getenv, tt.terminal); got != tt.want {
			t.Errorf("gitMayPrompt(GIT_TERMINAL_PROMPT=%q, terminal %v) = %v, want %v", tt.env, tt.terminal, got, tt.want)
		}
	}
}

// FuzzGitRequest: whatever git (or anything else) writes, the request is
// read without a panic, and no attribute holds a line break that would
// split the answer's lines.
func FuzzGitRequest(f *testing.F) {
	for _, seed := range []string{
		"protocol=https\nhost=git.example.test\n\n",
		"capability[]=authtype\ncapability[]=\nprotocol=https\nhost=h:1\npath=a/b.git\nusername=u\npassword=p\n\n",
		"url=https://u@h/p\r\nauthtype=Bearer\r\ncredential=c\r\n",
		"=\n==\nkey\n\n\n",
		"url=%zz\n",
		"url=%0A0",
		"url=https://a%0Db@h/\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		req, err := readGitRequest(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, v := range append([]string{req.protocol, req.host, req.path, req.username, req.password, req.authtype, req.credential}, req.capabilities...) {
			if strings.Contains(v, "\n") {
				t.Fatalf("attribute %q of %q has a line break", v, in)
			}
		}
	})
}

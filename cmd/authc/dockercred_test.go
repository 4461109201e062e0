package main

import (
	"encoding/json"
	"strings"
	"testing"

	"authd.dev/authd/internal/buildinfo"
	"authd.dev/authd/internal/idptest"
)

// The docker helper's protocol, fed and read as docker does
// (docker-credential-helpers' client): see gitcred_test.go for the daemon.

func TestDockerCredentialGet(t *testing.T) {
	d := helperDaemon(t, helperMatch, false)
	tok := currentToken(t, d).AccessToken
	creds := func(url string) string {
		b, _ := json.Marshal(struct{ ServerURL, Username, Secret string }{url, "oauth2", tok})
		return string(b) + "\n"
	}
	for _, tt := range []struct {
		name, in string
		args     []string
		code     int
		want     string
	}{
		{"host and port", "registry.example.test:5000", nil, 0, creds("registry.example.test:5000")},
		{"URL with a path, newline", "https://registry.example.test:5000/v2/\n", nil, 0, creds("https://registry.example.test:5000/v2/")},
		{"URL prefix", "https://ghcr.example.test/team/app", nil, 0, creds("https://ghcr.example.test/team/app")},
		{"another port", "registry.example.test", nil, 1, "credentials not found in native keychain\n"},
		{"unmapped", "https://index.docker.io/v1/", nil, 1, "credentials not found in native keychain\n"},
		{"-p goes by the profile's match list", "https://index.docker.io/v1/", []string{"-p", "work"}, 1, "credentials not found in native keychain\n"},
		{"-p within the list", "registry.example.test:5000", []string{"-p", "work"}, 0, creds("registry.example.test:5000")},
		{"user info", "evil.example@registry.example.test:5000", nil, 1, "credentials not found in native keychain\n"},
		{"plain http", "http://registry.example.test:5000", nil, 1, "credentials not found in native keychain\n"},
		{"no URL", "\n", nil, 1, "no credentials server URL\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"docker-credential"}, tt.args...), "get")
			r := runWithStdin(t, tt.in, args...)
			if r.code != tt.code || r.stdout != tt.want || r.stderr != "" {
				t.Errorf("authc %v with %q:\nexit %d, stderr %q\nstdout %q\nwant exit %d, nothing on stderr, stdout %q", args, tt.in, r.code, r.stderr, r.stdout, tt.code, tt.want)
			}
		})
	}
}

func TestDockerCredentialList(t *testing.T) {
	helperDaemon(t, helperMatch+`username = "robot"
[profiles.other]
issuer = "https://other.example.test"
client_id = "c"
match = ["other.example.test", "registry.example.test:5000"]
`, false)
	for _, tt := range []struct {
		args []string
		want map[string]string
	}{
		// registry.example.test:5000 is in both lists; get picks "other",
		// the first by name, and so does list.
		{nil, map[string]string{"git.example.test": "robot", "registry.example.test:5000": "oauth2",
			"https://ghcr.example.test/team/": "robot", "other.example.test": "oauth2"}},
		{[]string{"-p", "work"}, map[string]string{"git.example.test": "robot", "registry.example.test:5000": "robot",
			"https://ghcr.example.test/team/": "robot"}},
		{[]string{"-p", "nope"}, map[string]string{}},
	} {
		args := append(append([]string{"docker-credential"}, tt.args...), "list")
		r := runWithStdin(t, "unused", args...)
		var got map[string]string
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || r.stderr != "" {
			t.Fatalf("authc %v: exit %d, stdout %q (%v), stderr %q", args, r.code, r.stdout, err, r.stderr)
		}
		if len(got) != len(tt.want) {
			t.Errorf("authc %v = %v, want %v", args, got, tt.want)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("authc %v = %v, want %v", args, got, tt.want)
				break
			}
		}
	}
}

// store keeps nothing, and says so when the registry is not authd's;
// erase refreshes; the failures are docker's lines on stdout, exit 1.
func TestDockerCredentialStoreErase(t *testing.T) {
	d := helperDaemon(t, helperMatch, false)
	first := currentToken(t, d).AccessToken
	for _, tt := range []struct {
		name, action, in string
		code             int
		stdoutIn         string
	}{
		{"store for a registry authd serves", "store", `{"ServerURL":"registry.example.test:5000","Username":"oauth2","Secret":"typed"}`, 0, ""},
		{"store for another", "store", `{"ServerURL":"other.example.test","Username":"me","Secret":"typed"}`, 1, "authd keeps no passwords, and no profile's match list names other.example.test"},
		{"store without a user", "store", `{"ServerURL":"registry.example.test:5000","Secret":"typed"}`, 1, "no credentials username"},
		{"store, not JSON", "store", `registry.example.test:5000`, 1, "invalid character"},
		{"erase another", "erase", "other.example.test", 0, ""},
		{"unknown action", "frobnicate", "", 1, "docker-credential-authd: unknown action: frobnicate"},
		{"oversized request", "get", strings.Repeat("x", maxDockerRequest+1), 1, "docker's request is longer than 64 KiB"},
		{"version", "version", "", 0, "docker-credential-authd (authd.dev/authd) " + buildinfo.Version("")},
	} {
		r := runWithStdin(t, tt.in, "docker-credential", tt.action)
		if r.code != tt.code || r.stderr != "" || len(lines(r.stdout)) > 1 || !strings.Contains(r.stdout, tt.stdoutIn) || (tt.stdoutIn == "") != (r.stdout == "") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and a stdout line with %q", tt.name, r.code, r.stdout, r.stderr, tt.code, tt.stdoutIn)
		}
	}
	if n := d.IdP.Count(idptest.EndpointTokenRefresh); n != 0 {
		t.Fatalf("store and erase of other registries refreshed %d times", n)
	}
	if now := currentToken(t, d).AccessToken; now != first {
		t.Fatal("store changed the token authd serves")
	}

	if r := runWithStdin(t, "registry.example.test:5000\n", "docker-credential", "erase"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("erase: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if n := d.IdP.Count(idptest.EndpointTokenRefresh); n != 1 {
		t.Errorf("erase refreshed %d times, want 1", n)
	}
	// docker erases every spelling of the registry, one after the other:
	// the token just refreshed stays.
	if r := runWithStdin(t, "http://registry.example.test:5000", "docker-credential", "erase"); r.code != 0 || r.stdout != "" {
		t.Fatalf("second erase: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if n := d.IdP.Count(idptest.EndpointTokenRefresh); n != 1 {
		t.Errorf("a second erase right after the first refreshed again: %d refreshes, want 1", n)
	}
	r := runWithStdin(t, "registry.example.test:5000", "docker-credential", "get")
	if r.code != 0 || strings.Contains(r.stdout, first) || !strings.Contains(r.stdout, `"Secret":"`) {
		t.Errorf("get after erase: exit %d, stderr %q; want a new secret", r.code, r.stderr)
	}
}

// Errors are one line on stdout, where docker reads them, with the hint,
// and exit 1.
func TestDockerCredentialLoginRequired(t *testing.T) {
	helperDaemon(t, helperMatch, true)
	r := runWithStdin(t, "registry.example.test:5000", "docker-credential", "get")
	if r.code != 1 || r.stderr != "" || len(lines(r.stdout)) != 1 || !strings.Contains(r.stdout, "'authc login -p work'") {
		t.Errorf("get, logged out: exit %d, stdout %q, stderr %q; want exit 1 and one stdout line naming 'authc login -p work'", r.code, r.stdout, r.stderr)
	}
}

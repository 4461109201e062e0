package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// FuzzTOMLDoc checks that tomlDoc accepts exactly the documents
// toml.Unmarshal accepts, and decodes them to the same maps.
func FuzzTOMLDoc(f *testing.F) {
	for _, s := range tomlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want map[string]any
		wantErr := toml.Unmarshal(data, &want)
		doc := newTOMLDoc(data)
		err := doc.decode()
		switch {
		case wantErr != nil && err == nil:
			t.Fatalf("accepted; toml.Unmarshal: %v", wantErr)
		case wantErr == nil && err != nil:
			t.Fatalf("line %d: %s; toml.Unmarshal accepts it", err.line, err.msg)
		case err == nil:
			if want == nil {
				want = map[string]any{}
			}
			// %#v: NaN equals NaN, and maps print sorted.
			if g, w := fmt.Sprintf("%#v", doc.root.m), fmt.Sprintf("%#v", want); g != w {
				t.Fatalf("decoded\n%s\ntoml.Unmarshal\n%s", g, w)
			}
		}
	})
}

// tomlSeeds are the corner cases of TOML's rules on redefinition, plus
// every kind of value.
var tomlSeeds = []string{
	"",
	"a = 1\nb = 'x'\nc = \"\\u00e9\"\nd = true\ne = 1.5\nf = nan\ng = -inf\nh = 0x1F\ni = 0o7\nj = 0b1\nk = 1_000\n",
	"a = 1979-05-27T07:32:00Z\nb = 1979-05-27\nc = 07:32:00\nd = 1979-05-27T07:32:00.999\n",
	"a = [1, 'x', [2], {b = 1}]\nc = {}\nd = []\ne = {f.g = 1, f.h = 2}\n",
	"[a.b]\n[a]\n",
	"[a]\n[a]\n",
	"[a]\nb.c = 1\n[a.b]\n",
	"[a]\nb.c = 1\n[a.b.d]\n",
	"[a.b]\nx = 1\n[a]\nb.y = 2\n",
	"a.b = 1\n[a.c]\n",
	"a.b = 1\n[a]\n",
	"[[a]]\nx = 1\n[[a]]\nx = 2\n[a.b]\n[[a.c]]\n",
	"[[a]]\n[a]\n",
	"[a]\n[[a]]\n",
	"a = []\n[[a]]\n",
	"a = {b = 1}\n[a.c]\n",
	"a = {b = 1}\na.c = 1\n",
	"a = 1\na = 2\n",
	"e = {f = 1, f = 2}\n",
	"e = {f.g = 1, f = 2}\n",
	"a = 99999999999999999999\n",
	"a = 2024-13-45\n",
	"a = 1e400\n",
	"[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = \"cli\"\nscopes = [\"openid\"]\n",
}

// profileNameRE is the promise of a profile's name, spelt apart from
// validProfileName so that a mistake there shows here.
var profileNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// isPlainPath is the promise of [Profile.RedirectPath], spelt apart from
// checkRedirectPath so that a mistake there shows here.
func isPlainPath(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) > 256 || !strings.HasPrefix(p, "/") {
		return false
	}
	for i, seg := range strings.Split(p[1:], "/") {
		if seg == "" && i == strings.Count(p, "/")-1 {
			continue // a trailing slash
		}
		if seg == "" || seg == "." || seg == ".." || strings.Trim(seg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-") != "" {
			return false
		}
	}
	return true
}

// FuzzParse checks that Parse never panics and that every file it accepts
// meets the promises of [Config] and [Profile].
func FuzzParse(f *testing.F) {
	for _, s := range tomlSeeds {
		f.Add([]byte(s))
	}
	f.Add(profilesFile(3))
	f.Add([]byte("default_profile = \"w\"\n[keyring]\nbackend = \"file\"\ntimeout = \"1s\"\n[profiles.w]\n" +
		"token_endpoint = \"http://127.0.0.1:1/token\"\nauthorization_endpoint = \"https://a.example/auth\"\n" +
		"client_id = \"c\"\nredirect_path = \"/cb/x\"\nredirect_port = 8080\nextra_auth_params = { prompt = \"login\" }\n"))
	f.Add([]byte("profiles = {}\n"))
	for _, bad := range []string{"/a b", "/x/../y", "callback", "/cb?x=1", "/%2e%2e"} {
		f.Add([]byte("[profiles.w]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\nredirect_path = \"" + bad + "\"\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		cfg, err := Parse(dir+"/config.toml", data)
		if err != nil {
			if cfg != nil {
				t.Fatal("config and error")
			}
			return
		}
		if cfg.DefaultProfile != "" && cfg.Profiles[cfg.DefaultProfile] == nil {
			t.Errorf("default_profile %q is no profile", cfg.DefaultProfile)
		}
		if len(cfg.Profiles) != 0 && !cfg.ProfilesExplicit {
			t.Errorf("profiles but not ProfilesExplicit")
		}
		for name, p := range cfg.Profiles {
			if p.Name != name || !profileNameRE.MatchString(name) {
				t.Errorf("profile %q named %q", name, p.Name)
			}
			if p.ClientID == "" {
				t.Errorf("profile %q: no client_id", name)
			}
			if !isPlainPath(p.RedirectPath) {
				t.Errorf("profile %q: redirect_path %q is no plain path", name, p.RedirectPath)
			}
			if p.Issuer == "" && p.TokenEndpoint == "" {
				t.Errorf("profile %q: neither issuer nor token_endpoint", name)
			}
			for _, u := range []string{p.Issuer, p.AuthorizationEndpoint, p.TokenEndpoint, p.DeviceAuthorizationEndpoint, p.RevocationEndpoint} {
				if u == "" {
					continue
				}
				pu, err := url.Parse(u)
				if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
					t.Errorf("profile %q: URL %q is no http(s) URL", name, u)
				}
			}
			if p.Timeout <= 0 || p.LoginTimeout <= 0 || p.TokenLifetime <= 0 {
				t.Errorf("profile %q: a timeout is not positive", name)
			}
			if p.RedirectPort < 0 || p.RedirectPort > 65535 {
				t.Errorf("profile %q: redirect_port %d", name, p.RedirectPort)
			}
			for k := range p.ExtraAuthParams {
				for _, r := range reservedAuthParams {
					if k == r {
						t.Errorf("profile %q: reserved auth param %q", name, k)
					}
				}
			}
		}
	})
}

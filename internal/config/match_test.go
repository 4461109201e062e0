package config

import (
	"strings"
	"testing"
)

func TestProfileFor(t *testing.T) {
	t.Parallel()
	const data = `
[profiles.gitlab]
issuer = "https://gitlab.example.com"
client_id = "c"
match = ["gitlab.example.com", "https://git.example.com/team/"]
username = "oauth2"

[profiles.git]
issuer = "https://git.example.com"
client_id = "c"
match = ["git.example.com"]

[profiles.registry]
issuer = "https://registry.example.com"
client_id = "c"
match = ["registry.example.com:5000", "https://k8s.example.com:6443"]

[profiles.none]
issuer = "https://none.example.com"
client_id = "c"
`
	cfg, err := Parse("/nonexistent/config.toml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Profiles["gitlab"].Username != "oauth2" || !cfg.Autostart {
		t.Errorf("username %q, autostart %v", cfg.Profiles["gitlab"].Username, cfg.Autostart)
	}
	for target, want := range map[string]string{
		"https://gitlab.example.com/group/repo.git": "gitlab",
		"gitlab.example.com":                        "gitlab",
		"GitLab.Example.com":                        "gitlab", // host names have no case
		"gitlab.example.com:443":                    "gitlab",
		"gitlab.example.com:8443":                   "",       // a bare host is https on 443
		"http://gitlab.example.com/group/repo.git":  "",       // never plain http unless a URL prefix says so
		"https://git.example.com/team/repo.git":     "gitlab", // the URL prefix beats the host
		"https://git.example.com/team":              "gitlab",
		"https://git.example.com/teams/repo.git":    "git", // prefixes end at a slash
		"http://git.example.com/team/repo.git":      "",    // the prefix's scheme differs, and a bare host is https
		// Targets come from remotes and registries: parser tricks miss.
		"https://evil.com@git.example.com/x":          "",
		"evil.com@git.example.com":                    "",
		"https://git.example.com/team/../other/r.git": "",
		"https://git.example.com/team/%2e%2e/other/r": "",
		"https://git.example.com/team%2Fx/r":          "",
		"https://git.example.com/team/r?x=1":          "",
		"https://git.example.com/team/r#x":            "",
		"git.example.com?.evil.com":                   "",
		"git.example.com#.evil.com":                   "",
		"ftp://git.example.com/team/":                 "",
		"unix://git.example.com":                      "",
		"registry.example.com.evil.com:5000":          "",
		"evil.com/registry.example.com:5000":          "",
		"https://git.example.com\\@evil.com/team/":    "",
		"git.example.com":                             "git",
		"registry.example.com:5000":                   "registry",
		"registry.example.com:5000/v2/":               "registry",
		"registry.example.com":                        "", // the port was given
		"http://registry.example.com:5000":            "",
		"https://k8s.example.com:6443":                "registry",
		"https://k8s.example.com":                     "",
		"example.com":                                 "",
		"":                                            "",
		"https://":                                    "",
		"%zz":                                         "",
	} {
		got, ok := cfg.ProfileFor(target)
		if got != want || ok != (want != "") {
			t.Errorf("ProfileFor(%q) = %q, %v; want %q", target, got, ok, want)
		}
	}
}

func TestHelperKeysErrors(t *testing.T) {
	t.Parallel()
	const work = "[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n"
	for _, tt := range []struct{ data, want string }{
		{work + `match = "git.example.com"`, "4: profiles.work.match: must be an array of strings, not string"},
		{work + `match = ["git.example.com/team"]`, `4: profiles.work.match: element 1: "git.example.com/team": a URL prefix needs its scheme (https://git.example.com/team)`},
		{work + `match = ["ssh://git.example.com"]`, `4: profiles.work.match: element 1: "ssh://git.example.com": the scheme must be https or http`},
		{work + `match = ["https://u@git.example.com"]`, `4: profiles.work.match: element 1: "https://u@git.example.com": must be scheme://host[:port][/path], without user, query or fragment`},
		{work + `match = [""]`, "4: profiles.work.match: element 1: must be a host or URL without spaces"},
		{work + `username = ""`, "4: profiles.work.username: must be a non-empty line"},
		{work + `username = "a\nb"`, "4: profiles.work.username: must be a non-empty line"},
		{"autostart = \"no\"", "1: autostart: must be a boolean, not string"},
		{"[compat]\noidc_agent_sock = \"/tmp/s\"", "2: compat.oidc_agent_sock: unknown key (did you mean oidc_agent_socket?)"},
	} {
		_, err := Parse("/nonexistent/config.toml", []byte(tt.data))
		if err == nil || !strings.HasSuffix(err.Error(), ":"+tt.want) {
			t.Errorf("Parse(%q):\n got %v\nwant …:%s", tt.data, err, tt.want)
		}
	}
	cfg, err := Parse("/nonexistent/config.toml", []byte("autostart = false\n[compat]\noidc_agent_socket = \"oa.sock\""))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Autostart || cfg.OIDCAgentSocket != "/nonexistent/oa.sock" {
		t.Errorf("autostart %v, socket %q", cfg.Autostart, cfg.OIDCAgentSocket)
	}
}

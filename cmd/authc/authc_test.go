package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
)

func TestStaticTokenPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("default_profile = \"work\"\n[profiles.work]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n[profiles.my-ci]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHD_CONFIG", cfg)
	for _, tt := range []struct {
		name             string
		env              map[string]string
		profile          string
		wantTok, wantVar string
	}{
		{"none", nil, "work", "", ""},
		{"global", map[string]string{"AUTHD_TOKEN": "g"}, "work", "g", "AUTHD_TOKEN"},
		{"per profile beats global", map[string]string{"AUTHD_TOKEN": "g", "AUTHD_TOKEN_MY_CI": "p"}, "my-ci", "p", "AUTHD_TOKEN_MY_CI"},
		{"another profile's does not apply", map[string]string{"AUTHD_TOKEN_MY_CI": "p"}, "work", "", ""},
		{"default profile from the config", map[string]string{"AUTHD_TOKEN_WORK": "w"}, "", "w", "AUTHD_TOKEN_WORK"},
		{"blank is unset", map[string]string{"AUTHD_TOKEN": "  "}, "work", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AUTHD_TOKEN", "AUTHD_TOKEN_MY_CI", "AUTHD_TOKEN_WORK"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tok, from := staticToken(tt.profile)
			if tok != tt.wantTok || from != tt.wantVar {
				t.Errorf("staticToken(%q) = %q from %q, want %q from %q", tt.profile, tok, from, tt.wantTok, tt.wantVar)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	daemonErr := func(reason api.Reason) error {
		return fmt.Errorf("call: %w", &daemonError{reason: reason, msg: "the daemon says why"})
	}
	for _, tt := range []struct {
		err  error
		code int
	}{
		{usageError{"bad flag"}, api.ExitUsage},
		{daemonErr(api.DaemonUnreachable), api.ExitDaemon},
		{daemonErr(api.LoginRequired), api.ExitLoginRequired},
		{daemonErr(api.ProfileNotFound), api.ExitProfile},
		{daemonErr(api.InvalidConfig), api.ExitProfile},
		{daemonErr(api.IDPUnavailable), api.ExitProvider},
		{daemonErr(api.LoginFailed), api.ExitLoginFailed},
		{daemonErr(api.LoginTimeout), api.ExitLoginFailed},
		{daemonErr(api.KeyringLocked), api.ExitKeyring},
		{daemonErr(api.KeyringUnavailable), api.ExitKeyring},
		{daemonErr(api.PermissionDenied), api.ExitPermission},
		{daemonErr(api.InvalidRequest), api.ExitError},
		{daemonErr(api.TokenLifetime), api.ExitTokenLifetime},
		{daemonErr(api.WrongServer), api.ExitPermission},
		{&timeoutError{after: time.Second}, api.ExitDaemon},
		{&timeoutError{after: time.Second, busy: true}, api.ExitProvider},
		{&timeoutError{after: time.Second, login: true}, api.ExitLoginFailed},
		{daemonErr("SOMETHING_NEWER"), api.ExitError},
		{errors.New("anything else"), api.ExitError},
	} {
		if code, msg := explain(tt.err); code != tt.code || msg == "" {
			t.Errorf("explain(%v) = %d %q, want code %d", tt.err, code, msg, tt.code)
		}
	}
}

// A socket of another uid: exit 9, one line naming the socket, and saying
// that nothing was sent to it.
func TestWrongServer(t *testing.T) {
	err := explainCall(&client.Error{Reason: api.WrongServer, Message: "served by uid 0"}, "/run/user/1000/authd/authd.sock")
	code, msg := explain(err)
	if code != api.ExitPermission || !strings.Contains(msg, "the socket at /run/user/1000/authd/authd.sock belongs to another user") ||
		!strings.Contains(msg, "authc sent nothing") || strings.Contains(msg, "\n") {
		t.Errorf("explain(wrong server) = %d %q, want %d and one line naming the socket", code, msg, api.ExitPermission)
	}
}

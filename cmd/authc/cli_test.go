package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/buildinfo"
	pb "authd.dev/authd/proto/authd/v1"
)

// The tests of authc's command line: help, usage errors, versions,
// signals, and the texts that must not mislead. Like run_test.go's, they
// swap os.Stdout and os.Stderr: none is parallel.

// noDaemon points AUTHD_SOCKET where nothing listens.
func noDaemon(t *testing.T) {
	t.Helper()
	t.Setenv("AUTHD_SOCKET", filepath.Join(t.TempDir(), "none"))
}

// 'authc help' lists every command.
func TestUsageListsEveryCommand(t *testing.T) {
	for _, name := range commandOrder {
		if _, ok := commands[name]; !ok {
			t.Errorf("'authc help' would list %s, which is no command", name)
		}
	}
	if len(commandOrder) != len(commands) {
		t.Errorf("'authc help' lists %v; the commands are %d", commandOrder, len(commands))
	}
	for name := range commands {
		if !regexp.MustCompile(`(?m)^  authc ` + name + `( |$)`).MatchString(usage()) {
			t.Errorf("'authc help' does not list %s:\n%s", name, usage())
		}
	}
}

// Every command answers --help, -h and 'help CMD' on stdout with its usage
// line, summary and flags, and exits 0 without calling authd.
func TestHelpEveryCommand(t *testing.T) {
	noDaemon(t)
	for name, cmd := range commands {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			r := runAuthc(t, args...)
			usageLine := strings.TrimSpace("Usage: authc " + name + " " + cmd.args)
			if r.code != api.ExitOK || r.stderr != "" || !strings.HasPrefix(r.stdout, usageLine+"\n\n"+cmd.summary+"\n") {
				t.Errorf("authc %v: exit %d\nstdout: %q\nstderr: %q\nwant exit 0, and on stdout %q and %q", args, r.code, r.stdout, r.stderr, usageLine, cmd.summary)
			}
		}
	}
	for _, tt := range []struct{ cmd, flag string }{
		{"token", "-min-valid"}, {"login", "-client-secret-stdin"}, {"logout", "-all"}, {"status", "-json"}, {"inspect", "-id-token"},
	} {
		if r := runAuthc(t, tt.cmd, "--help"); !strings.Contains(r.stdout, "Flags:\n") || !strings.Contains(r.stdout, tt.flag) {
			t.Errorf("authc %s --help does not list %s:\n%s", tt.cmd, tt.flag, r.stdout)
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := runAuthc(t, args...)
		if r.code != api.ExitOK || r.stderr != "" || r.stdout != usage() {
			t.Errorf("authc %v: exit %d, stderr %q; want the usage on stdout, exit 0", args, r.code, r.stderr)
		}
	}
}

// 'authc help' says where the socket is when XDG_RUNTIME_DIR is unset.
func TestHelpNamesSocketFallback(t *testing.T) {
	noDaemon(t)
	r := runAuthc(t, "help")
	if !strings.Contains(r.stdout, "XDG_RUNTIME_DIR is unset") || !strings.Contains(r.stdout, "~/.cache/authd/authd.sock") {
		t.Errorf("authc help does not name the socket's fallback in the cache directory:\n%s", r.stdout)
	}
}

// A usage error exits 2 with one line, printed once, and nothing on stdout.
func TestUsageErrorsOnce(t *testing.T) {
	noDaemon(t)
	for _, tt := range []struct {
		args []string
		say  string
	}{
		{[]string{"token", "--bogus"}, "-bogus"},
		{[]string{"status", "extra"}, `"extra"`},
		{[]string{"logout", "extra"}, `"extra"`},
		{[]string{"version", "extra"}, `"extra"`},
		{[]string{"inspect", "a", "b"}, "at most one token"},
		{[]string{"help", "frobnicate"}, `"frobnicate"`},
		{[]string{"help", "token", "login"}, "at most one"},
		{[]string{"frobnicate"}, `"frobnicate"`},
	} {
		r := runAuthc(t, tt.args...)
		if r.code != api.ExitUsage || r.stdout != "" || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, tt.say) || !strings.Contains(r.stderr, "'authc help") {
			t.Errorf("authc %v: exit %d, stdout %q, stderr %q; want exit 2 and one line naming %s", tt.args, r.code, r.stdout, r.stderr, tt.say)
		}
	}
}

func TestVersion(t *testing.T) {
	noDaemon(t)
	want := "authc " + buildinfo.Version("") + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if r := runAuthc(t, args...); r.code != api.ExitOK || r.stdout != want || r.stdout == "authc dev\n" {
			t.Errorf("authc %v: exit %d, stdout %q; want %q", args, r.code, r.stdout, want)
		}
	}
	version = "v1.2.3" // as -ldflags "-X main.version=v1.2.3" sets it
	t.Cleanup(func() { version = "" })
	if r := runAuthc(t, "--version"); r.stdout != "authc v1.2.3\n" {
		t.Errorf("authc --version with an -ldflags version: %q", r.stdout)
	}
}

// A command's own word for being interrupted wins over the generic one.
func TestInterruptedMessage(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&daemonError{reason: api.Interrupted, msg: "interrupted", cause: context.Canceled}, "interrupted"},
		{errInterrupted, "interrupted"},
		{fmt.Errorf("call: %w", context.Canceled), "call"},
		{fmt.Errorf("login cancelled: %w", context.Canceled), "login cancelled"},
		{fmt.Errorf("login cancelled: %w", &daemonError{reason: api.Interrupted, msg: "interrupted", cause: context.Canceled}), "login cancelled"},
		{&daemonError{reason: api.Interrupted, msg: "login cancelled"}, "login cancelled"},
		{errors.New("unrelated failure"), "interrupted"},
	} {
		if got := interruptedMessage(tt.err); got != tt.want {
			t.Errorf("interruptedMessage(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestAuthcProcess is authc itself when a test starts the test binary as
// authc (AUTHC_TEST_ARGS set); otherwise it does nothing.
func TestAuthcProcess(t *testing.T) {
	args := os.Getenv("AUTHC_TEST_ARGS")
	if args == "" {
		t.Skip("runs as a subprocess of other tests")
	}
	os.Exit(run(strings.Fields(args)))
}

// Ctrl-C ends even a command that does not heed it, stuck in a read of
// stdin: after a short grace, with exit 130 and one line.
func TestSignalEndsStuckCommand(t *testing.T) {
	serve(t, &fakeDaemon{})
	cmd := exec.Command(os.Args[0], "-test.run=^TestAuthcProcess$")
	cmd.Env = append(os.Environ(), "AUTHC_TEST_ARGS=login --client-secret-stdin")
	stdin, err := cmd.StdinPipe() // never written to, never closed
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // for authc to reach the read
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("authc did not exit after Ctrl-C while it read stdin")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || stderr.String() != "authc: interrupted\n" {
		t.Errorf("authc login --client-secret-stdin, Ctrl-C while it reads: exit %d, stderr %q; want 130 and \"authc: interrupted\"", code, stderr.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("authc took %s to exit after Ctrl-C", d)
	}
}

// A login the provider cannot be reached for is not retried by authd: the
// hint that fits a token call must not appear.
func TestProviderUnavailableHints(t *testing.T) {
	unavailable := daemonStatus(codes.Unavailable, api.IDPUnavailable, "login work: discovery: identity provider unavailable: dial tcp: connection refused")
	for _, tt := range []struct {
		name   string
		daemon *fakeDaemon
		args   []string
		want   string
		not    string
	}{
		{"login", &fakeDaemon{end: unavailable}, []string{"login", "--no-browser"}, "then run 'authc login' again", "retries on its own"},
		{"login started by token", &fakeDaemon{
			token: func(context.Context) (*pb.Token, error) {
				return nil, daemonStatus(codes.Unauthenticated, api.LoginRequired, "login required")
			},
			end: unavailable,
		}, []string{"token", "--login"}, "then run 'authc login' again", "retries on its own"},
		{"token", &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
			return nil, daemonStatus(codes.Unavailable, api.IDPUnavailable, "refresh work: identity provider unavailable")
		}}, []string{"token", "--no-login"}, "authd retries on its own", "authc login"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			serve(t, tt.daemon)
			r := runAuthc(t, tt.args...)
			errs := errorLines(r.stderr)
			if r.code != api.ExitProvider || len(errs) != 1 || !strings.Contains(errs[0], tt.want) || strings.Contains(errs[0], tt.not) {
				t.Errorf("authc %v: exit %d, stderr %q; want exit %d and one error line with %q, without %q", tt.args, r.code, r.stderr, api.ExitProvider, tt.want, tt.not)
			}
		})
	}
}

// A client_credentials profile without a secret: 'authc token' and 'authc
// login' both name the one command that fixes it, and nothing else.
func TestClientSecretHint(t *testing.T) {
	const fix = "authc login -p svc --client-secret-stdin"
	svcStatus := func(context.Context) (*pb.StatusResponse, error) {
		return &pb.StatusResponse{Version: "test", Profiles: []*pb.ProfileStatus{
			{Name: "svc", Flow: "client_credentials", State: "logged_out"}, {Name: "work", Flow: "auto", State: "logged_out"},
		}}, nil
	}
	for _, tt := range []struct {
		name   string
		daemon *fakeDaemon
		args   []string
	}{
		{"token", &fakeDaemon{status: svcStatus, token: func(context.Context) (*pb.Token, error) {
			return nil, daemonStatus(codes.Unauthenticated, api.LoginRequired, "profile svc: login required")
		}}, []string{"token", "-p", "svc", "--no-login"}},
		{"login", &fakeDaemon{status: svcStatus, end: daemonStatus(codes.Unauthenticated, api.LoginRequired,
			"login svc: profile svc has no client secret: store it with '"+fix+"': login required")},
			[]string{"login", "-p", "svc", "--no-browser"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			serve(t, tt.daemon)
			r := runAuthc(t, tt.args...)
			errs := errorLines(r.stderr)
			if r.code != api.ExitLoginRequired || len(errs) != 1 || !strings.Contains(errs[0], fix) || strings.Count(errs[0], "authc login") != 1 {
				t.Errorf("authc %v: exit %d, stderr %q; want exit %d and one line naming only %q", tt.args, r.code, r.stderr, api.ExitLoginRequired, fix)
			}
		})
	}
	// A browser profile keeps the plain hint.
	serve(t, &fakeDaemon{status: svcStatus, token: func(context.Context) (*pb.Token, error) {
		return nil, daemonStatus(codes.Unauthenticated, api.LoginRequired, "profile work: login required")
	}})
	if r := runAuthc(t, "token", "-p", "work", "--no-login"); !strings.HasSuffix(r.stderr, " (run 'authc login -p work')\n") {
		t.Errorf("authc token -p work: %q", r.stderr)
	}
}

// A socket that the caller may not reach (EACCES on connect: a directory
// it cannot enter) is a permission error, not a daemon that is not running.
func TestSocketPermissionDenied(t *testing.T) {
	const path = "/run/user/1000/authd/authd.sock"
	// As package client returns it (its own tests check that it does).
	denied := &client.Error{Reason: api.SocketDenied, Message: "permission denied on the socket " + path}
	code, msg := explain(explainCall(denied, path))
	if code != api.ExitPermission || !strings.Contains(msg, "permission denied") || !strings.Contains(msg, path) ||
		strings.Contains(msg, "is it running") || strings.Contains(msg, "\n") {
		t.Errorf("explain(EACCES on dial) = %d %q; want %d and one line naming the socket", code, msg, api.ExitPermission)
	}
	// The daemon that is just not there stays exit 4.
	missing := filepath.Join(t.TempDir(), "authd.sock")
	c, err := client.New(client.WithSocket(missing))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, noEnt := c.Status(context.Background())
	if code, msg := explain(explainCall(noEnt, missing)); code != api.ExitDaemon || !strings.Contains(msg, "is it running") {
		t.Errorf("explain(ENOENT on dial) = %d %q; want %d", code, msg, api.ExitDaemon)
	}
}

// withStdin runs f with os.Stdin reading data.
func withStdin(t *testing.T, data string, f func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	old := os.Stdin
	os.Stdin = in
	defer func() { os.Stdin = old }()
	f()
}

func TestInspectStdin(t *testing.T) {
	noDaemon(t)
	tok := jwtOf(`{"sub":"alice","exp":1700000000}`)
	var r runResult
	withStdin(t, "  "+tok+"\n", func() { r = runAuthc(t, "inspect", "-") })
	var out struct {
		Claims map[string]any    `json:"claims"`
		Times  map[string]string `json:"times"`
	}
	if r.code != api.ExitOK || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Claims["sub"] != "alice" || out.Times["exp"] != "2023-11-14T22:13:20Z" {
		t.Errorf("authc inspect - with a JWT on stdin: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	withStdin(t, strings.Repeat("a", maxStdin+1), func() { r = runAuthc(t, "inspect", "-") })
	if r.code != api.ExitError || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "longer than 64 KiB") {
		t.Errorf("authc inspect - with 64 KiB + 1 on stdin: exit %d, stderr %q; want exit 1 and one line", r.code, r.stderr)
	}
	withStdin(t, "\n", func() { r = runAuthc(t, "inspect", "-") })
	if r.code != api.ExitUsage || !strings.Contains(r.stderr, "no token on stdin") {
		t.Errorf("authc inspect - with nothing on stdin: exit %d, stderr %q", r.code, r.stderr)
	}
}

func jwtOf(claims string) string {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	return enc(`{"alg":"none"}`) + "." + enc(claims) + ".sig"
}

// statusWithProblems is a status with a failed reload and a long error.
func statusWithProblems(now time.Time) *pb.StatusResponse {
	return &pb.StatusResponse{
		Version: "v1", Pid: 42, ConfigPath: "/home/u/.config/authd/config.toml", KeyringBackend: "file", DefaultProfile: "work",
		ReloadError: "/home/u/.config/authd/config.toml:7: profiles.work.flow: must be one of auto, browser, device, client_credentials; not \"pkce\"\n" +
			"/home/u/.config/authd/config.toml:9: profiles.work.timeout: must be positive, not \"0s\"",
		Profiles: []*pb.ProfileStatus{
			{Name: "work", State: "valid", Source: "session", Flow: "auto", Account: "alice@example.com",
				Expiry: timestamppb.New(now.Add(72*time.Hour + 30*time.Second)), LastRefresh: timestamppb.New(now.Add(-90 * time.Second)),
				NextRefresh: timestamppb.New(now.Add(45 * time.Minute)), Failures: 2, HasRefreshToken: true,
				LastError: "refresh work: identity provider unavailable: Post \"https://idp.example.com/oauth/token\": dial tcp 10.0.0.1:443: connect: connection refused"},
			{Name: "ci", State: "logged_out"},
		},
	}
}

// 'authc status' says that a reload failed and why, explains its markers,
// and keeps each profile on one readable line.
func TestStatusText(t *testing.T) {
	now := time.Now()
	st := statusWithProblems(now)
	serve(t, &fakeDaemon{status: func(context.Context) (*pb.StatusResponse, error) { return st, nil }})
	r := runAuthc(t, "status")
	if r.code != api.ExitOK {
		t.Fatalf("authc status: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"did not reload: authd keeps serving the configuration it loaded before",
		"\n  /home/u/.config/authd/config.toml:7: profiles.work.flow: must be one of",
		"\n  /home/u/.config/authd/config.toml:9: profiles.work.timeout: must be positive",
		"\n" + statusLegend + "\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("authc status does not say %q:\n%s", want, r.stdout)
		}
	}
	var work string
	for _, l := range lines(r.stdout) {
		if strings.HasPrefix(l, "work *") {
			work = l
		}
	}
	errCol := work[strings.Index(work, "refresh work:"):]
	if utf8.RuneCountInString(errCol) > maxErrorColumn || !strings.HasSuffix(errCol, "…") {
		t.Errorf("the last error in the table is %d runes, want it cut to %d: %q", utf8.RuneCountInString(errCol), maxErrorColumn, errCol)
	}
	for _, want := range []string{"in 3d", "1m30s ago", "retry in 45m (2 failed)"} {
		if !strings.Contains(work, want) {
			t.Errorf("the row of work does not say %q: %q", want, work)
		}
	}
}

// 'authc status --json' uses the names 'authc token --json' uses, leaves
// out what is not known, writes times in RFC 3339 and errors whole.
func TestStatusJSON(t *testing.T) {
	now := time.Now()
	st := statusWithProblems(now)
	serve(t, &fakeDaemon{status: func(context.Context) (*pb.StatusResponse, error) { return st, nil }})
	r := runAuthc(t, "status", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("authc status --json: %v\n%s", err, r.stdout)
	}
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !snake.MatchString(k) {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			if v == "-" || v == "" {
				t.Errorf("%s is %q: an unknown field must be left out", path, v)
			}
		}
	}
	walk("", got)
	if got["reload_error"] != st.ReloadError || got["config_path"] != st.ConfigPath {
		t.Errorf("reload_error %q, config_path %q", got["reload_error"], got["config_path"])
	}
	profiles := got["profiles"].([]any)
	work, ci := profiles[0].(map[string]any), profiles[1].(map[string]any)
	if work["last_error"] != st.Profiles[0].LastError {
		t.Errorf("last_error %q, want the whole error", work["last_error"])
	}
	for _, k := range []string{"expiry", "last_refresh", "next_refresh"} {
		s, _ := work[k].(string)
		if ts, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") || strings.Contains(s, ".") || ts.Sub(st.Profiles[0].GetExpiry().AsTime()) > 73*time.Hour {
			t.Errorf("%s = %q, want RFC 3339 in UTC, to the second", k, s)
		}
	}
	for _, k := range []string{"issuer", "account", "source", "expiry", "last_error"} {
		if _, ok := ci[k]; ok {
			t.Errorf("profile ci has %s = %v; it is not known and must be left out", k, ci[k])
		}
	}
}

// 'authc token --json' writes its expiry as status --json does.
func TestTokenJSONTime(t *testing.T) {
	expiry := time.Date(2030, 1, 2, 3, 4, 5, 678, time.FixedZone("X", 3600))
	serve(t, &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
		return &pb.Token{AccessToken: "abc", TokenType: "Bearer", Expiry: timestamppb.New(expiry), Profile: "work"}, nil
	}})
	r := runAuthc(t, "token", "--no-login", "--json")
	if !strings.Contains(r.stdout, `"expiry": "2030-01-02T02:04:05Z"`) {
		t.Errorf("authc token --json: %s", r.stdout)
	}
}

func TestRoughDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{1500 * time.Millisecond, "2s"},
		{59 * time.Second, "59s"},
		{10 * time.Minute, "10m"},
		{10*time.Minute + 5*time.Second, "10m5s"},
		{61*time.Minute + 29*time.Second, "1h1m"},
		{47 * time.Hour, "47h"},
		{72 * time.Hour, "3d"},
		{75*time.Hour + 20*time.Minute, "3d3h"},
	} {
		if got := roughDuration(tt.d); got != tt.want {
			t.Errorf("roughDuration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// --with-token used to store the first 64 KiB of a longer input, and a
// token with control characters in it: both are refused before authd is
// even asked.
func TestStoreCredentialRefusesBadInput(t *testing.T) {
	noDaemon(t)
	for _, tt := range []struct {
		name, stdin, want string
	}{
		{"too long", strings.Repeat("a", maxStdin+1), "longer than 64 KiB"},
		{"control characters", "tok\x1b[2Jen", "control characters in it; nothing was stored"},
		{"empty", "\n", "no token on stdin"},
	} {
		var r runResult
		withStdin(t, tt.stdin, func() { r = runAuthc(t, "login", "--with-token") })
		if r.code == api.ExitOK || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "reach authd") {
			t.Errorf("%s: exit %d, stderr %q; want one line saying %q, before any call to authd", tt.name, r.code, r.stderr, tt.want)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"authd.dev/authd/api"
	pb "authd.dev/authd/proto/authd/v1"
)

// These tests run authc's run() against a fake daemon: a grpc-go server
// that answers what the test says, as a provider or a local attacker
// could make the real one answer. They swap os.Stdout and os.Stderr, and
// set AUTHD_SOCKET: none of them is parallel.

// fakeDaemon answers each call with its field. A nil token blocks GetToken
// until the call ends (a daemon waiting on the provider); a nil status
// answers a bare status.
type fakeDaemon struct {
	pb.UnimplementedBrokerServer
	token  func(ctx context.Context) (*pb.Token, error)
	status func(ctx context.Context) (*pb.StatusResponse, error)
	events []*pb.LoginEvent
	hold   bool  // after the events, keep the login going until the call ends
	end    error // after the events, end the login with this error
}

func (f *fakeDaemon) GetToken(ctx context.Context, _ *pb.GetTokenRequest) (*pb.Token, error) {
	if f.token == nil {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return f.token(ctx)
}

func (f *fakeDaemon) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	if f.status == nil {
		return &pb.StatusResponse{Version: "test"}, nil
	}
	return f.status(ctx)
}

func (f *fakeDaemon) Login(_ *pb.LoginRequest, stream pb.Broker_LoginServer) error {
	for _, ev := range f.events {
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	if f.hold {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	return f.end
}

// shortSocket returns a socket path short enough for sun_path.
func shortSocket(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "authc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// serve starts d on a socket that AUTHD_SOCKET names for the test.
func serve(t *testing.T, d *fakeDaemon) {
	t.Helper()
	serveBroker(t, d)
}

// daemonStatus is an error as authd sends it: a code and an ErrorInfo reason.
func daemonStatus(code codes.Code, reason api.Reason, msg string) error {
	st := status.New(code, msg)
	if reason != "" {
		st, _ = st.WithDetails(&errdetails.ErrorInfo{Reason: string(reason), Domain: api.ErrorDomain})
	}
	return st.Err()
}

type runResult struct {
	code           int
	stdout, stderr string
}

// runAuthc runs authc's run(args) with stdout and stderr captured, and no
// browser to open.
func runAuthc(t *testing.T, args ...string) runResult {
	t.Helper()
	return runAuthcWithBrowser(t, "", args...)
}

// runAuthcWithBrowser is runAuthc with $BROWSER set to browser.
func runAuthcWithBrowser(t *testing.T, browser string, args ...string) runResult {
	t.Helper()
	for _, k := range []string{"DISPLAY", "WAYLAND_DISPLAY", "AUTHD_TOKEN", "SSH_CONNECTION", "SSH_TTY"} {
		t.Setenv(k, "")
	}
	t.Setenv("BROWSER", browser)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	capture := func(f **os.File) func() string {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		old := *f
		*f = w
		out := make(chan string)
		go func() { b, _ := io.ReadAll(r); out <- string(b) }()
		return func() string { *f = old; w.Close(); return <-out }
	}
	stdout, stderr := capture(&os.Stdout), capture(&os.Stderr)
	profileArg = ""
	code := run(args)
	return runResult{code: code, stdout: stdout(), stderr: stderr()}
}

// hostile is provider text that forges a line, sets the terminal's title,
// and reverses what follows it.
const hostile = "access_denied\x1b]0;pwned\x07\r\nauthc: all good\u202e\u0085\x7f"

// checkInert fails when s holds a rune a terminal acts on.
func checkInert(t *testing.T, what, s string) {
	t.Helper()
	for _, r := range s {
		if r != '\n' && unsafeRune(r) {
			t.Errorf("%s has the raw control %U:\n%q", what, r, s)
			return
		}
	}
}

func TestRunEscapesDaemonText(t *testing.T) {
	for _, tt := range []struct {
		name     string
		daemon   *fakeDaemon
		args     []string
		code     int
		stderrIn string // a line of stderr contains it
		lines    int    // of stderr; 0: any
	}{
		{
			name: "error message",
			daemon: &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
				return nil, daemonStatus(codes.Aborted, api.LoginFailed, hostile)
			}},
			args: []string{"token", "--no-login"}, code: api.ExitLoginFailed, stderrIn: `access_denied\x1b]0;pwned\x07\x0d\x0aauthc: all good\u202e\u0085\x7f`, lines: 1,
		},
		{
			name: "error without a reason",
			daemon: &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
				return nil, status.Error(codes.Internal, hostile)
			}},
			args: []string{"token", "--no-login"}, code: api.ExitError, stderrIn: `\x1b]0;pwned`, lines: 1,
		},
		{
			name: "huge message is capped",
			daemon: &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
				return nil, daemonStatus(codes.Aborted, api.LoginFailed, strings.Repeat("x\x1b", 10000))
			}},
			args: []string{"token", "--no-login"}, code: api.ExitLoginFailed, stderrIn: "more bytes)", lines: 1,
		},
		{
			name: "token with a newline",
			daemon: &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
				return &pb.Token{AccessToken: "abc\nauthc: forged", Profile: "work"}, nil
			}},
			args: []string{"token", "--no-login"}, code: api.ExitError, stderrIn: "refusing to print it", lines: 1,
		},
		{
			name: "status table",
			daemon: &fakeDaemon{status: func(context.Context) (*pb.StatusResponse, error) {
				return &pb.StatusResponse{Version: "v\x1b[2J", ConfigPath: "/c\r", KeyringBackend: "file", Profiles: []*pb.ProfileStatus{
					{Name: "work\x1b[31m", Issuer: hostile, State: "needs_login\n", Account: "eve\u202e", LastError: hostile, Source: "\u009b"},
				}}, nil
			}},
			args: []string{"status"}, code: api.ExitOK,
		},
		{
			name: "status JSON",
			daemon: &fakeDaemon{status: func(context.Context) (*pb.StatusResponse, error) {
				return &pb.StatusResponse{Version: "v", Profiles: []*pb.ProfileStatus{{Name: "work", Account: hostile, LastError: hostile}}}, nil
			}},
			args: []string{"status", "--json"}, code: api.ExitOK,
		},
		{
			name: "login events",
			daemon: &fakeDaemon{events: []*pb.LoginEvent{
				{Event: &pb.LoginEvent_Waiting{Waiting: &pb.Waiting{StartedBy: hostile}}},
				{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: "http://127.0.0.1:1/authorize?x=\x1b[8m", RedirectUri: "http://127.0.0.1:2\x1b/callback"}}},
				{Event: &pb.LoginEvent_DeviceCode{DeviceCode: &pb.DeviceCode{VerificationUri: "http://idp/\x1b]8;;", UserCode: "AB\rCD", VerificationUriComplete: "http://idp/?\u2066"}}},
				{Event: &pb.LoginEvent_Done{Done: &pb.Done{Account: hostile}}},
			}},
			args: []string{"login", "--no-browser"}, code: api.ExitOK, stderrIn: `Logged in as access_denied\x1b]0;pwned`,
		},
		{
			name:   "login failed",
			daemon: &fakeDaemon{end: daemonStatus(codes.Aborted, api.LoginFailed, hostile)},
			args:   []string{"login", "--no-browser"}, code: api.ExitLoginFailed, stderrIn: `authc: access_denied\x1b]0;pwned`, lines: 1,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			serve(t, tt.daemon)
			r := runAuthc(t, tt.args...)
			if r.code != tt.code {
				t.Fatalf("authc %v: exit %d, want %d\nstdout: %q\nstderr: %q", tt.args, r.code, tt.code, r.stdout, r.stderr)
			}
			checkInert(t, "stdout", r.stdout)
			checkInert(t, "stderr", r.stderr)
			if tt.stderrIn != "" && !strings.Contains(r.stderr, tt.stderrIn) {
				t.Errorf("stderr does not contain %q:\n%s", tt.stderrIn, r.stderr)
			}
			if n := len(lines(r.stderr)); tt.lines > 0 && n != tt.lines {
				t.Errorf("stderr has %d lines, want %d:\n%s", n, tt.lines, r.stderr)
			}
			for _, l := range lines(r.stderr) {
				if len(l) > 2*maxPrintable {
					t.Errorf("stderr line of %d bytes, want it capped near %d", len(l), maxPrintable)
				}
			}
		})
	}
}

// The JSON status stays exact for programs: escaping changes the bytes,
// not the strings they decode to.
func TestStatusJSONExact(t *testing.T) {
	serve(t, &fakeDaemon{status: func(context.Context) (*pb.StatusResponse, error) {
		return &pb.StatusResponse{Version: "v", Profiles: []*pb.ProfileStatus{{Name: "work", Account: hostile, LastError: hostile}}}, nil
	}})
	r := runAuthc(t, "status", "--json")
	var got struct {
		Profiles []struct {
			Account   string `json:"account"`
			LastError string `json:"last_error"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got.Profiles) != 1 {
		t.Fatalf("authc status --json: %v\n%s", err, r.stdout)
	}
	if p := got.Profiles[0]; p.Account != hostile || p.LastError != hostile {
		t.Errorf("decoded account %q, last error %q; want both %q", p.Account, p.LastError, hostile)
	}
	checkInert(t, "stdout", r.stdout)
}

func TestTokenLifetimeExitCode(t *testing.T) {
	serve(t, &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
		return nil, daemonStatus(codes.OutOfRange, api.TokenLifetime, "profile work's tokens live 5m0s, shorter than the 1h0m0s asked")
	}})
	r := runAuthc(t, "token", "--no-login", "--min-valid", "1h")
	if r.code != api.ExitTokenLifetime || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "--min-valid") {
		t.Errorf("authc token --min-valid 1h: want exit %d and one line naming --min-valid; got %d %q", api.ExitTokenLifetime, r.code, r.stderr)
	}
}

// silentSocket is a daemon that accepts connections and never answers, as
// a stopped (SIGSTOP) one does.
func silentSocket(t *testing.T) {
	t.Helper()
	path := shortSocket(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Setenv("AUTHD_SOCKET", path)
}

func TestDeadlineSilentDaemon(t *testing.T) {
	silentSocket(t)
	for _, args := range [][]string{
		{"token", "--timeout", "1s"},
		{"status", "--timeout", "1s"},
		{"login", "--no-browser", "--timeout", "1s"},
	} {
		r := runAuthc(t, args...)
		want := "authc: authd did not answer within 1s (is it stopped? check 'authd status' / its log)\n"
		if r.code != api.ExitDaemon || r.stderr != want || r.stdout != "" {
			t.Errorf("authc %v against a silent daemon: got exit %d, stderr %q; want exit %d, stderr %q", args, r.code, r.stderr, api.ExitDaemon, want)
		}
	}
}

// A daemon that answers other calls but not this one is busy (waiting on
// the provider): exit 5, not "is it stopped?".
func TestDeadlineBusyDaemon(t *testing.T) {
	serve(t, &fakeDaemon{})
	r := runAuthc(t, "token", "--no-login", "--timeout", "1s")
	if r.code != api.ExitProvider || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "within 1s") || !strings.Contains(r.stderr, "busy") {
		t.Errorf("authc token against a busy daemon: want exit %d and one line saying it is busy; got %d %q", api.ExitProvider, r.code, r.stderr)
	}
}

// A login that started but did not finish in time is a failed login.
func TestDeadlineLoginWait(t *testing.T) {
	serve(t, &fakeDaemon{hold: true, events: []*pb.LoginEvent{
		{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: "http://127.0.0.1:1/authorize?state=s", RedirectUri: "http://127.0.0.1:2/callback"}}},
	}})
	r := runAuthc(t, "login", "--no-browser", "--timeout", "1s")
	errs := errorLines(r.stderr)
	if r.code != api.ExitLoginFailed || len(errs) != 1 || !strings.Contains(errs[0], "the login did not finish within 1s") {
		t.Errorf("authc login --timeout 1s on a login nobody finishes: want exit %d and one error line; got %d %q", api.ExitLoginFailed, r.code, r.stderr)
	}
}

func TestTimeoutFlagChecked(t *testing.T) {
	t.Setenv("AUTHD_SOCKET", filepath.Join(t.TempDir(), "none"))
	if r := runAuthc(t, "token", "--timeout", "0s"); r.code != api.ExitUsage {
		t.Errorf("authc token --timeout 0s: exit %d, want %d", r.code, api.ExitUsage)
	}
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func errorLines(stderr string) []string {
	var out []string
	for _, l := range lines(stderr) {
		if strings.HasPrefix(l, "authc: ") {
			out = append(out, l)
		}
	}
	return out
}

// A daemon at its connection limit accepts and closes at once: that is not
// "is it running?", which would send the user to start a second one.
func TestClosedWithoutAnswer(t *testing.T) {
	path := shortSocket(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Setenv("AUTHD_SOCKET", path)
	r := runAuthc(t, "status", "--timeout", "5s")
	if r.code != api.ExitDaemon || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "closed the connection without answering") {
		t.Errorf("authc status against a daemon that closes at once: exit %d, stderr %q", r.code, r.stderr)
	}
}

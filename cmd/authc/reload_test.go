package main

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"authd.dev/authd/api"
	pb "authd.dev/authd/proto/authd/v1"
)

// reloadDaemon is a fakeDaemon that also answers Reload.
type reloadDaemon struct {
	*fakeDaemon
	reload func(context.Context) (*pb.ReloadResponse, error)
}

func (d *reloadDaemon) Reload(ctx context.Context, _ *pb.ReloadRequest) (*pb.ReloadResponse, error) {
	if d.reload == nil {
		return d.fakeDaemon.UnimplementedBrokerServer.Reload(ctx, nil)
	}
	return d.reload(ctx)
}

// serveVersioned starts d as serve does, with every answer carrying
// version in the header authd sends it in ("" sends none).
func serveVersioned(t *testing.T, d pb.BrokerServer, version string) {
	t.Helper()
	path := shortSocket(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if version != "" {
		md := metadata.Pairs(api.VersionHeader, version)
		opts = append(opts,
			grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				_ = grpc.SetHeader(ctx, md)
				return h(ctx, req)
			}),
			grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				_ = ss.SetHeader(md)
				return h(srv, ss)
			}))
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterBrokerServer(srv, d)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	t.Setenv("AUTHD_SOCKET", path)
}

func TestReloadPrintsChanges(t *testing.T) {
	serveVersioned(t, &reloadDaemon{fakeDaemon: &fakeDaemon{}, reload: func(context.Context) (*pb.ReloadResponse, error) {
		return &pb.ReloadResponse{ConfigPath: "/home/u/.config/authd/config.toml", Added: []string{"staging", "test"}, Changed: []string{"work"}, Removed: []string{"old\x1b[2J"}}, nil
	}}, "")
	r := runAuthc(t, "reload")
	want := "authd reloaded /home/u/.config/authd/config.toml.\n" +
		"  added:   staging, test\n" +
		"  changed: work\n" +
		"  removed: old\\x1b[2J\n" +
		"Changed profiles start over from the keyring; the others keep their sessions.\n"
	if r.code != api.ExitOK || r.stdout != want || r.stderr != "" {
		t.Errorf("authc reload: exit %d\nstdout:\n%s\nstderr: %q\nwant exit 0 and\n%s", r.code, r.stdout, r.stderr, want)
	}
}

func TestReloadNothingChanged(t *testing.T) {
	serveVersioned(t, &reloadDaemon{fakeDaemon: &fakeDaemon{}, reload: func(context.Context) (*pb.ReloadResponse, error) {
		return &pb.ReloadResponse{ConfigPath: "/c.toml"}, nil
	}}, "")
	r := runAuthc(t, "reload")
	if want := "authd reloaded /c.toml: no profile was added, changed or removed.\n"; r.code != api.ExitOK || r.stdout != want {
		t.Errorf("authc reload: exit %d, stdout %q; want %q", r.code, r.stdout, want)
	}
}

// 'authc reload --json' names things as 'authc status --json' does, and
// has every list, empty or not.
func TestReloadJSON(t *testing.T) {
	serveVersioned(t, &reloadDaemon{fakeDaemon: &fakeDaemon{}, reload: func(context.Context) (*pb.ReloadResponse, error) {
		return &pb.ReloadResponse{ConfigPath: "/c.toml", Added: []string{"a"}, KeyringChanged: true}, nil
	}}, "")
	r := runAuthc(t, "reload", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != api.ExitOK {
		t.Fatalf("authc reload --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	want := map[string]any{"config_path": "/c.toml", "added": []any{"a"}, "changed": []any{}, "removed": []any{}, "keyring_changed": true}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("authc reload --json = %s, want %s", gotJSON, wantJSON)
	}
}

// A file with problems: each on a line, that the old config is kept, and
// the config's exit code; nothing on stdout, --json or not.
func TestReloadProblems(t *testing.T) {
	msg := "the config file did not reload; authd keeps serving the configuration it had:\n" +
		"/c.toml:7: profiles.work.flow: must be one of auto, browser, device, client_credentials; not \"pkce\"\n" +
		"/c.toml:9: profiles.work.timeout: must be positive, not \"0s\""
	serveVersioned(t, &reloadDaemon{fakeDaemon: &fakeDaemon{}, reload: func(context.Context) (*pb.ReloadResponse, error) {
		return nil, daemonStatus(codes.FailedPrecondition, api.InvalidConfig, msg)
	}}, "")
	for _, args := range [][]string{{"reload"}, {"reload", "--json"}} {
		r := runAuthc(t, args...)
		want := "authc: the config file did not reload; authd keeps serving the configuration it had:\n" +
			"  /c.toml:7: profiles.work.flow: must be one of auto, browser, device, client_credentials; not \"pkce\"\n" +
			"  /c.toml:9: profiles.work.timeout: must be positive, not \"0s\"\n"
		if r.code != api.ExitProfile || r.stdout != "" || r.stderr != want {
			t.Errorf("authc %v: exit %d, stdout %q\nstderr:\n%s\nwant exit %d and on stderr\n%s", args, r.code, r.stdout, r.stderr, api.ExitProfile, want)
		}
	}
}

// A daemon from before the Reload call: say how to reload it instead.
func TestReloadOldDaemon(t *testing.T) {
	serveVersioned(t, &reloadDaemon{fakeDaemon: &fakeDaemon{}}, "")
	r := runAuthc(t, "reload")
	if r.code != api.ExitError || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "SIGHUP") {
		t.Errorf("authc reload against a daemon without Reload: exit %d, stderr %q; want exit 1 and one line saying to send SIGHUP", r.code, r.stderr)
	}
}

// versionWarning is once per run of authc; the tests run authc's run()
// many times in one process.
func resetVersionWarning() { versionWarning = sync.Once{} }

// authc warns on stderr, once, when the daemon is a release older or
// newer than itself, whichever call brought the daemon's version; never on
// stdout, and never for development builds.
func TestVersionWarning(t *testing.T) {
	for _, tt := range []struct {
		name, authc, daemon string
		warn                string // "" for none
	}{
		{"older daemon", "v1.3.0", "v1.2.0", "authc: authd v1.2.0 is running, older than this authc v1.3.0: restart it with 'authd stop && authd start' (or 'authd run --replace')\n"},
		{"newer daemon", "v1.3.0", "v1.4.0", "authc: authd v1.4.0 is running, newer than this authc v1.3.0: update authc, or, if authd was downgraded, restart it with 'authd stop && authd start' (or 'authd run --replace')\n"},
		{"same", "v1.3.0", "v1.3.0", ""},
		{"devel authc", "", "v1.2.0", ""},
		{"devel daemon", "v1.3.0", "(devel)", ""},
		{"commit daemon", "v1.3.0", "0123456789ab+dirty (2025-01-02T15:04:05Z)", ""},
		{"daemon that does not say", "v1.3.0", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			version = tt.authc
			t.Cleanup(func() { version = "" })
			serveVersioned(t, &reloadDaemon{fakeDaemon: &fakeDaemon{
				token: func(context.Context) (*pb.Token, error) {
					return &pb.Token{AccessToken: "abc", TokenType: "Bearer", Profile: "work"}, nil
				},
				events: []*pb.LoginEvent{{Event: &pb.LoginEvent_Done{Done: &pb.Done{Account: "me", AlreadyLoggedIn: true}}}},
			}}, tt.daemon)
			for _, args := range [][]string{{"token", "--no-login"}, {"status"}, {"login", "--no-browser"}} {
				resetVersionWarning()
				r := runAuthc(t, args...)
				if r.code != api.ExitOK {
					t.Fatalf("authc %v: exit %d, stderr %q", args, r.code, r.stderr)
				}
				switch {
				case tt.warn == "" && strings.Contains(r.stderr, "is running"):
					t.Errorf("authc %v warned against authd %q:\n%s", args, tt.daemon, r.stderr)
				case tt.warn != "" && (strings.Count(r.stderr, "is running") != 1 || !strings.Contains(r.stderr, tt.warn)):
					t.Errorf("authc %v against authd %q, stderr:\n%s\nwant once:\n%s", args, tt.daemon, r.stderr, tt.warn)
				}
				if strings.Contains(r.stdout, "is running") {
					t.Errorf("authc %v warned on stdout:\n%s", args, r.stdout)
				}
			}
		})
	}
}

// 'authc status' shows the daemon's version and build, and authc's own.
func TestStatusShowsVersions(t *testing.T) {
	version = "v1.3.0"
	t.Cleanup(func() { version = "" })
	resetVersionWarning()
	serveVersioned(t, &reloadDaemon{fakeDaemon: &fakeDaemon{status: func(context.Context) (*pb.StatusResponse, error) {
		return &pb.StatusResponse{Version: "v1.2.0", Build: "0123456789ab, 2025-01-02T15:04:05Z, go1.26.8", Pid: 42, ConfigPath: "/c.toml"}, nil
	}}}, "v1.2.0")
	r := runAuthc(t, "status")
	for _, want := range []string{"authd v1.2.0 (pid 42)", "build 0123456789ab, 2025-01-02T15:04:05Z, go1.26.8; authc v1.3.0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("authc status does not say %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "older than this authc") {
		t.Errorf("authc status against an older authd does not warn:\n%s", r.stderr)
	}
	r = runAuthc(t, "status", "--json")
	var got struct{ Version, Build string }
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Version != "v1.2.0" || got.Build != "0123456789ab, 2025-01-02T15:04:05Z, go1.26.8" {
		t.Errorf("authc status --json: %v\n%s", err, r.stdout)
	}
}

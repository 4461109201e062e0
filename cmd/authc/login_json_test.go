package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"authd.dev/authd/api"
	pb "authd.dev/authd/proto/authd/v1"
)

// The tests of 'authc login --json'. Like run_test.go's, they swap
// os.Stdout and os.Stderr: none is parallel.

// jsonEvents decodes the lines of 'authc login --json', failing t on a
// line that is not one JSON object.
func jsonEvents(t *testing.T, stdout string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.SplitAfter(stdout, "\n") {
		if l == "" {
			continue
		}
		if !strings.HasSuffix(l, "\n") || strings.Count(l, "\n") != 1 {
			t.Fatalf("stdout has a line that does not end, or several in one: %q", l)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line %q is not a JSON object: %v", l, err)
		}
		out = append(out, ev)
	}
	return out
}

// Each step of a login is one line on stdout, with the daemon's text
// exact (and inert on a terminal), while stderr says what it says
// without --json.
func TestLoginJSONEvents(t *testing.T) {
	// Hours ahead, so that the relative times on stderr stay the same
	// between the two runs.
	at := time.Now().Add(3*time.Hour + 20*time.Second).Truncate(time.Second).UTC()
	daemon := &fakeDaemon{events: []*pb.LoginEvent{
		{Event: &pb.LoginEvent_Waiting{Waiting: &pb.Waiting{StartedBy: hostile}}},
		{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: "http://127.0.0.1:1/authorize?state=s&x=\x1b[8m", RedirectUri: "http://127.0.0.1:2/callback"}}},
		{Event: &pb.LoginEvent_DeviceCode{DeviceCode: &pb.DeviceCode{VerificationUri: "http://127.0.0.1:1/device", UserCode: "AB\rCD",
			VerificationUriComplete: "http://127.0.0.1:1/device?user_code=ABCD", Expires: timestamppb.New(at)}}},
		{Event: &pb.LoginEvent_Done{Done: &pb.Done{Account: hostile, Expiry: timestamppb.New(at)}}},
	}}
	serve(t, daemon)
	r := runAuthc(t, "login", "--no-browser", "--json", "-p", "work")
	if r.code != api.ExitOK {
		t.Fatalf("authc login --json: exit %d\nstderr: %s", r.code, r.stderr)
	}
	checkInert(t, "stdout", r.stdout)
	stamp := at.Format(time.RFC3339)
	want := []map[string]any{
		{"event": "waiting", "profile": "work", "started_by": hostile},
		{"event": "open_url", "profile": "work", "url": "http://127.0.0.1:1/authorize?state=s&x=\x1b[8m",
			"redirect_uri": "http://127.0.0.1:2/callback", "opened": false},
		{"event": "device_code", "profile": "work", "verification_uri": "http://127.0.0.1:1/device", "user_code": "AB\rCD",
			"verification_uri_complete": "http://127.0.0.1:1/device?user_code=ABCD", "expires_at": stamp},
		{"event": "done", "profile": "work", "account": hostile, "expiry": stamp},
	}
	if got := jsonEvents(t, r.stdout); !reflect.DeepEqual(got, want) {
		t.Errorf("authc login --json events:\n got %v\nwant %v", got, want)
	}

	plain := runAuthc(t, "login", "--no-browser", "-p", "work")
	if plain.stdout != "" {
		t.Errorf("authc login without --json wrote on stdout: %q", plain.stdout)
	}
	if r.stderr != plain.stderr {
		t.Errorf("stderr differs with --json:\n%s\nwithout:\n%s", r.stderr, plain.stderr)
	}
}

// A login the session did not need says so in its done event.
func TestLoginJSONAlreadyLoggedIn(t *testing.T) {
	serve(t, &fakeDaemon{events: []*pb.LoginEvent{
		{Event: &pb.LoginEvent_Done{Done: &pb.Done{Account: "alice", AlreadyLoggedIn: true}}},
	}})
	r := runAuthc(t, "login", "--json")
	want := []map[string]any{{"event": "done", "account": "alice", "already_logged_in": true}}
	if got := jsonEvents(t, r.stdout); r.code != api.ExitOK || !reflect.DeepEqual(got, want) {
		t.Errorf("authc login --json, logged in already: exit %d, events %v; want 0 and %v", r.code, got, want)
	}
}

// opened is true when authc opened a browser on the URL.
func TestLoginJSONOpened(t *testing.T) {
	serve(t, &fakeDaemon{events: []*pb.LoginEvent{
		{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: "http://127.0.0.1:1/authorize?state=s", RedirectUri: "http://127.0.0.1:2/callback"}}},
		{Event: &pb.LoginEvent_Done{Done: &pb.Done{Account: "alice"}}},
	}})
	browser := filepath.Join(t.TempDir(), "browser")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\nexit 0\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	r := runAuthcWithBrowser(t, browser, "login", "--json")
	evs := jsonEvents(t, r.stdout)
	if r.code != api.ExitOK || len(evs) != 2 || evs[0]["event"] != "open_url" || evs[0]["opened"] != true {
		t.Errorf("authc login --json with a browser: exit %d, events %v; want 0 and open_url with opened true", r.code, evs)
	}
}

// A failed login ends with one error event whose message is the line
// authc prints on stderr, and its usual exit code.
func TestLoginJSONError(t *testing.T) {
	openURL := &pb.LoginEvent{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: "http://127.0.0.1:1/authorize?state=s", RedirectUri: "http://127.0.0.1:2/callback"}}}
	for _, tt := range []struct {
		name   string
		daemon *fakeDaemon // nil: no daemon
		args   []string
		code   int
		reason string // "": none
		events int    // before the error
	}{
		{"login failed", &fakeDaemon{events: []*pb.LoginEvent{openURL}, end: daemonStatus(codes.Aborted, api.LoginFailed, hostile)},
			nil, api.ExitLoginFailed, string(api.LoginFailed), 1},
		{"unknown profile", &fakeDaemon{end: daemonStatus(codes.NotFound, api.ProfileNotFound, "no profile nope")},
			[]string{"-p", "nope"}, api.ExitProfile, string(api.ProfileNotFound), 0},
		{"no daemon", nil, nil, api.ExitDaemon, string(api.DaemonUnreachable), 0},
		{"login timeout", &fakeDaemon{events: []*pb.LoginEvent{openURL}, hold: true},
			[]string{"--timeout", "1s"}, api.ExitLoginFailed, string(api.LoginTimeout), 1},
		{"usage", &fakeDaemon{}, []string{"--with-token", "--client-secret-stdin"}, api.ExitUsage, "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.daemon != nil {
				serve(t, tt.daemon)
			} else {
				noDaemon(t)
			}
			r := runAuthc(t, append([]string{"login", "--no-browser", "--json"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			checkInert(t, "stdout", r.stdout)
			evs := jsonEvents(t, r.stdout)
			errs := errorLines(r.stderr)
			if len(evs) != tt.events+1 || len(errs) != 1 {
				t.Fatalf("want %d events and an error, and one error line on stderr; got %v\nstderr: %s", tt.events, evs, r.stderr)
			}
			last := evs[len(evs)-1]
			if last["event"] != "error" {
				t.Fatalf("the last event is %v, want an error", last)
			}
			reason, _ := last["reason"].(string)
			if reason != tt.reason {
				t.Errorf("reason %q, want %q", reason, tt.reason)
			}
			msg, _ := last["message"].(string)
			if msg == "" || !strings.HasPrefix(errs[0], "authc: "+strings.TrimSuffix(msg, " (run 'authc help')")) {
				t.Errorf("message %q is not the error line %q", msg, errs[0])
			}
		})
	}
}

// credentialDaemon accepts any credential.
type credentialDaemon struct {
	fakeDaemon
	expiry time.Time
}

func (d *credentialDaemon) SetCredential(_ context.Context, req *pb.SetCredentialRequest) (*pb.SetCredentialResponse, error) {
	return &pb.SetCredentialResponse{Profile: req.GetProfile(), Expiry: timestamppb.New(d.expiry)}, nil
}

// A stored token ends with a stored event.
func TestLoginJSONStored(t *testing.T) {
	expiry := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	path := shortSocket(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterBrokerServer(srv, &credentialDaemon{expiry: expiry})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	t.Setenv("AUTHD_SOCKET", path)

	var r runResult
	withStdin(t, "opaque-token\n", func() { r = runAuthc(t, "login", "--json", "--with-token") })
	want := []map[string]any{{"event": "stored", "credential": "token", "expiry": expiry.Format(time.RFC3339)}}
	if got := jsonEvents(t, r.stdout); r.code != api.ExitOK || !reflect.DeepEqual(got, want) {
		t.Errorf("authc login --json --with-token: exit %d, events %v; want 0 and %v\nstderr: %s", r.code, got, want, r.stderr)
	}
}

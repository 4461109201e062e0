package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"authd.dev/authd/api"
	pb "authd.dev/authd/proto/authd/v1"
)

func TestAuthScheme(t *testing.T) {
	for _, tt := range []struct{ tokenType, want string }{
		{"", "Bearer"},
		{"Bearer", "Bearer"},
		{"bearer", "Bearer"},
		{"BEARER", "Bearer"},
		{"DPoP", "DPoP"},
		{"dpop", "dpop"},
		{"MAC", "MAC"},
		{"N_A", "N_A"},
	} {
		if got, err := authScheme(tt.tokenType); err != nil || got != tt.want {
			t.Errorf("authScheme(%q) = %q, %v; want %q", tt.tokenType, got, err, tt.want)
		}
	}
	for _, bad := range []string{"Bearer x", "a\r\nX-Evil: 1", "Bé", "a,b", "\x1b[31m"} {
		if got, err := authScheme(bad); err == nil || strings.ContainsFunc(err.Error(), unsafeRune) {
			t.Errorf("authScheme(%q) = %q, %v; want an error, printable", bad, got, err)
		}
	}
}

// headerDaemon serves a token of type tokenType.
func headerDaemon(tokenType string, expiry time.Time) *fakeDaemon {
	return &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
		return &pb.Token{AccessToken: "tok.en-1", TokenType: tokenType, Expiry: timestamppb.New(expiry), Profile: "work"}, nil
	}}
}

func TestHeader(t *testing.T) {
	expiry := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		name, tokenType string
		args            []string
		want            string
	}{
		{"default", "bearer", nil, "Authorization: Bearer tok.en-1\n"},
		{"value", "Bearer", []string{"--format", "value"}, "Bearer tok.en-1\n"},
		{"DPoP as given", "DPoP", nil, "Authorization: DPoP tok.en-1\n"},
		{"no type", "", []string{"--format=header"}, "Authorization: Bearer tok.en-1\n"},
		{"template", "bearer", []string{"--format", "X-Auth-Token: {token} ({type})"}, "X-Auth-Token: tok.en-1 (Bearer)\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			serve(t, headerDaemon(tt.tokenType, expiry))
			r := runAuthc(t, append([]string{"header", "--no-login"}, tt.args...)...)
			if r.code != 0 || r.stdout != tt.want || r.stderr != "" {
				t.Errorf("authc header %v: exit %d, stdout %q, stderr %q; want %q", tt.args, r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}

	// As curl -H @- reads it: one header line.
	serve(t, headerDaemon("bearer", expiry))
	r := runAuthc(t, "header", "--no-login")
	h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(r.stdout + "\n"))).ReadMIMEHeader()
	if err != nil || http.Header(h).Get("Authorization") != "Bearer tok.en-1" || len(h) != 1 {
		t.Errorf("authc header's line read as an HTTP header: %v, %v", h, err)
	}

	r = runAuthc(t, "header", "--no-login", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("authc header --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	want := map[string]any{"header": "Authorization", "value": "Bearer tok.en-1", "token_type": "Bearer", "expiry": "2030-01-02T03:04:05Z", "profile": "work"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("authc header --json: %s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("authc header --json has keys beyond %v: %v", want, got)
	}
}

func TestHeaderErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		daemon *fakeDaemon
		args   []string
		code   int
		say    string
	}{
		{"unknown format", nil, []string{"--format", "curl"}, api.ExitUsage, "--format \"curl\""},
		{"json and format", nil, []string{"--json", "--format", "value"}, api.ExitUsage, "exclude each other"},
		{"login and no-login", nil, []string{"--login", "--no-login"}, api.ExitUsage, "exclude each other"},
		{"argument", nil, []string{"work"}, api.ExitUsage, `unexpected argument "work"`},
		{"bad token type", headerDaemon("Bearer\r\nX-Injected: 1", time.Now().Add(time.Hour)), nil, api.ExitError, "not an HTTP authentication scheme"},
		{"login required", &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
			return nil, daemonStatus(codes.Unauthenticated, api.LoginRequired, "profile work: login required")
		}}, []string{"-p", "work"}, api.ExitLoginRequired, "'authc login -p work'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.daemon != nil {
				serve(t, tt.daemon)
			} else {
				noDaemon(t)
			}
			r := runAuthc(t, append([]string{"header", "--no-login"}, tt.args...)...)
			if r.code != tt.code || r.stdout != "" || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, tt.say) {
				t.Errorf("authc header %v: exit %d, stdout %q, stderr %q; want exit %d and one line saying %s", tt.args, r.code, r.stdout, r.stderr, tt.code, tt.say)
			}
		})
	}
}

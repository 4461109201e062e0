package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/pkg/apis/clientauthentication"
	"k8s.io/client-go/pkg/apis/clientauthentication/install"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	pb "authd.dev/authd/proto/authd/v1"
)

// The requests and answers of these tests are encoded and decoded by
// client-go's own codecs for ExecCredential, set up as its exec
// authenticator (k8s.io/client-go/plugin/pkg/client/auth/exec) sets them up.
var kubeCodecs = func() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return serializer.NewCodecFactory(scheme)
}()

// kubeRequest is $KUBERNETES_EXEC_INFO as client-go writes it.
func kubeRequest(t *testing.T, version string, interactive bool, server string) string {
	t.Helper()
	cred := &clientauthentication.ExecCredential{Spec: clientauthentication.ExecCredentialSpec{Interactive: interactive}}
	if server != "" {
		cred.Spec.Cluster = &clientauthentication.Cluster{Server: server, CertificateAuthorityData: []byte("-----BEGIN CERTIFICATE-----\n...")}
	}
	gv := schema.GroupVersion{Group: "client.authentication.k8s.io", Version: version}
	data, err := runtime.Encode(kubeCodecs.LegacyCodec(gv), cred)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// kubectl120Request is what kubectl 1.20 (Debian's kubernetes-client)
// sets, with provideClusterInfo: v1beta1 did not say yet whether the user
// is at a terminal.
const kubectl120Request = `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"cluster":{"server":"https://127.0.0.1:6443","insecure-skip-tls-verify":true,"config":null}}}`

func TestParseExecInfo(t *testing.T) {
	yes, no := true, false
	for _, tt := range []struct {
		name        string
		info        string
		set         bool
		want        execRequest
		errContains string
	}{
		{name: "absent", set: false, want: execRequest{apiVersion: execCredentialV1beta1}},
		{name: "v1, interactive, cluster", set: true, info: kubeRequest(t, "v1", true, "https://k8s.example.com:6443"),
			want: execRequest{apiVersion: execCredentialV1, interactive: &yes, server: "https://k8s.example.com:6443"}},
		{name: "v1, not interactive", set: true, info: kubeRequest(t, "v1", false, ""),
			want: execRequest{apiVersion: execCredentialV1, interactive: &no}},
		{name: "v1beta1", set: true, info: kubeRequest(t, "v1beta1", false, "https://10.0.0.1"),
			want: execRequest{apiVersion: execCredentialV1beta1, interactive: &no, server: "https://10.0.0.1"}},
		{name: "kubectl 1.20", set: true, info: kubectl120Request,
			want: execRequest{apiVersion: execCredentialV1beta1, server: "https://127.0.0.1:6443"}},
		{name: "empty", set: true, info: "", errContains: "is not an ExecCredential in JSON"},
		{name: "truncated", set: true, info: `{"kind":"ExecCredential",`, errContains: "is not an ExecCredential in JSON"},
		{name: "two objects", set: true, info: kubeRequest(t, "v1", false, "") + "{}", errContains: "more after the object"},
		{name: "not an object", set: true, info: `["ExecCredential"]`, errContains: "is not an ExecCredential in JSON"},
		{name: "another kind", set: true, info: `{"kind":"Pod","apiVersion":"client.authentication.k8s.io/v1"}`, errContains: `kind "Pod"`},
		{name: "v1alpha1", set: true, info: `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{}}`,
			errContains: "authc answers client.authentication.k8s.io/v1 and client.authentication.k8s.io/v1beta1"},
		{name: "hostile apiVersion", set: true, info: `{"kind":"ExecCredential","apiVersion":"x\u001b]0;pwned\u0007"}`, errContains: `"x\x1b]0;pwned\x07"`},
		{name: "huge", set: true, info: `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"` +
			strings.Repeat("a", maxExecInfo) + `"}}}`, errContains: "more than the 256 KiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExecInfo(tt.info, tt.set)
			if tt.errContains != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errContains) || !strings.Contains(err.Error(), "$KUBERNETES_EXEC_INFO") {
					t.Fatalf("parseExecInfo: %v; want an error naming $KUBERNETES_EXEC_INFO and saying %q", err, tt.errContains)
				}
				if len(err.Error()) > 600 {
					t.Errorf("the error is %d bytes long: the request is not quoted in it, only what is wrong", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.apiVersion != tt.want.apiVersion || got.server != tt.want.server ||
				(got.interactive == nil) != (tt.want.interactive == nil) || got.interactive != nil && *got.interactive != *tt.want.interactive {
				t.Errorf("parseExecInfo = %+v (interactive %v), want %+v (interactive %v)", got, deref(got.interactive), tt.want, deref(tt.want.interactive))
			}
		})
	}
}

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// FuzzParseExecInfo: no request makes the parser panic, and what it
// accepts asks for a version authc answers.
func FuzzParseExecInfo(f *testing.F) {
	f.Add(kubectl120Request)
	f.Add(`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true,"cluster":{"server":"https://k"}}}`)
	f.Add(`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":null,"cluster":null}}`)
	f.Add(`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":[]}`)
	f.Fuzz(func(t *testing.T, info string) {
		r, err := parseExecInfo(info, true)
		if err == nil && r.apiVersion != execCredentialV1 && r.apiVersion != execCredentialV1beta1 {
			t.Errorf("accepted apiVersion %q", r.apiVersion)
		}
		if err != nil && strings.ContainsFunc(err.Error(), unsafeRune) {
			t.Errorf("the error has a control character in it: %q", err)
		}
	})
}

// decodeExecCredential decodes stdout as client-go's exec authenticator
// does, checking what it checks.
func decodeExecCredential(t *testing.T, stdout, wantVersion string) *clientauthentication.ExecCredential {
	t.Helper()
	gv, err := schema.ParseGroupVersion(wantVersion)
	if err != nil {
		t.Fatal(err)
	}
	cred := &clientauthentication.ExecCredential{}
	_, gvk, err := kubeCodecs.UniversalDecoder(gv).Decode([]byte(stdout), nil, cred)
	if err != nil {
		t.Fatalf("client-go does not decode the plugin's stdout: %v\n%s", err, stdout)
	}
	if gvk.GroupVersion() != gv {
		t.Fatalf("the plugin answered %s to a request of %s", gvk.GroupVersion(), gv)
	}
	if cred.Status == nil || cred.Status.Token == "" {
		t.Fatalf("the plugin's ExecCredential has no token: %s", stdout)
	}
	return cred
}

func TestExecCredentialOutput(t *testing.T) {
	expiry := time.Date(2031, 2, 3, 4, 5, 6, 789, time.FixedZone("X", -3600))
	for _, version := range []string{execCredentialV1, execCredentialV1beta1} {
		data, err := json.Marshal(newExecCredential(version, &client.Token{AccessToken: "tok", Expiry: expiry}))
		if err != nil {
			t.Fatal(err)
		}
		cred := decodeExecCredential(t, string(data), version)
		if cred.Status.Token != "tok" || cred.Status.ExpirationTimestamp == nil || !cred.Status.ExpirationTimestamp.Time.Equal(expiry.Truncate(time.Second)) {
			t.Errorf("%s: status %+v, want the token and its expiry", version, cred.Status)
		}
		if !strings.Contains(string(data), `"expirationTimestamp":"2031-02-03T05:05:06Z"`) {
			t.Errorf("%s: the expiry is not RFC 3339 in UTC: %s", version, data)
		}
		// No expiry known: none given, and client-go keeps the token until
		// the server refuses it.
		data, _ = json.Marshal(newExecCredential(version, &client.Token{AccessToken: "tok"}))
		if cred := decodeExecCredential(t, string(data), version); cred.Status.ExpirationTimestamp != nil {
			t.Errorf("%s without an expiry: expirationTimestamp %v, want none", version, cred.Status.ExpirationTimestamp)
		}
	}
}

// kubeDaemon is a fake authd that serves profile's token, or says a login
// is required until a login ran.
func kubeDaemon(loginRequired bool, logins *atomic.Int32) *fakeDaemon {
	expiry := time.Now().Add(time.Hour)
	d := &fakeDaemon{
		events: []*pb.LoginEvent{
			{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: "https://idp.example/authorize?x=1", RedirectUri: "http://127.0.0.1:4242/callback"}}},
			{Event: &pb.LoginEvent_Done{Done: &pb.Done{}}},
		},
	}
	d.token = func(context.Context) (*pb.Token, error) {
		if loginRequired && logins.Load() == 0 {
			return nil, daemonStatus(codes.Unauthenticated, api.LoginRequired, "profile work: login required")
		}
		return &pb.Token{AccessToken: "kube-token", TokenType: "Bearer", Expiry: timestamppb.New(expiry), Profile: "work"}, nil
	}
	return d
}

// countingLogins wraps d's Login to count the calls.
type countingLogins struct {
	*fakeDaemon
	n *atomic.Int32
}

func (c countingLogins) Login(req *pb.LoginRequest, stream pb.Broker_LoginServer) error {
	c.n.Add(1)
	return c.fakeDaemon.Login(req, stream)
}

// TestKubectlPlugin runs 'authc kubectl' as client-go does: the request
// in $KUBERNETES_EXEC_INFO, the ExecCredential alone on stdout.
func TestKubectlPlugin(t *testing.T) {
	for _, version := range []string{"v1", "v1beta1"} {
		t.Run(version, func(t *testing.T) {
			var logins atomic.Int32
			serveLogins(t, kubeDaemon(false, &logins), &logins)
			t.Setenv(execInfoEnv, kubeRequest(t, version, false, "https://k8s.example.com"))
			r := runAuthc(t, "kubectl")
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("authc kubectl: exit %d, stderr %q", r.code, r.stderr)
			}
			cred := decodeExecCredential(t, r.stdout, "client.authentication.k8s.io/"+version)
			if cred.Status.Token != "kube-token" || cred.Status.ExpirationTimestamp == nil {
				t.Errorf("status %+v", cred.Status)
			}
			if strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("stdout has more than the ExecCredential: %q", r.stdout)
			}
		})
	}
	t.Run("absent request", func(t *testing.T) {
		var logins atomic.Int32
		serveLogins(t, kubeDaemon(false, &logins), &logins)
		os.Unsetenv(execInfoEnv)
		r := runAuthc(t, "kubectl")
		if r.code != 0 {
			t.Fatalf("authc kubectl: exit %d, stderr %q", r.code, r.stderr)
		}
		decodeExecCredential(t, r.stdout, execCredentialV1beta1)
	})
	t.Run("malformed request", func(t *testing.T) {
		noDaemon(t)
		t.Setenv(execInfoEnv, "{not json")
		r := runAuthc(t, "kubectl")
		if r.code != api.ExitError || r.stdout != "" || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "$KUBERNETES_EXEC_INFO is not an ExecCredential") {
			t.Errorf("authc kubectl, malformed request: exit %d, stdout %q, stderr %q; want exit 1 and one line", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("not interactive", func(t *testing.T) {
		var logins atomic.Int32
		serveLogins(t, kubeDaemon(true, &logins), &logins)
		t.Setenv(execInfoEnv, kubeRequest(t, "v1", false, ""))
		r := runAuthcWithBrowser(t, "true", "kubectl", "-p", "work")
		if r.code != api.ExitLoginRequired || r.stdout != "" || len(lines(r.stderr)) != 1 ||
			!strings.HasPrefix(r.stderr, "authc: ") || !strings.Contains(r.stderr, "'authc login -p work'") {
			t.Errorf("authc kubectl, login required, not interactive: exit %d, stdout %q, stderr %q; want exit 3 and one line naming 'authc login -p work'", r.code, r.stdout, r.stderr)
		}
		if n := logins.Load(); n != 0 {
			t.Errorf("a non-interactive plugin started %d logins", n)
		}
	})
	t.Run("interactive", func(t *testing.T) {
		var logins atomic.Int32
		serveLogins(t, kubeDaemon(true, &logins), &logins)
		t.Setenv(execInfoEnv, kubeRequest(t, "v1", true, ""))
		r := runAuthc(t, "kubectl", "-p", "work")
		if r.code != 0 || logins.Load() != 1 {
			t.Fatalf("authc kubectl, login required, interactive: exit %d, %d logins, stderr %q; want a login and a token", r.code, logins.Load(), r.stderr)
		}
		decodeExecCredential(t, r.stdout, execCredentialV1)
		if !strings.Contains(r.stderr, "https://idp.example/authorize?x=1") {
			t.Errorf("the login's URL is not on stderr: %q", r.stderr)
		}
	})
}

// serveLogins serves d, counting its logins in n.
func serveLogins(t *testing.T, d *fakeDaemon, n *atomic.Int32) {
	t.Helper()
	serveBroker(t, countingLogins{d, n})
}

// TestKubectlProfile: without -p, the profile is the one whose match list
// names the cluster's server, else the default one; -p wins. The tokens
// are static ones, per profile, so that the profile chosen shows.
func TestKubectlProfile(t *testing.T) {
	noDaemon(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(`default_profile = "work"
[profiles.work]
issuer = "https://idp.example"
client_id = "c"
[profiles.k8s]
issuer = "https://idp.example"
client_id = "c"
match = ["https://k8s.example.com:6443", "kube.internal"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHD_CONFIG", cfg)
	for _, tt := range []struct {
		name, server string
		args         []string
		want         string
	}{
		{"matched URL", "https://k8s.example.com:6443", nil, "token-of-k8s"},
		{"matched host", "https://kube.internal:443", nil, "token-of-k8s"},
		{"-p for a server no list names", "https://other.example.com", []string{"-p", "work"}, "token-of-work"},
		{"no cluster info: the default", "", nil, "token-of-work"},
		{"-p wins", "https://k8s.example.com:6443", []string{"-p", "work"}, "token-of-work"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(execInfoEnv, kubeRequest(t, "v1", false, tt.server))
			var r runResult
			t.Setenv("AUTHD_TOKEN_WORK", "token-of-work")
			t.Setenv("AUTHD_TOKEN_K8S", "token-of-k8s")
			r = runAuthc(t, append([]string{"kubectl"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if cred := decodeExecCredential(t, r.stdout, execCredentialV1); cred.Status.Token != tt.want {
				t.Errorf("token %q, want %q", cred.Status.Token, tt.want)
			}
		})
	}
	// Once profiles have match lists, a server none names gets no token:
	// a shared kubeconfig's cluster is not the user's to choose.
	t.Run("no match: refused", func(t *testing.T) {
		t.Setenv(execInfoEnv, kubeRequest(t, "v1", false, "https://other.example.com"))
		t.Setenv("AUTHD_TOKEN_WORK", "token-of-work")
		r := runAuthc(t, "kubectl")
		if r.code != api.ExitProfile || r.stdout != "" || !strings.Contains(r.stderr, "no profile's match list names the cluster's server https://other.example.com") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("unreadable config", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.toml")
		if err := os.WriteFile(bad, []byte("default_profile = \n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AUTHD_CONFIG", bad)
		t.Setenv(execInfoEnv, kubeRequest(t, "v1", false, "https://k8s.example.com:6443"))
		r := runAuthc(t, "kubectl")
		if r.code != api.ExitProfile || r.stdout != "" || !strings.Contains(r.stderr, "cannot read the configuration") {
			t.Errorf("authc kubectl with a broken config: exit %d, stdout %q, stderr %q; want exit %d naming the config", r.code, r.stdout, r.stderr, api.ExitProfile)
		}
	})
}

// serveBroker starts b on a socket that AUTHD_SOCKET names for the test.
func serveBroker(t *testing.T, b pb.BrokerServer) {
	t.Helper()
	path := shortSocket(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterBrokerServer(srv, b)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	t.Setenv("AUTHD_SOCKET", path)
}

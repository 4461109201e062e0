package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/idptest"
)

// The kubectl integration (issue 12) end to end: 'authc kubectl' run as
// the exec credential plugin by client-go's own exec authenticator
// (k8s.io/client-go/plugin/pkg/client/auth/exec, which rest.HTTPClientFor
// puts on the transport of a rest.Config with an ExecProvider), and by a
// real kubectl, against a stub Kubernetes API server that accepts only the
// token authd issues now. The kubeconfigs are the ones 'authc setup
// kubectl --write' writes.
//
// The kubectl test needs an upstream kubectl in AUTHD_TEST_KUBECTL
// (scripts/kubectl.sh fetches Debian's kubectl 1.20, which speaks the
// v1beta1 protocol); it skips without one, unless CI=true.

// kubeStub is a Kubernetes API server that serves GET /version to the
// token authd currently issues for profile work, and 401 to any other.
type kubeStub struct {
	t   *testing.T
	srv *httptest.Server
	c   *client.Client
	ca  string // the server certificate's PEM file

	mu   sync.Mutex
	seen []stubRequest
}

// stubRequest is one request the stub answered: its token (never logged)
// and its status.
type stubRequest struct {
	token  string
	status int
}

const stubVersion = `{"major":"1","minor":"99","gitVersion":"v1.99.0-authd-stub"}`

func newKubeStub(t *testing.T, e *env) *kubeStub {
	t.Helper()
	c, err := client.New(client.WithSocket(e.sock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &kubeStub{t: t, c: c}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	s.ca = filepath.Join(e.dir, "stub-ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	if err := os.WriteFile(s.ca, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *kubeStub) serve(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	// The token authd issues now, asked as any client asks: from its cache.
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	current, err := s.c.Token(ctx, client.TokenOptions{Profile: "work"})
	status := http.StatusOK
	switch {
	case err != nil:
		status = http.StatusServiceUnavailable
	case r.URL.Path != "/version" || r.Method != http.MethodGet:
		status = http.StatusNotFound
	case token == "" || token != current.AccessToken:
		status = http.StatusUnauthorized
	}
	s.mu.Lock()
	s.seen = append(s.seen, stubRequest{token: token, status: status})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status == http.StatusOK {
		io.WriteString(w, stubVersion)
		return
	}
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","code":%d,"reason":%q}`, status, http.StatusText(status))
}

// requests returns what the stub answered since the n-th request.
func (s *kubeStub) requests(n int) []stubRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stubRequest(nil), s.seen[n:]...)
}

func (s *kubeStub) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// writeKubeconfig writes a kubeconfig for the stub, in kubectl's layout,
// with a context "stub" whose user has a token the stub refuses, and has
// 'authc setup kubectl --write' point the context at authd.
func (e *env) writeKubeconfig(s *kubeStub, apiVersion string, setupArgs ...string) string {
	e.t.Helper()
	path := filepath.Join(e.dir, "kube", "config-"+apiVersion)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		e.t.Fatal(err)
	}
	config := fmt.Sprintf(`apiVersion: v1
clusters:
- cluster:
    certificate-authority: %s
    server: %s
  name: stub
contexts:
- context:
    cluster: stub
    user: static
  name: stub
current-context: stub
kind: Config
preferences: {}
users:
- name: static
  user:
    token: not-from-authd
`, s.ca, s.srv.URL)
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		e.t.Fatal(err)
	}
	args := append([]string{"setup", "kubectl", "--context", "stub", "--write", "--kubeconfig", path, "--api-version", apiVersion}, setupArgs...)
	if r := e.authc(nil, args...); r.code != 0 || !strings.Contains(r.stderr, "pointed context stub at it") {
		e.t.Fatalf("authc %s: %s", strings.Join(args, " "), r)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		e.t.Fatalf("the kubeconfig after authc setup kubectl --write: %v, mode %v; want 0600", err, fi.Mode())
	}
	return path
}

// forceRefresh has authd replace the token, and returns the new one.
func (e *env) forceRefresh(old string) string {
	e.t.Helper()
	r := e.authc(nil, "token", "-p", "work", "--force-refresh")
	tok := strings.TrimSpace(r.stdout)
	if r.code != 0 || tok == "" || tok == old {
		e.t.Fatalf("authc token --force-refresh: want exit 0 and a new token; got %s", redactStdout(r))
	}
	return tok
}

// currentToken is the token 'authc token' prints.
func (e *env) currentToken() string {
	e.t.Helper()
	r := e.authc(nil, "token", "-p", "work", "--no-login")
	if r.code != 0 {
		e.t.Fatalf("authc token: %s", redactStdout(r))
	}
	return strings.TrimSpace(r.stdout)
}

// checkRequests compares what the stub answered with want: for each
// request, which token it carried and the status.
func checkRequests(t *testing.T, got []stubRequest, names map[string]string, want ...string) {
	t.Helper()
	var saw []string
	for _, r := range got {
		name, ok := names[r.token]
		if !ok {
			name = "another token"
		}
		saw = append(saw, fmt.Sprintf("%s %d", name, r.status))
	}
	if strings.Join(saw, ", ") != strings.Join(want, ", ") {
		t.Errorf("the API server saw %q, want %q", saw, want)
	}
}

// TestKubeClientGo runs client-go's exec authenticator, with the
// client.authentication.k8s.io/v1 kubeconfig that 'authc setup kubectl'
// writes, against the stub: it gets a token, and after the token changed
// (the stub then answers 401 to the old one) it runs the plugin again and
// gets through. Without -p, the plugin finds the profile by the cluster's
// server in the profiles' match lists, though the default profile is
// another one.
func TestKubeClientGo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.loginWithoutBrowser()
	stub := newKubeStub(t, e)

	// Make another profile the default, and name the stub in work's
	// match list: only the match list leads the plugin to work.
	config, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	config = []byte(strings.Replace(string(config), `default_profile = "work"`, `default_profile = "spare"`, 1) +
		fmt.Sprintf("match = [%q]\n\n[profiles.spare]\nissuer = %q\nclient_id = \"unused\"\n", stub.srv.URL, e.idp.Issuer()))
	if err := os.WriteFile(e.config, config, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.daemon.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.waitDefaultProfile("spare")

	path := e.writeKubeconfig(stub, "v1")
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("client-go does not load the kubeconfig authc wrote: %v", err)
	}
	ep := cfg.ExecProvider
	if ep == nil || ep.APIVersion != "client.authentication.k8s.io/v1" || ep.Command != filepath.Join(bin, "authc") ||
		strings.Join(ep.Args, " ") != "kubectl" || ep.InteractiveMode != clientcmdapi.IfAvailableExecInteractiveMode ||
		!ep.ProvideClusterInfo || !strings.Contains(ep.InstallHint, "authc login") {
		t.Fatalf("the exec stanza client-go read from the kubeconfig: %+v", ep)
	}
	// The plugin runs with the test's environment and the stanza's env:
	// the daemon's socket and config are this env's.
	for _, kv := range e.environ() {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AUTHD_") || strings.HasPrefix(name, "XDG_") || name == "GORACE" {
			ep.Env = append(ep.Env, clientcmdapi.ExecEnvVar{Name: name, Value: value})
		}
	}
	httpc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func() (int, string) {
		t.Helper()
		resp, err := httpc.Get(stub.srv.URL + "/version")
		if err != nil {
			t.Fatalf("GET /version through client-go: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	t1 := e.currentToken()
	if code, body := get(); code != http.StatusOK || body != stubVersion {
		t.Fatalf("GET /version with the plugin's token: %d %s", code, body)
	}
	t2 := e.forceRefresh(t1)
	if code, _ := get(); code != http.StatusUnauthorized {
		t.Fatalf("GET /version with the token client-go cached, after authd replaced it: %d, want 401", code)
	}
	if code, body := get(); code != http.StatusOK || body != stubVersion {
		t.Fatalf("GET /version after the 401: %d %s; client-go should have run the plugin again", code, body)
	}
	checkRequests(t, stub.requests(0), map[string]string{t1: "first token", t2: "second token"},
		"first token 200", "first token 401", "second token 200")
}

// waitDefaultProfile waits until authd, reloaded, names want its default
// profile.
func (e *env) waitDefaultProfile(want string) {
	e.t.Helper()
	deadline := time.Now().Add(commandTimeout)
	for {
		r := e.authc(nil, "status", "--json")
		var st struct {
			DefaultProfile string `json:"default_profile"`
		}
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &st) == nil && st.DefaultProfile == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("authd did not reload its config with default profile %s: %s", want, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKubeClientGoNoLogin: a plugin that client-go runs without a
// terminal (interactive false) and that needs a login fails at once, and
// starts no login.
func TestKubeClientGoNoLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	stub := newKubeStub(t, e)
	path := e.writeKubeconfig(stub, "v1", "-p", "work")
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range e.environ() {
		name, value, _ := strings.Cut(kv, "=")
		cfg.ExecProvider.Env = append(cfg.ExecProvider.Env, clientcmdapi.ExecEnvVar{Name: name, Value: value})
	}
	cfg.ExecProvider.InteractiveMode = clientcmdapi.NeverExecInteractiveMode
	httpc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := httpc.Get(stub.srv.URL + "/version")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET /version logged out: status %d, want the plugin's failure", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "exit code 3") {
		t.Errorf("client-go's error: %v; want the plugin's exit code 3 (login required)", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the plugin took %s to fail", d)
	}
	if n := e.idp.Count(idptest.EndpointAuthorize); n != 0 || stub.count() != 0 {
		t.Errorf("a non-interactive plugin call led to %d authorization requests and %d API requests; want none", n, stub.count())
	}
}

// kubectlBinary is the upstream kubectl of AUTHD_TEST_KUBECTL: skips t
// without one, and fails it in CI.
func kubectlBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv("AUTHD_TEST_KUBECTL")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("AUTHD_TEST_KUBECTL is not set: export AUTHD_TEST_KUBECTL=$(scripts/kubectl.sh)")
		}
		t.Skip("no kubectl: export AUTHD_TEST_KUBECTL=$(scripts/kubectl.sh)")
	}
	return path
}

// kubectl runs kubectl with e's environment (the plugin inherits it),
// stdin not a terminal.
func (e *env) kubectl(kubectl string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, args...)
	cmd.Env = e.environ("HOME=" + e.dir)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.Exited():
		r.code = exit.ExitCode()
	default:
		e.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	return r
}

var proxyListening = regexp.MustCompile(`Starting to serve on 127\.0\.0\.1:([0-9]+)`)

// TestKubectl runs a real kubectl with the v1beta1 kubeconfig 'authc setup
// kubectl' writes: 'kubectl get --raw /version' gets through with authd's
// token; a 'kubectl proxy' that cached the token gets a 401 once authd
// replaced it, runs the plugin again and gets through; logged out, the
// plugin fails at once, naming 'authc login', and starts no login.
func TestKubectl(t *testing.T) {
	t.Parallel()
	kubectl := kubectlBinary(t)
	e := newEnv(t)
	e.loginWithoutBrowser()
	stub := newKubeStub(t, e)
	path := e.writeKubeconfig(stub, "v1beta1", "-p", "work")

	t1 := e.currentToken()
	r := e.kubectl(kubectl, "--kubeconfig", path, "get", "--raw", "/version")
	if r.code != 0 || strings.TrimSpace(r.stdout) != stubVersion {
		t.Fatalf("kubectl get --raw /version: want exit 0 and the stub's version; got %s", r)
	}

	// A kubectl that keeps running caches the token: kubectl proxy.
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	proxy := exec.CommandContext(ctx, kubectl, "--kubeconfig", path, "proxy", "--port=0")
	proxy.Env = e.environ("HOME=" + e.dir)
	proxy.WaitDelay = 5 * time.Second
	out, err := proxy.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	proxyErr := newSyncBuffer()
	proxy.Stderr = proxyErr
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { proxy.Process.Kill(); proxy.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	m := proxyListening.FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("kubectl proxy printed %q (%v), not where it serves; stderr:\n%s", line, err, proxyErr)
	}
	viaProxy := func() int {
		t.Helper()
		resp, err := http.Get("http://127.0.0.1:" + m[1] + "/version")
		if err != nil {
			t.Fatalf("GET /version through kubectl proxy: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	n := stub.count()
	if code := viaProxy(); code != http.StatusOK {
		t.Fatalf("GET /version through kubectl proxy: %d; stderr:\n%s", code, proxyErr)
	}
	t2 := e.forceRefresh(t1)
	if code := viaProxy(); code != http.StatusUnauthorized {
		t.Fatalf("GET /version through kubectl proxy, after authd replaced the token: %d, want the stub's 401", code)
	}
	if code := viaProxy(); code != http.StatusOK {
		t.Fatalf("GET /version through kubectl proxy after the 401: %d; kubectl should have run the plugin again; stderr:\n%s", code, proxyErr)
	}
	names := map[string]string{t1: "first token", t2: "second token"}
	checkRequests(t, stub.requests(n), names, "first token 200", "first token 401", "second token 200")

	// Logged out, with no terminal: no login, a line naming the command.
	if r := e.authc(nil, "logout"); r.code != 0 {
		t.Fatalf("authc logout: %s", r)
	}
	authorizations := e.idp.Count(idptest.EndpointAuthorize)
	n = stub.count()
	r = e.kubectl(kubectl, "--kubeconfig", path, "get", "--raw", "/version")
	if r.code == 0 || !strings.Contains(r.stderr, "authc: ") || !strings.Contains(r.stderr, "'authc login -p work'") {
		t.Errorf("kubectl get --raw /version logged out: want a failure whose stderr names 'authc login -p work'; got %s", r)
	}
	if got := e.idp.Count(idptest.EndpointAuthorize); got != authorizations || stub.count() != n {
		t.Errorf("a plugin call without a terminal started a login (%d authorization requests) or reached the server (%d requests)", got-authorizations, stub.count()-n)
	}
}

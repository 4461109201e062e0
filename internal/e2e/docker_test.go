package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"

	"authd.dev/authd/internal/idptest"
)

// TestDockerCredentialHelper (issue 12) drives the real authc, under the
// name docker-credential-authd that docker's credHelpers runs, with
// docker-credential-helpers' own client: get, list, store, erase and the
// not-found answer docker tells apart from a failure.
func TestDockerCredentialHelper(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.loginWithoutBrowser()
	e.appendWorkKeys(`match = ["registry.example.test:5000", "https://ghcr.example.test/team/"]
username = "robot"
`)
	helper := dockerHelperLink(t, e)
	vars := map[string]string{}
	for _, kv := range e.environ() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	program := client.NewShellProgramFuncWithEnv(helper, &vars)
	refreshes := func() int { return e.idp.Count(idptest.EndpointTokenRefresh) }
	var transcript []string
	say := func(format string, args ...any) { transcript = append(transcript, fmt.Sprintf(format, args...)) }

	tok := e.tokenNow()
	c, err := client.Get(program, "registry.example.test:5000")
	if err != nil || c.ServerURL != "registry.example.test:5000" || c.Username != "robot" || c.Secret != tok {
		t.Fatalf("get registry.example.test:5000 = %+v, %v; want user robot and authd's token", redactedCreds(c), err)
	}
	say("get registry.example.test:5000 = %+v", redactedCreds(c))
	if c, err = client.Get(program, "https://ghcr.example.test/team/app"); err != nil || c.Secret != tok {
		t.Errorf("get of a registry under a URL prefix = %+v, %v; want authd's token", redactedCreds(c), err)
	}
	_, err = client.Get(program, "https://index.docker.io/v1/")
	if !credentials.IsErrCredentialsNotFound(err) {
		t.Errorf("get of an unmapped registry: %v; want the not-found error", err)
	}
	say("get https://index.docker.io/v1/: %v (not found: %v)", err, credentials.IsErrCredentialsNotFound(err))

	list, err := client.List(program)
	want := map[string]string{"registry.example.test:5000": "robot", "https://ghcr.example.test/team/": "robot"}
	if err != nil || len(list) != len(want) || list["registry.example.test:5000"] != "robot" || list["https://ghcr.example.test/team/"] != "robot" {
		t.Errorf("list = %v, %v; want %v", list, err, want)
	}
	say("list = %v", list)

	err = client.Store(program, &credentials.Credentials{ServerURL: "registry.example.test:5000", Username: "robot", Secret: tok})
	if err != nil {
		t.Errorf("store for a registry authd serves: %v", err)
	}
	say("store registry.example.test:5000: %v", err)
	err = client.Store(program, &credentials.Credentials{ServerURL: "other.example.test", Username: "me", Secret: "typed"})
	if err == nil || !strings.Contains(err.Error(), "authd keeps no passwords") {
		t.Errorf("store for a registry authd does not serve: %v; want an error saying authd keeps no passwords", err)
	}
	say("store other.example.test: %v", err)

	before := refreshes()
	err = client.Erase(program, "registry.example.test:5000")
	if err != nil || refreshes()-before != 1 {
		t.Fatalf("erase: %v, %d refreshes; want no error and one refresh", err, refreshes()-before)
	}
	say("erase registry.example.test:5000: %v", err)
	if c, err = client.Get(program, "registry.example.test:5000"); err != nil || c.Secret == tok || c.Secret != e.tokenNow() {
		t.Errorf("get after erase: %+v, %v; want authd's new token", redactedCreds(c), err)
	}
	say("get registry.example.test:5000 = %+v (a new token)", redactedCreds(c))

	// -p names the profile (credHelpers cannot pass flags, a wrapper can),
	// yet its token goes only where its match list says.
	withProfile := func(args ...string) client.Program {
		cmd := exec.Command(filepath.Join(bin, "authc"), append([]string{"docker-credential", "-p", "work"}, args...)...)
		cmd.Env = e.environ()
		return &dockerProgram{cmd: cmd}
	}
	if c, err = client.Get(withProfile, "registry.example.test:5000"); err != nil || c.Secret != e.tokenNow() {
		t.Errorf("get -p work of a registry of its list: %+v, %v; want authd's token", redactedCreds(c), err)
	}
	if c, err = client.Get(withProfile, "https://index.docker.io/v1/"); !credentials.IsErrCredentialsNotFound(err) {
		t.Errorf("get -p work of a registry outside its list: %+v, %v; want not found", redactedCreds(c), err)
	}

	// Logged out: one line, through docker, naming what to run.
	if r := e.authc(nil, "logout"); r.code != 0 {
		t.Fatalf("authc logout: %s", r)
	}
	_, err = client.Get(program, "registry.example.test:5000")
	if err == nil || credentials.IsErrCredentialsNotFound(err) || !strings.Contains(err.Error(), "'authc login -p work'") {
		t.Errorf("get, logged out: %v; want a failure naming 'authc login -p work'", err)
	}
	say("get registry.example.test:5000, logged out: %v", err)
	t.Logf("transcript (secrets elided):\n%s", strings.Join(transcript, "\n"))
}

// TestDockerCLI has the real docker CLI use authd's helper with no docker
// daemon, as a registry client: 'docker login' checks the credential on
// the registry's /v2/ itself and stores it with the helper, 'docker
// manifest inspect' gets it from the helper, and 'docker logout' erases,
// which makes authd refresh: the registry, which takes only the current
// token, then sees the new one.
//
// Debian's docker package (bookworm's docker.io, 20.10) brings a daemon
// and is not among the test's packages: the test runs with the docker CLI
// that AUTHD_DOCKER names, and skips without one.
func TestDockerCLI(t *testing.T) {
	t.Parallel()
	docker := os.Getenv("AUTHD_DOCKER")
	if docker == "" {
		t.Skip("set AUTHD_DOCKER to a docker CLI to run this test")
	}
	e := newEnv(t)
	e.loginWithoutBrowser()
	reg := newDockerRegistry(t)
	host := strings.TrimPrefix(reg.url, "http://")
	e.appendWorkKeys(fmt.Sprintf("match = [%q]\n", host))
	config := filepath.Join(e.dir, "docker-config")
	if err := os.MkdirAll(config, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"credHelpers": map[string]string{host: "authd"}})
	if err := os.WriteFile(filepath.Join(config, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	helper := dockerHelperLink(t, e)
	var transcript []string
	dockerRun := func(stdin string, args ...string) result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, docker, args...)
		cmd.Env = e.environ("DOCKER_CONFIG="+config, "DOCKER_HOST=unix://"+filepath.Join(e.dir, "no-docker.sock"),
			"PATH="+filepath.Dir(helper)+string(os.PathListSeparator)+os.Getenv("PATH"))
		cmd.Stdin = strings.NewReader(stdin)
		cmd.WaitDelay = 5 * time.Second
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		r := finish(t, cmd, cmd.Run(), &stdout, &stderr)
		transcript = append(transcript, fmt.Sprintf("$ docker %s\n%s%s(exit %d)", strings.Join(args, " "), r.stdout, r.stderr, r.code))
		return r
	}
	tok := e.tokenNow()
	reg.accept(tok)
	image := host + "/team/app:1"

	if r := dockerRun(tok, "login", "-u", "oauth2", "--password-stdin", host); r.code != 0 || !strings.Contains(r.stdout, "Login Succeeded") {
		t.Fatalf("docker login %s: %s\nregistry log:\n%s", host, r, reg.logText())
	}
	if r := dockerRun("", "manifest", "inspect", "--insecure", image); r.code != 0 || !strings.Contains(r.stdout, `"schemaVersion": 2`) {
		t.Fatalf("docker manifest inspect %s: %s\nregistry log:\n%s", image, r, reg.logText())
	}
	reg.wantLast(t, `user="oauth2" token=accepted`)

	before := e.idp.Count(idptest.EndpointTokenRefresh)
	if r := dockerRun("", "logout", host); r.code != 0 || !strings.Contains(r.stdout, "Removing login credentials") || r.stderr != "" {
		t.Fatalf("docker logout %s: %s", host, r)
	}
	if n := e.idp.Count(idptest.EndpointTokenRefresh) - before; n != 1 {
		t.Errorf("docker logout made authd refresh %d times, want 1", n)
	}
	reg.accept(e.tokenNow())
	if r := dockerRun("", "manifest", "inspect", "--insecure", image); r.code != 0 {
		t.Fatalf("docker manifest inspect after logout: %s\nregistry log:\n%s", r, reg.logText())
	}
	reg.wantLast(t, `user="oauth2" token=accepted`)
	t.Logf("transcript:\n%s\nregistry log:\n%s", strings.Join(transcript, "\n"), reg.logText())
}

// dockerHelperLink links authc as docker-credential-authd in a directory
// of its own, and returns the link.
func dockerHelperLink(t *testing.T, e *env) string {
	t.Helper()
	dir := filepath.Join(e.dir, "docker-bin")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "docker-credential-authd")
	if err := os.Symlink(filepath.Join(bin, "authc"), link); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	return link
}

// redactedCreds is c without its secret, for messages.
func redactedCreds(c *credentials.Credentials) credentials.Credentials {
	if c == nil {
		return credentials.Credentials{}
	}
	r := *c
	if r.Secret != "" {
		r.Secret = "<elided>"
	}
	return r
}

// dockerProgram is client.Program on an exec.Cmd of the test's making.
type dockerProgram struct{ cmd *exec.Cmd }

func (p *dockerProgram) Output() ([]byte, error) { return p.cmd.Output() }
func (p *dockerProgram) Input(in io.Reader)      { p.cmd.Stdin = in }

// dockerRegistry answers a registry's requests for the one token it accepts,
// given with Basic auth, as docker logs in.
type dockerRegistry struct {
	url string

	mu    sync.Mutex
	token string
	log   []string
}

func newDockerRegistry(t *testing.T) *dockerRegistry {
	t.Helper()
	reg := &dockerRegistry{}
	ts := httptest.NewServer(reg)
	t.Cleanup(ts.Close)
	reg.url = ts.URL
	return reg
}

func (reg *dockerRegistry) accept(tok string) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.token = tok
}

func (reg *dockerRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, _ := r.BasicAuth()
	reg.mu.Lock()
	verdict := "refused"
	switch {
	case pass == "":
		verdict = "none"
	case pass == reg.token:
		verdict = "accepted"
	}
	reg.log = append(reg.log, fmt.Sprintf("%s %s user=%q token=%s", r.Method, r.URL.Path, user, verdict))
	reg.mu.Unlock()
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if verdict != "accepted" {
		w.Header().Set("WWW-Authenticate", `Basic realm="authd test"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/v2/":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	case "/v2/team/app/manifests/1":
		sum := sha256.Sum256([]byte(registryManifest))
		w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		w.Header().Set("Docker-Content-Digest", "sha256:"+hex.EncodeToString(sum[:]))
		w.Header().Set("Content-Length", fmt.Sprint(len(registryManifest)))
		if r.Method != http.MethodHead {
			io.WriteString(w, registryManifest)
		}
	case "/v2/team/app/blobs/" + registryConfigDigest:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Docker-Content-Digest", registryConfigDigest)
		io.WriteString(w, "{}")
	default:
		http.NotFound(w, r)
	}
}

// registryConfigDigest is the digest of the image's config, "{}".
const registryConfigDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

// registryManifest is the image the registry has: an empty one.
const registryManifest = `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
	`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,` +
	`"digest":"` + registryConfigDigest + `"},"layers":[]}`

// wantLast checks how the registry's last request ended.
func (reg *dockerRegistry) wantLast(t *testing.T, suffix string) {
	t.Helper()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if len(reg.log) == 0 || !strings.HasSuffix(reg.log[len(reg.log)-1], suffix) {
		t.Errorf("the registry's last request does not end in %s:\n%s", suffix, strings.Join(reg.log, "\n"))
	}
}

func (reg *dockerRegistry) logText() string {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return strings.Join(reg.log, "\n")
}

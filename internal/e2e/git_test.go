package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"authd.dev/authd/internal/idptest"
)

// TestGitCredentialHelper (issue 12) has real git clone and push over
// smart HTTP through authd's credential helper, from git http-backend
// behind a server that accepts only the tokens it was not told to refuse,
// and only those the provider issued (it asks the provider's userinfo
// endpoint). A token change reaches git as it does in use: a cached
// credential that the server now refuses makes git erase it, and the next
// get answers authd's current token; a refused token that authd still
// serves makes authd refresh it on git's erase.
func TestGitCredentialHelper(t *testing.T) {
	t.Parallel()
	gitPath := lookGit(t)
	e := newEnv(t)
	e.loginWithoutBrowser()
	srv := newGitServer(t, e)
	// The server is plain http: a bare host would mean https on 443.
	e.appendWorkKeys(fmt.Sprintf("match = [%q]\n", srv.url))

	g := newGitClient(t, e, gitPath)
	remote := srv.url + "/repo.git"
	refreshes := func() int { return e.idp.Count(idptest.EndpointTokenRefresh) }

	t1 := e.tokenNow()
	srv.name(t1, "T1")
	g.mustRun("", "clone", remote, "clone")
	if !strings.Contains(g.storedCredentials(), t1) {
		t.Fatal("git's store helper did not keep the credential authd's helper gave")
	}
	g.commitAndPush("first change")
	srv.wantLastAccepted("T1")

	// A token change: authd refreshes, and the server takes only the new
	// token from now on. git tries its cached credential first, is refused,
	// and erases it from every helper; authd's is a stale erase.
	r := e.authc(nil, "token", "--force-refresh")
	t2 := strings.TrimSpace(r.stdout)
	if r.code != 0 || t2 == "" || t2 == t1 {
		t.Fatalf("authc token --force-refresh: %s", redactStdout(r))
	}
	srv.name(t2, "T2")
	srv.refuse(t1)
	before := refreshes()
	g.commit("second change")
	if r := g.run("clone", "push"); r.code == 0 || !strings.Contains(r.stderr, "Authentication failed") {
		t.Fatalf("git push with the refused cached token: want git's \"Authentication failed\"; got %s", r)
	}
	g.wantHelperRun("erase")
	if n := refreshes() - before; n != 0 {
		t.Errorf("the erase of a token authd no longer serves refreshed %d times, want 0", n)
	}
	g.mustRun("clone", "push")
	srv.wantLastAccepted("T2")

	// The server refuses the token authd serves (revoked, say): git's
	// erase makes authd refresh, and the next push has the new token.
	srv.refuse(t2)
	before = refreshes()
	g.commit("third change")
	if r := g.run("clone", "push"); r.code == 0 || !strings.Contains(r.stderr, "Authentication failed") {
		t.Fatalf("git push with a refused token: want git's \"Authentication failed\"; got %s", r)
	}
	g.wantHelperRun("erase")
	if n := refreshes() - before; n != 1 {
		t.Errorf("the erase of the token authd serves refreshed %d times, want 1", n)
	}
	t3 := e.tokenNow()
	if t3 == t2 {
		t.Fatal("after git erased the refused token, authd still serves it")
	}
	srv.name(t3, "T3")
	g.mustRun("clone", "push")
	srv.wantLastAccepted("T3")

	// A fresh clone sees every change.
	g.mustRun("", "clone", remote, "again")
	if out := g.mustRun("again", "log", "--format=%s"); strings.Join(lines(out), ",") != "third change,second change,first change,seed" {
		t.Errorf("the pushed history is %q", lines(out))
	}

	// A host no profile matches: the helper answers nothing and says
	// nothing; git goes on without credentials.
	other := strings.Replace(remote, "127.0.0.1", "localhost", 1)
	r = g.run("", "ls-remote", other)
	if r.code == 0 || strings.Contains(r.stderr, "authc") {
		t.Errorf("git ls-remote of an unmapped host: want git's failure without a word of authc; got %s", r)
	}
	g.wantHelperRun("get")

	t.Logf("transcript (tokens as T1, T2, T3):\n%s\nserver log:\n%s", g.transcript(srv), srv.logText())
}

// lookGit returns the git binary, or skips the test.
func lookGit(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		t.Skipf("no git: %v", err)
	}
	return p
}

// appendWorkKeys adds lines to the config file, at its end: profile "work"'s
// table. Only authc's helpers read the keys the tests add (match,
// username), so the daemon needs no reload.
func (e *env) appendWorkKeys(s string) {
	e.t.Helper()
	f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

// tokenNow is the token 'authc token' prints.
func (e *env) tokenNow() string {
	e.t.Helper()
	r := e.authc(nil, "token")
	tok := strings.TrimSpace(r.stdout)
	if r.code != 0 || tok == "" {
		e.t.Fatalf("authc token: %s", redactStdout(r))
	}
	return tok
}

// gitServer is git http-backend behind a check of the token: Basic auth
// with the token as the password (what git sends), or a Bearer token.
type gitServer struct {
	t        *testing.T
	url      string
	root     string
	backend  string // git-http-backend
	userinfo string

	mu      sync.Mutex
	refused map[string]bool
	names   map[string]string // token -> T1, ... for the log
	log     []string
}

func newGitServer(t *testing.T, e *env) *gitServer {
	t.Helper()
	s := &gitServer{t: t, root: filepath.Join(e.dir, "git-server"), refused: map[string]bool{}, names: map[string]string{}}
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	s.backend = filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	s.userinfo = providerUserinfo(t, e.idp.Issuer())

	// The repository, with a first commit pushed to it on disk.
	bare := filepath.Join(s.root, "repo.git")
	seed := filepath.Join(e.dir, "git-seed")
	for _, args := range [][]string{
		{"init", "-q", "--bare", "-b", "main", bare},
		{"-C", bare, "config", "http.receivepack", "true"},
		{"init", "-q", "-b", "main", seed},
		{"-C", seed, "-c", "user.name=Seed", "-c", "user.email=seed@example.test", "commit", "-q", "--allow-empty", "-m", "seed"},
		{"-C", seed, "push", "-q", bare, "main"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.url = ts.URL
	return s
}

// providerUserinfo reads the provider's userinfo endpoint from discovery.
func providerUserinfo(t *testing.T, issuer string) string {
	t.Helper()
	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Userinfo string `json:"userinfo_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || d.Userinfo == "" {
		t.Fatalf("discovery has no userinfo endpoint: %v", err)
	}
	return d.Userinfo
}

func (s *gitServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, tok, basic := r.BasicAuth()
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		user, tok = "(bearer)", b
	}
	verdict := "accepted"
	switch {
	case tok == "":
		verdict = "no credentials"
	case s.isRefused(tok):
		verdict = "refused"
	case !s.issued(r.Context(), tok):
		verdict = "not issued by the provider"
	}
	s.mu.Lock()
	name := s.names[tok]
	if name == "" && tok != "" {
		name = "an unknown token"
	}
	s.log = append(s.log, fmt.Sprintf("%s %s  basic=%v user=%q token=%s: %s", r.Method, r.URL.RequestURI(), basic, user, name, verdict))
	s.mu.Unlock()
	if verdict != "accepted" {
		w.Header().Set("WWW-Authenticate", `Basic realm="authd test"`)
		http.Error(w, verdict, http.StatusUnauthorized)
		return
	}
	h := &cgi.Handler{Path: s.backend, Env: []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + user}}
	h.ServeHTTP(w, r)
}

func (s *gitServer) isRefused(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[tok]
}

// issued asks the provider whether it issued tok and still honours it.
func (s *gitServer) issued(ctx context.Context, tok string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.userinfo, nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (s *gitServer) refuse(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[tok] = true
}

func (s *gitServer) name(tok, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[tok] = name
}

// wantLastAccepted checks that the server's last request was accepted
// with the token named name, sent by git as the password of the user name
// the helper gives by default.
func (s *gitServer) wantLastAccepted(name string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	want := `basic=true user="oauth2" token=` + name + ": accepted"
	if len(s.log) == 0 || !strings.HasSuffix(s.log[len(s.log)-1], want) {
		s.t.Fatalf("the server's last request is not %q:\n%s", want, strings.Join(s.log, "\n"))
	}
}

func (s *gitServer) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// gitClient runs git as a user whose global config has two credential
// helpers, as many have: git's store (a cache of what worked) and authd's,
// found on PATH as git-credential-authd.
type gitClient struct {
	t       *testing.T
	env     *env
	git     string
	dir     string
	vars    []string
	trace   string // GIT_TRACE of the last command
	history []string
}

func newGitClient(t *testing.T, e *env, gitPath string) *gitClient {
	t.Helper()
	g := &gitClient{t: t, env: e, git: gitPath, dir: filepath.Join(e.dir, "git-client")}
	home := filepath.Join(g.dir, "home")
	helpers := filepath.Join(g.dir, "bin")
	for _, d := range []string{home, helpers} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(bin, "authc"), filepath.Join(helpers, "git-credential-authd")); err != nil {
		t.Fatal(err)
	}
	gitconfig := fmt.Sprintf(`[user]
	name = Test
	email = test@example.test
[credential]
	helper = store --file=%s
	helper = authd
`, filepath.Join(g.dir, "credentials"))
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(gitconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	g.vars = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=", "PATH=" + helpers + string(os.PathListSeparator) + os.Getenv("PATH")}
	return g
}

// run runs git in the client's directory dir ("" for its top).
func (g *gitClient) run(dir string, args ...string) result {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	g.trace = filepath.Join(g.dir, fmt.Sprintf("trace-%d", len(g.history)))
	cmd := exec.CommandContext(ctx, g.git, args...)
	cmd.Dir = filepath.Join(g.dir, dir)
	cmd.Env = g.env.environ(append(g.vars, "GIT_TRACE="+g.trace)...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := finish(g.t, cmd, cmd.Run(), &stdout, &stderr)
	g.history = append(g.history, fmt.Sprintf("$ git %s\n%s(exit %d)", strings.Join(args, " "), stderr.String(), r.code))
	return r
}

// mustRun is run that fails the test unless git succeeds; it returns
// stdout.
func (g *gitClient) mustRun(dir string, args ...string) string {
	g.t.Helper()
	r := g.run(dir, args...)
	if r.code != 0 {
		g.t.Fatalf("git %v: %s\ntrace:\n%s", args, r, g.traceText())
	}
	return r.stdout
}

func (g *gitClient) commit(msg string) {
	g.t.Helper()
	g.mustRun("clone", "commit", "-q", "--allow-empty", "-m", msg)
}

func (g *gitClient) commitAndPush(msg string) {
	g.t.Helper()
	g.commit(msg)
	g.mustRun("clone", "push")
}

func (g *gitClient) traceText() string {
	b, _ := os.ReadFile(g.trace)
	return string(b)
}

// wantHelperRun checks that the last git command ran authc's helper for op.
func (g *gitClient) wantHelperRun(op string) {
	g.t.Helper()
	if !strings.Contains(g.traceText(), "credential-authd "+op) {
		g.t.Errorf("git did not run 'git credential-authd %s':\n%s", op, g.traceText())
	}
}

// storedCredentials is what git's store helper keeps: live tokens, to
// compare, never to log.
func (g *gitClient) storedCredentials() string {
	b, _ := os.ReadFile(filepath.Join(g.dir, "credentials"))
	return string(b)
}

// transcript is every git command run, with its stderr, tokens named.
func (g *gitClient) transcript(s *gitServer) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Join(g.history, "\n")
	for tok, name := range s.names {
		out = strings.ReplaceAll(out, tok, "<"+name+">")
	}
	return out
}

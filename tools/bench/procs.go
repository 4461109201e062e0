//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/idptest"
)

// binaries are the programs the bench runs, built with the release flags.
var binaries = []struct{ name, pkg string }{
	{"authd", "./cmd/authd"},
	{"authc", "./cmd/authc"},
	{"hello", "./tools/bench/floor/hello"},
	{"rawclient", "./tools/bench/floor/rawclient"},
}

// buildFlags are the release build's: static, no paths, no symbols.
var buildFlags = []string{"build", "-trimpath", "-ldflags", "-s -w"}

// build compiles the binaries into dir from the module root.
func build(ctx context.Context, dir string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	args := append(slices.Clone(buildFlags), "-o", dir+string(os.PathSeparator))
	for _, b := range binaries {
		args = append(args, b.pkg)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// moduleRoot finds go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run the bench from the repository")
		}
		dir = parent
	}
}

// tokenPath is the test provider's token endpoint path (zitadel op's default).
const tokenPath = "/oauth/token"

// proxy sits in front of a provider's token endpoint: it delays requests,
// or holds them without answering (a hung provider).
type proxy struct {
	srv    *http.Server
	ln     net.Listener
	delay  atomic.Int64 // nanoseconds
	hang   atomic.Bool
	closed chan struct{}

	mu        sync.Mutex
	forwarded []interval // requests passed on to the provider
}

// interval is when a request reached the proxy and when it was answered.
type interval struct{ start, end time.Time }

// forwardedSince returns the requests forwarded from t on.
func (p *proxy) forwardedSince(t time.Time) []interval {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []interval
	for _, iv := range p.forwarded {
		if !iv.start.Before(t) {
			out = append(out, iv)
		}
	}
	return out
}

func startProxy(target string) (*proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &proxy{ln: ln, closed: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if p.hang.Load() {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-p.closed:
			}
			return
		}
		if d := time.Duration(p.delay.Load()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		rp.ServeHTTP(w, r)
		p.mu.Lock()
		p.forwarded = append(p.forwarded, interval{start, time.Now()})
		p.mu.Unlock()
	})}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) Close() {
	close(p.closed)
	_ = p.srv.Close()
}

// profile is one [profiles.NAME] section of a daemon's config.
type profile struct {
	name, issuer, tokenEndpoint string
	timeout                     time.Duration // the profile's provider timeout
}

// daemon is one `authd run` subprocess with its own config, file keyring
// and socket under dir.
type daemon struct {
	bin, dir, config, sock, logPath string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// newDaemon writes the config for profiles (the first is the default) and
// starts authd on it.
func newDaemon(ctx context.Context, bin, dir string, profiles []profile) (*daemon, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	pass := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(pass, []byte("bench-passphrase\n"), 0o600); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "default_profile = %q\n\n[keyring]\nbackend = \"file\"\nfile_dir = %q\npassphrase_file = %q\n",
		profiles[0].name, filepath.Join(dir, "keyring"), pass)
	for _, p := range profiles {
		fmt.Fprintf(&b, "\n[profiles.%s]\nissuer = %q\nclient_id = %q\nlogin_timeout = \"30s\"\n", p.name, p.issuer, idptest.PublicClientID)
		if p.tokenEndpoint != "" {
			fmt.Fprintf(&b, "token_endpoint = %q\n", p.tokenEndpoint)
		}
		if p.timeout > 0 {
			fmt.Fprintf(&b, "timeout = %q\n", p.timeout.String())
		}
	}
	d := &daemon{bin: bin, dir: dir, config: filepath.Join(dir, "config.toml"), sock: filepath.Join(dir, "run", "authd.sock"), logPath: filepath.Join(dir, "authd.log")}
	if err := os.WriteFile(d.config, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return d, d.start(ctx)
}

// start runs authd and returns once it answers Status.
func (d *daemon) start(ctx context.Context) error {
	logs, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	d.cmd = exec.Command(d.bin, "run", "--config", d.config, "--socket", d.sock, "--log-level", "info")
	d.cmd.Env = append(os.Environ(), "AUTHD_CONFIG="+d.config, "AUTHD_SOCKET="+d.sock)
	d.cmd.Stdout, d.cmd.Stderr = logs, logs
	// The daemon dies with the bench, even when the bench is killed.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		logs.Close()
		return fmt.Errorf("start authd: %w", err)
	}
	d.exited = make(chan struct{})
	go func() {
		d.err = d.cmd.Wait()
		logs.Close()
		close(d.exited)
	}()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if c, err := (&net.Dialer{}).DialContext(ctx, "unix", d.sock); err == nil {
			c.Close()
			break
		}
		select {
		case <-d.exited:
			return fmt.Errorf("authd exited (%v) before serving; log: %s", d.err, d.logPath)
		case <-ctx.Done():
			return fmt.Errorf("authd did not listen on %s within 30s; log: %s", d.sock, d.logPath)
		case <-time.After(5 * time.Millisecond):
		}
	}
	c, err := d.client()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Status(ctx); err != nil {
		return fmt.Errorf("authd status: %w", err)
	}
	return nil
}

// stop ends authd with SIGTERM (after SIGCONT, should it be stopped), then
// SIGKILL if it lingers.
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGCONT)
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

func (d *daemon) signal(sig syscall.Signal) error { return d.cmd.Process.Signal(sig) }

func (d *daemon) pid() int { return d.cmd.Process.Pid }

func (d *daemon) client() (*client.Client, error) {
	return client.New(client.WithSocket(d.sock))
}

// login logs profile in through the API, completing the provider's login
// form over plain HTTP the moment the daemon hands out the URL.
func (d *daemon) login(ctx context.Context, profile string) error {
	c, err := d.client()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var formErr error
	done := false
	err = c.Login(ctx, client.LoginOptions{Profile: profile}, func(ev client.LoginEvent) {
		switch {
		case ev.OpenURL != nil:
			status, _, err := idptest.CompleteLogin(ctx, ev.OpenURL.URL, idptest.DefaultUsername, idptest.DefaultPassword)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("status %d", status)
			}
			if err != nil {
				formErr = fmt.Errorf("complete login form: %w", err)
			}
		case ev.Done != nil:
			done = true
		}
	})
	switch {
	case formErr != nil:
		return fmt.Errorf("login %s: %w", profile, formErr)
	case err != nil:
		return fmt.Errorf("login %s: %w", profile, err)
	case !done:
		return fmt.Errorf("login %s: ended without a Done event", profile)
	}
	return nil
}

// status returns the daemon's view of profile.
func (d *daemon) status(ctx context.Context, profile string) (*client.ProfileStatus, error) {
	c, err := d.client()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	for i := range st.Profiles {
		if st.Profiles[i].Name == profile {
			return &st.Profiles[i], nil
		}
	}
	return nil, fmt.Errorf("status: no profile %s", profile)
}

// rss reads the daemon's resident set size in bytes.
func (d *daemon) rss() (int64, error) { return vmRSS(d.pid()) }

func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// sampleRSS reads the RSS n times, pause apart.
func (d *daemon) sampleRSS(n int, pause time.Duration) (spread, error) {
	var xs []float64
	for i := range n {
		if i > 0 {
			time.Sleep(pause)
		}
		v, err := d.rss()
		if err != nil {
			return spread{}, err
		}
		xs = append(xs, float64(v))
	}
	return overRepeats(xs), nil
}

// cleanups are run in reverse order when the bench ends.
type cleanups struct {
	mu  sync.Mutex
	fns []func()
}

func (c *cleanups) add(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, f)
}

func (c *cleanups) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

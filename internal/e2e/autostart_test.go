//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/otheruser"
)

// autostartEnv is a user with a config and no daemon running: a
// client_credentials profile, so that a token needs no login.
type autostartEnv struct {
	t                    *testing.T
	dir, sock, log, conf string
	vars                 []string
}

func newAutostartEnv(t *testing.T, extraConfig string) *autostartEnv {
	t.Helper()
	idp := idptest.New(t, idptest.Options{})
	dir := t.TempDir()
	a := &autostartEnv{t: t, dir: dir,
		sock: filepath.Join(dir, "run", "authd", "authd.sock"),
		log:  filepath.Join(dir, "state", "authd", "authd.log"),
		conf: filepath.Join(dir, "config.toml"),
	}
	config := fmt.Sprintf(`%s
[keyring]
backend = "file"
file_dir = %q

[profiles.svc]
issuer = %q
client_id = %q
client_secret = %q
flow = "client_credentials"
scopes = []
`, extraConfig, filepath.Join(dir, "keyring"), idp.Issuer(), idptest.ConfidentialClientID, idptest.ConfidentialClientSecret)
	if err := os.WriteFile(a.conf, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	a.vars = []string{"GORACE=" + gorace, "AUTHD_SOCKET=" + a.sock, "AUTHD_CONFIG=" + a.conf,
		"XDG_STATE_HOME=" + filepath.Join(dir, "state"), "XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"AUTHD_KEYRING_PASSPHRASE=" + keyringPassphrase, "AUTHD_NO_AUTOSTART="}
	t.Cleanup(a.stopDaemons)
	return a
}

func (a *autostartEnv) authc(args ...string) result {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "authc"), args...)
	cmd.Env = append(os.Environ(), a.vars...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return exitResult(a.t, cmd, err, stdout.String(), stderr.String())
}

// daemonPIDs are the authd processes serving this env's config, found by
// their command line and environment in /proc.
func (a *autostartEnv) daemonPIDs() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if strings.HasPrefix(string(cmdline), filepath.Join(bin, "authd")+"\x00run") &&
			strings.Contains(string(environ), "AUTHD_CONFIG="+a.conf+"\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (a *autostartEnv) stopDaemons() {
	for _, pid := range a.daemonPIDs() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	for range 100 {
		if len(a.daemonPIDs()) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range a.daemonPIDs() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// TestAutostartOnce runs 50 'authc token' at once with no daemon running:
// they start exactly one, detached, and every one of them gets a token.
func TestAutostartOnce(t *testing.T) {
	t.Parallel()
	a := newAutostartEnv(t, "")
	const n = 50
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = a.authc("token", "-p", "svc", "--no-login") })
	}
	wg.Wait()
	started := 0
	for i, r := range results {
		if r.code != 0 || len(lines(r.stdout)) != 1 {
			t.Errorf("authc token %d: %s", i, redactStdout(r))
		}
		if strings.Contains(r.stderr, "started authd in the background") {
			started++
		}
	}
	if started != 1 {
		t.Errorf("%d of the authc said they started authd, want 1", started)
	}
	if pids := a.daemonPIDs(); len(pids) != 1 {
		t.Errorf("%d daemons run, want 1: %v", len(pids), pids)
	}
	logs, err := os.ReadFile(a.log)
	if err != nil {
		t.Fatalf("the started daemon's log: %v", err)
	}
	if got := strings.Count(string(logs), "msg=serving"); got != 1 {
		t.Errorf("the log shows %d daemons serving, want 1:\n%s", got, logs)
	}

	// The daemon is detached: a session of its own, no terminal.
	pid := a.daemonPIDs()[0]
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("the started daemon's session is %d (%v), want its own (%d)", sid, err, pid)
	}
	r := a.authc("status", "--json")
	var st struct {
		StartedBy  string `json:"started_by"`
		PID        int    `json:"pid"`
		Goroutines int    `json:"goroutines"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil || st.StartedBy != "autostart" || st.PID != pid {
		t.Errorf("authc status --json: started_by %q pid %d (%v), want autostart and %d: %s", st.StartedBy, st.PID, err, pid, r)
	}
	if st.Goroutines <= 0 {
		t.Errorf("authc status --json: goroutines %d, want the daemon's count", st.Goroutines)
	}
	if r := a.authc("status"); !strings.Contains(r.stdout, "started by authc") {
		t.Errorf("authc status does not say the daemon was started by authc:\n%s", r.stdout)
	}
}

// TestAutostartOff: AUTHD_NO_AUTOSTART=1, or autostart = false in the
// config, leaves the daemon stopped and the call failing as before.
func TestAutostartOff(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, config string
		env          []string
	}{
		{"environment", "", []string{"AUTHD_NO_AUTOSTART=1"}},
		{"config", "autostart = false\n", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAutostartEnv(t, tt.config)
			a.vars = append(a.vars, tt.env...)
			r := a.authc("token", "-p", "svc", "--no-login")
			if r.code != exitDaemon || strings.Contains(r.stderr, "started authd") {
				t.Errorf("authc token: want exit %d and no daemon started; got %s", exitDaemon, r)
			}
			if pids := a.daemonPIDs(); len(pids) != 0 {
				t.Errorf("a daemon runs: %v", pids)
			}
		})
	}
}

// TestAutostartRotatesLog: a log grown past 8 MiB is moved aside to
// authd.log.1 when authc next starts a daemon, which logs to a new one:
// an autostarted daemon's log does not grow without bound across starts.
func TestAutostartRotatesLog(t *testing.T) {
	t.Parallel()
	a := newAutostartEnv(t, "")
	if err := os.MkdirAll(filepath.Dir(a.log), 0o700); err != nil {
		t.Fatal(err)
	}
	old := append([]byte("the old log\n"), make([]byte, 8<<20)...)
	if err := os.WriteFile(a.log, old, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := a.authc("token", "-p", "svc", "--no-login"); r.code != 0 {
		t.Fatalf("authc token: %s", r)
	}
	if got, err := os.ReadFile(a.log + ".1"); err != nil || len(got) != len(old) {
		t.Errorf("authd.log.1: %d bytes, %v; want the old log, %d bytes", len(got), err, len(old))
	}
	if fi, err := os.Stat(a.log); err != nil {
		t.Errorf("no authd.log after the start: %v", err)
	} else if fi.Size() > 1<<20 {
		t.Errorf("authd.log after the start: %d bytes; want a new, small log", fi.Size())
	}
}

// TestAutostartBadConfig: a daemon started on a config with problems
// serves anyway, and the call gets the problems at their lines (exit 6),
// as from a daemon that was running.
func TestAutostartBadConfig(t *testing.T) {
	t.Parallel()
	a := newAutostartEnv(t, "")
	if err := os.WriteFile(a.conf, []byte("[profiles.svc]\nflow = \"nope\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := a.authc("token", "-p", "svc", "--no-login")
	if r.code != exitProfile || !strings.Contains(r.stderr, "started authd") || !strings.Contains(r.stderr, a.conf+":2: profiles.svc.flow") {
		t.Errorf("authc token with a broken config: want exit %d with the problem's line; got %s", exitProfile, r)
	}
}

// TestAutostartFailure: when the daemon cannot be started (here authc has
// no authd beside it nor on PATH), the call fails at once with the reason,
// not after a timeout.
func TestAutostartFailure(t *testing.T) {
	t.Parallel()
	a := newAutostartEnv(t, "")
	alone := filepath.Join(a.dir, "alone")
	if err := os.MkdirAll(alone, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(bin, "authc"), filepath.Join(alone, "authc"), 0o700)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(alone, "authc"), "token", "-p", "svc", "--no-login")
	cmd.Env = append(os.Environ(), append(a.vars, "PATH="+alone)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := exitResult(t, cmd, cmd.Run(), stdout.String(), stderr.String())
	if r.code != exitDaemon || !strings.Contains(r.stderr, "cannot start authd: authd is neither beside this program nor on PATH") || len(lines(r.stderr)) != 1 {
		t.Errorf("authc token where authd cannot start: want exit %d and one line saying why; got %s", exitDaemon, r)
	}
}

// TestAutostartDetachesDescriptors: the daemon outlives the authc that
// started it, and must not hold open what authc's caller handed it (here a
// pipe whose reader waits for it to close).
func TestAutostartDetachesDescriptors(t *testing.T) {
	t.Parallel()
	a := newAutostartEnv(t, "")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "authc"), "token", "-p", "svc", "--no-login")
	cmd.Env = append(os.Environ(), a.vars...)
	cmd.ExtraFiles = []*os.File{w} // fd 3 of authc, not close-on-exec
	out, err := cmd.Output()
	w.Close()
	if err != nil || len(lines(string(out))) != 1 {
		t.Fatalf("authc token: %v", err)
	}
	pids := a.daemonPIDs()
	if len(pids) != 1 {
		t.Fatalf("%d daemons run, want 1", len(pids))
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(r.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	pipe := fmt.Sprintf("pipe:[%d]", st.Ino)
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pids[0]))
	for _, fd := range fds {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pids[0], fd.Name())); target == pipe {
			t.Errorf("the started daemon holds the caller's pipe open as fd %s", fd.Name())
		}
	}
}

// TestAutostartLockOfAnotherUser: a lock file another user put where the
// lock goes (a shared directory) is refused with a line saying whose it
// is, not waited on.
func TestAutostartLockOfAnotherUser(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file to another uid")
	}
	a := newAutostartEnv(t, "")
	if err := os.MkdirAll(filepath.Dir(a.sock), 0o700); err != nil {
		t.Fatal(err)
	}
	lock := a.sock + ".lock"
	if err := os.WriteFile(lock, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(lock, otheruser.UID, otheruser.UID); err != nil {
		t.Fatal(err)
	}
	r := a.authc("token", "-p", "svc", "--no-login")
	if r.code != exitDaemon || !strings.Contains(r.stderr, lock+" is not a file of yours (uid 65534)") {
		t.Errorf("authc token with another user's lock file: want exit %d saying whose it is; got %s", exitDaemon, r)
	}
}

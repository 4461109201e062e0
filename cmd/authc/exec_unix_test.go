//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"authd.dev/authd/api"
	pb "authd.dev/authd/proto/authd/v1"
)

// 'authc exec' with real processes: the authc binary, built here, runs
// small sh scripts as CMD.

// buildAuthc builds authc into a directory of t's.
func buildAuthc(t *testing.T) string {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	}
	out := filepath.Join(t.TempDir(), "authc")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if msg, err := exec.CommandContext(ctx, goTool, "build", "-o", out, "authd.dev/authd/cmd/authc").CombinedOutput(); err != nil {
		t.Fatalf("go build authc: %v\n%s", err, msg)
	}
	return out
}

// script writes an executable sh script into a directory of t's.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cmd.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

type procResult struct {
	code           int
	signal         syscall.Signal // the signal that ended it, or 0
	stdout, stderr string
}

// runProc runs argv with stdin and the test's environment plus env.
func runProc(t *testing.T, stdin string, env []string, argv ...string) procResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := procResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		ws := exit.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			r.signal = ws.Signal()
		} else {
			r.code = ws.ExitStatus()
		}
	default:
		t.Fatalf("%v: %v", argv, err)
	}
	return r
}

func TestExec(t *testing.T) {
	authc := buildAuthc(t)
	// The token comes from a fake authd: the tests are about what exec
	// does with it.
	serve(t, &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
		return &pb.Token{AccessToken: "tok-1", TokenType: "DPoP", Expiry: timestamppb.New(time.Now().Add(time.Hour)), Profile: "work"}, nil
	}})
	noStatic := []string{"AUTHD_TOKEN=", "AUTHD_ACCESS_TOKEN=stale"}

	t.Run("environment", func(t *testing.T) {
		show := script(t, `for v in AUTHD_ACCESS_TOKEN A B H; do eval "printf '%s=%s|' $v \"\${$v-unset}\""; done; echo`)
		for _, tt := range []struct {
			args []string
			want string
		}{
			{nil, "AUTHD_ACCESS_TOKEN=tok-1|A=unset|B=unset|H=unset|\n"},
			{[]string{"--env", "A", "--env", "B"}, "AUTHD_ACCESS_TOKEN=stale|A=tok-1|B=tok-1|H=unset|\n"},
			{[]string{"--header-env", "H"}, "AUTHD_ACCESS_TOKEN=tok-1|A=unset|B=unset|H=DPoP tok-1|\n"},
		} {
			args := append(append([]string{authc, "exec", "--no-login"}, tt.args...), "--", show)
			r := runProc(t, "", noStatic, args...)
			if r.code != 0 || r.stdout != tt.want || r.stderr != "" {
				t.Errorf("authc exec %v: exit %d, stdout %q, stderr %q; want %q", tt.args, r.code, r.stdout, r.stderr, tt.want)
			}
		}
		// The environment as CMD gets it, raw: the variable once, authd's
		// value (with two, getenv(3) finds the first).
		r := runProc(t, "", noStatic, authc, "exec", "--no-login", "--", "env")
		var found []string
		for _, l := range lines(r.stdout) {
			if strings.HasPrefix(l, "AUTHD_ACCESS_TOKEN=") {
				found = append(found, l)
			}
		}
		if r.code != 0 || len(found) != 1 || found[0] != "AUTHD_ACCESS_TOKEN=tok-1" {
			t.Errorf("authc exec env: exit %d, AUTHD_ACCESS_TOKEN lines %q; want one, with authd's token", r.code, found)
		}
	})

	t.Run("stdin, stdout, stderr", func(t *testing.T) {
		cat := script(t, `cat; echo to-stderr >&2`)
		in := "line one\nline two\n" + strings.Repeat("x", 100000) + "\n"
		r := runProc(t, in, noStatic, authc, "exec", "--", cat)
		if r.code != 0 || r.stdout != in || r.stderr != "to-stderr\n" {
			t.Errorf("authc exec cat: exit %d, %d bytes out (want %d), stderr %q", r.code, len(r.stdout), len(in), r.stderr)
		}
	})

	t.Run("exit code", func(t *testing.T) {
		if r := runProc(t, "", noStatic, authc, "exec", "--", script(t, "exit 42")); r.code != 42 {
			t.Errorf("authc exec of 'exit 42': exit %d, signal %v, stderr %q", r.code, r.signal, r.stderr)
		}
		killed := script(t, "kill -TERM $$")
		if r := runProc(t, "", noStatic, authc, "exec", "--", killed); r.signal != syscall.SIGTERM {
			t.Errorf("authc exec of a command killed by SIGTERM: exit %d, signal %v; want the same signal", r.code, r.signal)
		}
		// As a shell sees it: 128+15.
		r := runProc(t, "", noStatic, "sh", "-c", `"$0" exec -- "$1"; echo $?`, authc, killed)
		if strings.TrimSpace(r.stdout) != "143" {
			t.Errorf("a shell's $? after authc exec of a command killed by SIGTERM: %q, want 143", r.stdout)
		}
	})

	t.Run("signals", func(t *testing.T) {
		sigs := []syscall.Signal{syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}
		var body strings.Builder
		for _, s := range sigs {
			fmt.Fprintf(&body, "trap 'echo got %d' %d\n", s, s)
		}
		body.WriteString("trap 'echo got 15; exit 7' 15\necho ready $$\nwhile :; do sleep 0.05; done\n")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, authc, "exec", "--", script(t, body.String()))
		cmd.Env = append(os.Environ(), noStatic...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		next := func() string {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("CMD's stdout ended; stderr %q", stderr.String())
				}
				return l
			case <-time.After(20 * time.Second):
				t.Fatal("CMD said nothing for 20s")
			}
			return ""
		}
		if l := next(); l != "ready "+strconv.Itoa(cmd.Process.Pid) {
			t.Errorf("CMD said %q, want ready and authc's process id %d: CMD is authc's process", l, cmd.Process.Pid)
		}
		for _, s := range append(sigs, syscall.SIGTERM) {
			if err := cmd.Process.Signal(s); err != nil {
				t.Fatal(err)
			}
			if l, want := next(), fmt.Sprintf("got %d", s); l != want {
				t.Errorf("after %v to authc, CMD said %q, want %q", s, l, want)
			}
		}
		io.Copy(io.Discard, stdout)
		err = cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 7 || stderr.Len() > 0 {
			t.Errorf("authc exec after SIGTERM, which CMD's trap turns into exit 7: %v, exit %d, stderr %q", err, code, stderr.String())
		}
	})

	t.Run("ignored signals stay ignored", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("reads /proc")
		}
		// sh ignores SIGINT and SIGQUIT for a command run with &: so did
		// CMD before authc took SIGINT over, so must it after.
		show := script(t, `sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status`)
		r := runProc(t, "", noStatic, "sh", "-c", `"$0" exec -- "$1" & wait`, authc, show)
		mask, err := strconv.ParseUint(strings.TrimSpace(r.stdout), 16, 64)
		if err != nil || mask&(1<<(syscall.SIGINT-1)) == 0 {
			t.Errorf("CMD of 'authc exec &' ignores the signals %q (%v); want SIGINT among them, as for any command run with &", r.stdout, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "ran")
		touch := script(t, "touch "+marker)
		notExecutable := filepath.Join(t.TempDir(), "plain")
		if err := os.WriteFile(notExecutable, []byte("echo hi\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			env  []string
			args []string
			code int
			say  string
		}{
			{"no command", nil, nil, api.ExitUsage, "no command to run"},
			{"bad variable name", nil, []string{"--env", "A-B", "--", touch}, api.ExitUsage, `"A-B" is no environment variable name`},
			{"variable twice", nil, []string{"--env", "X", "--header-env", "X", "--", touch}, api.ExitUsage, "named twice"},
			{"not found", nil, []string{"--", "authd-no-such-command"}, 127, "authd-no-such-command: command not found"},
			{"not executable", nil, []string{"--", notExecutable}, 126, "permission denied"},
			{"login required", []string{"AUTHD_SOCKET=" + loginRequiredSocket(t)}, []string{"-p", "work", "--", touch}, api.ExitLoginRequired, "'authc login -p work'"},
		} {
			env := append(append([]string(nil), noStatic...), tt.env...)
			r := runProc(t, "", env, append([]string{authc, "exec", "--no-login"}, tt.args...)...)
			if r.code != tt.code || r.stdout != "" || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, tt.say) {
				t.Errorf("%s: authc exec %v: exit %d, stdout %q, stderr %q; want exit %d and one line saying %s", tt.name, tt.args, r.code, r.stdout, r.stderr, tt.code, tt.say)
			}
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("CMD ran although authc failed")
		}
	})
}

// loginRequiredSocket serves an authd that says a login is required, on a
// socket of its own.
func loginRequiredSocket(t *testing.T) string {
	t.Helper()
	old := os.Getenv("AUTHD_SOCKET")
	serve(t, &fakeDaemon{token: func(context.Context) (*pb.Token, error) {
		return nil, daemonStatus(codes.Unauthenticated, api.LoginRequired, "profile work: login required")
	}})
	path := os.Getenv("AUTHD_SOCKET")
	os.Setenv("AUTHD_SOCKET", old) // t.Setenv restores it at the end as well
	return path
}

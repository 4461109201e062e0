//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"authd.dev/authd/client"
)

// daemon is one 'authd run' process, its output appended to the log.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once err is set
	err    error
}

// startDaemon runs authd with args, its output appended to logPath.
func startDaemon(bin, logPath string, args ...string) (*daemon, error) {
	logs, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	d := &daemon{cmd: exec.Command(bin, append([]string{"run"}, args...)...), exited: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = logs, logs
	// A daemon the soak started dies with it, even when it is killed.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		logs.Close()
		return nil, fmt.Errorf("start authd: %w", err)
	}
	go func() {
		d.err = d.cmd.Wait()
		logs.Close()
		close(d.exited)
	}()
	return d, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// waitServing waits until the daemon answers Status on sock with its own
// pid.
func (d *daemon) waitServing(ctx context.Context, sock string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if c, err := (&net.Dialer{}).DialContext(ctx, "unix", sock); err == nil {
			c.Close()
			if cl, err := client.New(client.WithSocket(sock)); err == nil {
				st, err := cl.Status(ctx)
				cl.Close()
				if err == nil && int(st.PID) == d.pid() {
					return nil
				}
			}
		}
		select {
		case <-d.exited:
			return fmt.Errorf("authd exited (%v) before serving", d.err)
		case <-ctx.Done():
			return fmt.Errorf("authd (pid %d) did not serve on %s within 60s", d.pid(), sock)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop ends the daemon with SIGTERM, and SIGKILL after 10 s.
func (d *daemon) stop() {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

// usage is what a daemon holds at one moment: its goroutines (from
// Status; -1 when it did not answer), threads, open file descriptors and
// resident memory.
type usage struct {
	at         time.Time
	pid        int
	goroutines int
	threads    int
	fds        int
	rss        int64 // bytes
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %d threads, %d fds, %.1f MiB RSS", u.goroutines, u.threads, u.fds, float64(u.rss)/(1<<20))
}

// goroutines asks the daemon that serves now for its goroutines, through
// c, and says which daemon answered.
func goroutines(c *client.Client) (n, pid int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return -1, 0, err
	}
	return int(st.Goroutines), int(st.PID), nil
}

// sample reads pid's usage from /proc.
func sample(pid int) (usage, error) {
	u := usage{at: time.Now(), pid: pid}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), ":")
		val = strings.TrimSpace(val)
		switch key {
		case "Threads":
			u.threads, err = strconv.Atoi(val)
		case "VmRSS":
			var kb int64
			kb, err = strconv.ParseInt(strings.TrimSuffix(val, " kB"), 10, 64)
			u.rss = kb << 10
		}
		if err != nil {
			return u, fmt.Errorf("/proc/%d/status %s: %w", pid, key, err)
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return u, err
	}
	u.fds = len(fds)
	return u, nil
}

// sampler samples the daemon serving now every interval; c, its own
// client, asks for the goroutines.
type sampler struct {
	c       *client.Client
	mu      sync.Mutex
	pid     int
	samples []usage
}

func (s *sampler) watch(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pid = pid
}

func (s *sampler) take() {
	s.mu.Lock()
	pid := s.pid
	s.mu.Unlock()
	if u, err := sample(pid); err == nil {
		u.goroutines = -1
		if n, answered, err := goroutines(s.c); err == nil && answered == pid {
			u.goroutines = n
		}
		s.mu.Lock()
		s.samples = append(s.samples, u)
		s.mu.Unlock()
	}
}

func (s *sampler) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.take()
		}
	}
}

// span is the first sample of pid taken from from until until (zero: no
// end), and the last.
func (s *sampler) span(pid int, from, until time.Time) (first, last usage, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.samples {
		if u.pid != pid || u.at.Before(from) || !until.IsZero() && u.at.After(until) {
			continue
		}
		if !ok {
			first, ok = u, true
		}
		last = u
	}
	return first, last, ok
}

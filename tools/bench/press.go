//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"authd.dev/authd/client"
)

// pressCounts are how a presser's calls ended.
type pressCounts struct{ calls, deadline, other int64 }

// press is the `bench press SOCKET PROFILE CALLERS` subcommand: callers,
// each on its own connection, ask for profile with a min_valid its tokens
// cannot meet and a 1 s deadline, again and again until SIGTERM; then it
// prints how the calls ended. It runs in its own process, as other
// programs asking the daemon would, so that it does not share the bench's
// Go runtime with the callers being measured.
func press(sock, profile string, callers int) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var calls, deadline, other atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		c, err := client.New(client.WithSocket(sock))
		if err != nil {
			return err
		}
		wg.Go(func() {
			defer c.Close()
			// Independent callers: their deadlines do not fall in step.
			select {
			case <-ctx.Done():
				return
			case <-time.After(rand.N(time.Second)):
			}
			for ctx.Err() == nil {
				cctx, cancel := context.WithTimeout(ctx, time.Second)
				_, err := c.Token(cctx, client.TokenOptions{Profile: profile, ForceRefresh: true})
				cancel()
				if ctx.Err() != nil {
					return
				}
				calls.Add(1)
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					deadline.Add(1)
				case err != nil:
					other.Add(1)
				default:
					time.Sleep(10 * time.Millisecond) // answered: do not spin
				}
			}
		})
	}
	wg.Wait()
	fmt.Println(calls.Load(), deadline.Load(), other.Load())
	return nil
}

// presser is a running press subprocess.
type presser struct {
	cmd *exec.Cmd
	out strings.Builder
}

func startPresser(sock, profile string, callers int) (*presser, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &presser{cmd: exec.Command(self, "press", sock, profile, strconv.Itoa(callers))}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, os.Stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start presser: %w", err)
	}
	return p, nil
}

// stop ends the presser and returns its counts.
func (p *presser) stop() (pressCounts, error) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		return pressCounts{}, errors.New("presser did not stop within 10s of SIGTERM")
	}
	if err != nil {
		return pressCounts{}, fmt.Errorf("presser: %w", err)
	}
	var c pressCounts
	if _, err := fmt.Sscan(p.out.String(), &c.calls, &c.deadline, &c.other); err != nil {
		return pressCounts{}, fmt.Errorf("presser output %q: %w", p.out.String(), err)
	}
	return c, nil
}

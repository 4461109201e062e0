package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// stopTimeout bounds a stop: SIGTERM's, or the service manager's. Within
// it, the server stops accepting, the logins in flight end (their clients
// hear that authd is shutting down), the calls in flight are answered
// (server.Limits.DrainTimeout, 3 s), and the refreshes still running get
// what is left, but for stopMargin, to store what the provider sent (see
// [broker.Broker.Shutdown]). handleSignals exits when a stop takes longer.
const (
	stopTimeout = 5 * time.Second
	stopMargin  = 500 * time.Millisecond
)

// handleSignals reloads on SIGHUP and stops on any other signal, until
// stopped or until the server ends (done). Reloads run in a goroutine of
// their own, one at a time, so that a reload that blocks never keeps a
// signal (SIGTERM above all) waiting; a SIGHUP during a reload queues one
// more, which reads the config as it is by then, and further ones join it.
//
// The stop runs in a goroutine of its own too: a second SIGTERM or SIGINT
// during it returns at once, as does a stop that has not ended within
// stopTimeout; the caller then exits, cutting off what still runs.
func handleSignals(sig <-chan os.Signal, done <-chan error, reload func(), stop func(os.Signal) error) error {
	reloads := make(chan struct{}, 1)
	defer close(reloads)
	go func() {
		for range reloads {
			reload()
		}
	}()
	var (
		stopped  chan error // the stop's result, once it began
		deadline <-chan time.Time
	)
	for {
		select {
		case s := <-sig:
			switch {
			case s == syscall.SIGHUP && stopped != nil:
				// Stopping: the new config would serve nobody.
			case s == syscall.SIGHUP:
				select {
				case reloads <- struct{}{}:
				default: // one is queued already
				}
			case stopped != nil:
				return fmt.Errorf("a second signal (%v) while stopping: exiting at once", s)
			default:
				stopped = make(chan error, 1)
				go func() { stopped <- stop(s) }()
				deadline = time.After(stopTimeout)
				done = nil // the stop waits for the server itself
			}
		case err := <-stopped:
			return err
		case <-deadline:
			return fmt.Errorf("did not stop within %s: exiting at once", stopTimeout)
		case err := <-done:
			return err
		}
	}
}

package main

import (
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A stop that does not end is cut off at stopTimeout, and a second signal
// cuts it off at once; SIGHUP while stopping reloads nothing.
func TestStopIsBounded(t *testing.T) {
	t.Parallel()
	for _, second := range []os.Signal{nil, syscall.SIGTERM, os.Interrupt} {
		t.Run(stringOf(second), func(t *testing.T) {
			t.Parallel()
			sig := make(chan os.Signal, 3)
			var reloads atomic.Int32
			stopping := make(chan struct{})
			never := make(chan struct{})
			t.Cleanup(func() { close(never) })
			ret := make(chan error, 1)
			start := time.Now()
			go func() {
				ret <- handleSignals(sig, make(chan error), func() { reloads.Add(1) }, func(os.Signal) error {
					close(stopping)
					<-never
					return nil
				})
			}()
			sig <- syscall.SIGTERM
			<-stopping
			sig <- syscall.SIGHUP
			if second != nil {
				sig <- second
			}
			var err error
			select {
			case err = <-ret:
			case <-time.After(stopTimeout + 5*time.Second):
				t.Fatalf("handleSignals still waiting for the stop %s after SIGTERM", stopTimeout+5*time.Second)
			}
			took := time.Since(start)
			switch {
			case second == nil && (took < stopTimeout || err == nil || !strings.Contains(err.Error(), "did not stop within")):
				t.Errorf("a stop that never ends: handleSignals returned %v after %s; want the bound's error after %s", err, took, stopTimeout)
			case second != nil && (took >= stopTimeout || err == nil || !strings.Contains(err.Error(), "second signal")):
				t.Errorf("a second %v: handleSignals returned %v after %s; want it at once", second, err, took)
			}
			if n := reloads.Load(); n != 0 {
				t.Errorf("SIGHUP while stopping reloaded %d times", n)
			}
		})
	}
}

func stringOf(s os.Signal) string {
	if s == nil {
		return "none"
	}
	return s.String()
}

package main

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A reload that blocks (a config naming a FIFO, a hung keyring) does not
// keep SIGTERM waiting; SIGHUPs during it queue exactly one more reload.
func TestSignalsDuringBlockedReload(t *testing.T) {
	t.Parallel()
	var reloads atomic.Int32
	started, release := make(chan struct{}, 10), make(chan struct{})
	reload := func() {
		reloads.Add(1)
		started <- struct{}{}
		<-release
	}
	sig := make(chan os.Signal)
	stopped := make(chan os.Signal, 1)
	ret := make(chan error, 1)
	go func() {
		ret <- handleSignals(sig, nil, reload, func(s os.Signal) error {
			stopped <- s
			return errors.New("stopped")
		})
	}()
	send := func(s os.Signal) {
		t.Helper()
		select {
		case sig <- s:
		case <-time.After(10 * time.Second):
			t.Fatalf("%v not handled: the signal loop is blocked", s)
		}
	}
	send(syscall.SIGHUP)
	<-started // the first reload is now blocked
	for range 3 {
		send(syscall.SIGHUP)
	}
	send(syscall.SIGTERM)
	select {
	case err := <-ret:
		if err == nil || err.Error() != "stopped" {
			t.Fatalf("handleSignals returned %v, want stop's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not stop the daemon during a blocked reload")
	}
	if s := <-stopped; s != syscall.SIGTERM {
		t.Errorf("stopped by %v", s)
	}
	close(release)
	select {
	case <-started: // the one queued reload
	case <-time.After(10 * time.Second):
		t.Fatal("the SIGHUPs during a reload did not queue another")
	}
	time.Sleep(100 * time.Millisecond) // a third would start about now
	if n := reloads.Load(); n != 2 {
		t.Errorf("%d reloads, want 2 (one running, one queued)", n)
	}
}

package daemontest

import (
	"sync"
	"time"

	"authd.dev/authd/internal/broker"
)

// Clock is the wall clock moved forward by [Clock.Advance] and
// [Clock.Sleep]; timers fire when their time comes on it, so background
// refreshes happen when a test says.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *Clock
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Now is the wall clock's time plus how far the test has moved the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// AfterFunc runs f once the clock has been advanced past d from now.
func (c *Clock) AfterFunc(d time.Duration, f func()) broker.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: time.Now().Add(c.offset + d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock and runs the timers that came due, waiting for
// each to finish.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	now := time.Now().Add(c.offset)
	var due []*fakeTimer
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(now):
			t.stopped = true
			due = append(due, t)
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// Sleep moves the clock without running timers, as a suspended machine
// wakes up with its timers not yet fired.
func (c *Clock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

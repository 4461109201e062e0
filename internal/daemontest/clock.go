package daemontest

import (
	"sync"
	"time"

	"authd.dev/authd/internal/broker"
)

// Clock is the wall clock moved forward by [Clock.Advance] and
// [Clock.Sleep]. Its timers run on its monotonic clock, as Go's do: they
// fire when Advance moves it past their time, so background refreshes
// happen when a test says.
type Clock struct {
	mu       sync.Mutex
	advanced time.Duration // by Advance: both clocks
	slept    time.Duration // by Sleep: the wall clock alone
	timers   []*fakeTimer
}

type fakeTimer struct {
	c       *Clock
	at      time.Duration // on the monotonic clock
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

// origin is the origin of every Clock's monotonic readings.
var origin = time.Now()

// Now is the wall clock's time plus how far the test has moved the clock,
// without a monotonic reading, as the broker's wall clock gives it.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Round(0).Add(c.advanced + c.slept)
}

// Monotonic is the time since an origin, plus what Advance added: Sleep
// does not move it, as a suspended machine's monotonic clock stands still.
func (c *Clock) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.monotonicLocked()
}

func (c *Clock) monotonicLocked() time.Duration { return time.Since(origin) + c.advanced }

// AfterFunc runs f once the clock has been advanced past d from now.
func (c *Clock) AfterFunc(d time.Duration, f func()) broker.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.monotonicLocked() + d, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves both clocks and runs the timers that came due, waiting for
// each to finish. Timers that those set up run on a later Advance, even
// when already due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.advanced += d
	c.mu.Unlock()
	for _, t := range c.takeDue() {
		t.f()
	}
}

// takeDue removes the timers that came due and returns them.
func (c *Clock) takeDue() []*fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.monotonicLocked()
	var due []*fakeTimer
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case t.at <= now:
			t.stopped = true
			due = append(due, t)
		default:
			kept = append(kept, t)
		}
	}
	clear(c.timers[len(kept):])
	c.timers = kept
	return due
}

// Sleep moves the wall clock alone, as a machine suspended for d wakes up:
// its monotonic clock, and so every timer, stood still meanwhile.
func (c *Clock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept += d
}

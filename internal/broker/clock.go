package broker

import "time"

// Clock is the broker's time source: token validity and the refresh
// schedule. Tests inject one they can move forward, and suspend.
//
// A machine has two clocks: the wall clock, which token expiries are
// written in and which jumps when the machine resumes from suspend (or its
// time is set), and the monotonic clock, which stops while the machine is
// suspended and never jumps. Timers run on the monotonic clock: after a
// night asleep, a refresh planned for one hour after its token's issue has
// not fired yet, though its token expired long ago. The broker compares
// the two to notice such jumps (see [Broker]'s doc).
type Clock interface {
	// Now is the wall clock's time, without a monotonic reading: expiries
	// compared with it stay right across a suspend.
	Now() time.Time
	// Monotonic is a reading of the monotonic clock: the time elapsed
	// since an origin of the clock's choosing, suspended time excluded.
	Monotonic() time.Duration
	// AfterFunc calls f in its own goroutine once d has passed on the
	// monotonic clock.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled call that can be cancelled.
type Timer interface {
	Stop() bool
}

type wallClock struct{}

// monotonicOrigin is the origin of wallClock's monotonic readings.
var monotonicOrigin = time.Now()

// Now strips the monotonic reading that time.Now carries: Go compares two
// times that both have one on the monotonic clock alone, and an expiry
// computed before a suspend would then seem hours further away than it is.
func (wallClock) Now() time.Time { return time.Now().Round(0) }

func (wallClock) Monotonic() time.Duration { return time.Since(monotonicOrigin) }

func (wallClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

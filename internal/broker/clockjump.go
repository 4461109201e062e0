package broker

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// A machine that resumes from suspend (a laptop opened, a VM restored)
// finds its wall clock hours ahead of its monotonic clock, which stood
// still. Its timers, on the monotonic clock, have not fired: the
// background refreshes planned for the night are still hours away, though
// their tokens expired. Its connections to the providers, kept for reuse,
// are likely dead without either end knowing (a NAT forgot them, the
// network changed): a refresh written on one waits for its timeout, and
// leaves in doubt whether the provider redeemed, and rotated, the refresh
// token it carried. So the broker compares the two clocks every
// jumpCheckInterval, and before every redemption of a refresh token; when
// they have drifted apart by more than jumpThreshold it drops every idle
// connection to the providers and replans every session's refresh for the
// wall-clock time it was planned for (at once, for those overdue).
const (
	jumpCheckInterval = 10 * time.Second
	// jumpThreshold is far above the drift of the two clocks (NTP slews
	// both alike) and far below any suspend worth noticing.
	jumpThreshold = 5 * time.Second
)

// jumpWatch remembers the two clocks as last read, to tell how far they
// drifted apart since.
type jumpWatch struct {
	clock Clock

	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

func newJumpWatch(c Clock) *jumpWatch {
	w := &jumpWatch{clock: c}
	w.check()
	return w
}

// check reads both clocks and returns how much further the wall clock moved
// than the monotonic one since the last check (negative when it was set
// back), and whether that is a jump.
func (w *jumpWatch) check() (skew time.Duration, jumped bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wall, mono := w.clock.Now(), w.clock.Monotonic()
	if !w.wall.IsZero() {
		skew = wall.Sub(w.wall) - (mono - w.mono)
	}
	w.wall, w.mono = wall, mono
	return skew, skew > jumpThreshold || skew < -jumpThreshold
}

// watchClock checks the clocks every jumpCheckInterval until the broker
// is closed.
func (b *Broker) watchClock() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		return
	}
	b.clockTimer = b.opts.Clock.AfterFunc(jumpCheckInterval, func() {
		b.checkClock()
		b.watchClock()
	})
}

// checkClock handles a clock jump, if there was one since the last check.
func (b *Broker) checkClock() {
	skew, jumped := b.jumps.check()
	if !jumped {
		return
	}
	b.mu.RLock()
	sessions := slices.Collect(maps.Values(b.sessions))
	b.mu.RUnlock()
	b.log.Info("the wall clock jumped against the monotonic clock (the machine slept, or its time was set): dropping idle connections to the providers and replanning refreshes",
		"jump", skew.Round(time.Second), "sessions", len(sessions))
	for _, s := range sessions {
		s.flow.CloseIdleConnections()
		s.replan()
	}
}

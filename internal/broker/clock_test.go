package broker

import (
	"strings"
	"testing"
	"time"
)

// The wall clock's times carry no monotonic reading: Go compares two times
// that both have one on the monotonic clock alone, which stands still
// while the machine is suspended, and an expiry from before a suspend
// would then seem as far away as it was when the machine went to sleep.
func TestWallClockHasNoMonotonicReading(t *testing.T) {
	if s := (wallClock{}).Now().String(); strings.Contains(s, "m=") {
		t.Errorf("wallClock.Now() = %s, with a monotonic reading", s)
	}
}

// fakeClocks is a wall and a monotonic clock moved by hand.
type fakeClocks struct {
	wall time.Time
	mono time.Duration
}

func (c *fakeClocks) Now() time.Time                        { return c.wall }
func (c *fakeClocks) Monotonic() time.Duration              { return c.mono }
func (c *fakeClocks) AfterFunc(time.Duration, func()) Timer { panic("not used") }

func TestJumpWatch(t *testing.T) {
	c := &fakeClocks{wall: time.Unix(1e9, 0)}
	w := newJumpWatch(c)
	for _, step := range []struct {
		name       string
		wall, mono time.Duration
		jumped     bool
	}{
		{"awake", 10 * time.Second, 10 * time.Second, false},
		{"drift", 10*time.Second + 50*time.Millisecond, 10 * time.Second, false},
		{"a late check", time.Minute, time.Minute, false},
		{"suspended", 8 * time.Hour, 2 * time.Second, true},
		{"set back", -time.Hour, 10 * time.Second, true},
		{"set forward a little", 14 * time.Second, 10 * time.Second, false},
	} {
		c.wall, c.mono = c.wall.Add(step.wall), c.mono+step.mono
		if skew, jumped := w.check(); jumped != step.jumped || skew != step.wall-step.mono {
			t.Errorf("%s: check() = %s, %v; want %s, %v", step.name, skew, jumped, step.wall-step.mono, step.jumped)
		}
	}
}

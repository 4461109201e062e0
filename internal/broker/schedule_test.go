package broker

import (
	"testing"
	"time"

	"authd.dev/authd/internal/store"
)

// A provider that issues tokens already expired must not turn the
// background refresh into a loop: it waits at least minRefreshInterval
// after a token's issue, whatever the token's lifetime.
func TestRefreshTimeFloor(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name           string
		issued, expiry time.Time
		refreshAt      time.Time
		notBefore      time.Time
	}{
		{"expired on arrival", now, now.Add(-time.Hour), time.Time{}, now.Add(minRefreshInterval)},
		{"a second to live", now, now.Add(time.Second), time.Time{}, now.Add(minRefreshInterval)},
		{"refresh_in in the past", now, now.Add(time.Hour), now.Add(-time.Minute), now.Add(minRefreshInterval)},
		{"ten seconds to live", now, now.Add(10 * time.Second), time.Time{}, now.Add(minRefreshInterval)},
		{"an hour to live", now, now.Add(time.Hour), time.Time{}, now.Add(45 * time.Minute)},
	} {
		rec := &store.Record{IssuedAt: tt.issued, Expiry: tt.expiry, RefreshAt: tt.refreshAt}
		if at := refreshTime(rec, now); at.Before(tt.notBefore) {
			t.Errorf("%s: background refresh %s after issue, want at least %s", tt.name, at.Sub(now), tt.notBefore.Sub(now))
		}
	}
	// An old record (a daemon restarted after a sleep) is refreshed at once.
	old := &store.Record{IssuedAt: now.Add(-2 * time.Hour), Expiry: now.Add(-time.Hour)}
	if at := refreshTime(old, now); at.After(now) {
		t.Errorf("a record issued two hours ago is refreshed %s from now, want at once", at.Sub(now))
	}
}

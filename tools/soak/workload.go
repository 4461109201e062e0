//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/idptest"
)

// What a failed call is put down to.
const (
	byFault   = iota // an injected fault of the provider (or its consequences)
	byLogout         // LOGIN_REQUIRED while the soak had logged the profile out
	byReplace        // a login cut by the replace (SHUTTING_DOWN, documented)
	unexpected
	nCauses
)

var causeNames = [nCauses]string{"injected provider faults", "the soak's own logouts", "the replace (logins only)", "anything else"}

// profile is what the soak knows of one profile's history, to tell why a
// call failed.
type profile struct {
	name string

	mu        sync.Mutex
	faults    []time.Time    // every fault injected on its token endpoint
	hangs     []time.Time    // the hung ones
	logins    []time.Time    // when each login completed
	loggedOut [][2]time.Time // the soak's logouts: from the logout to the next login ([1] zero while open)
}

func (p *profile) fault(f idptest.Fault) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, now)
	if f.Hang {
		p.hangs = append(p.hangs, now)
	}
}

func (p *profile) loggedIn(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logins = append(p.logins, at)
	if n := len(p.loggedOut); n > 0 && p.loggedOut[n-1][1].IsZero() {
		p.loggedOut[n-1][1] = at
	}
}

func (p *profile) logoutStarts(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loggedOut = append(p.loggedOut, [2]time.Time{at, {}})
}

func (p *profile) inLogout() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.loggedOut)
	return n > 0 && p.loggedOut[n-1][1].IsZero()
}

// backoffWindow is how long after a fault a failing refresh may still be
// backing off (1 s, 2 s, 4 s ... after consecutive failures).
const backoffWindow = 30 * time.Second

// cause tells why a call on the profile, made from start to end, failed
// with err; replace is when the replace ran.
func (p *profile) cause(err error, start, end time.Time, replace [2]time.Time) int {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return unexpected
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ce.Reason {
	case api.LoginRequired:
		for _, w := range p.loggedOut {
			if w[0].Before(end) && (w[1].IsZero() || w[1].After(start)) {
				return byLogout
			}
		}
		// A refresh the provider left unanswered is never sent again: the
		// session needs a login until the next one completes.
		for _, h := range p.hangs {
			if h.After(end) {
				break
			}
			i := sort.Search(len(p.logins), func(i int) bool { return p.logins[i].After(h) })
			if i == len(p.logins) || p.logins[i].After(start) {
				return byFault
			}
		}
	case api.IDPUnavailable, api.LoginFailed:
		if p.faultBetween(start.Add(-backoffWindow), end) {
			return byFault
		}
	case api.ShuttingDown:
		if !replace[0].IsZero() && replace[0].Before(end) && (replace[1].IsZero() || replace[1].After(start)) {
			return byReplace
		}
	}
	return unexpected
}

func (p *profile) faultBetween(from, to time.Time) bool {
	i := sort.Search(len(p.faults), func(i int) bool { return !p.faults[i].Before(from) })
	return i < len(p.faults) && !p.faults[i].After(to)
}

// tally counts calls of one kind and why those that failed did.
type tally struct {
	calls  atomic.Int64
	failed [nCauses]atomic.Int64

	mu       sync.Mutex
	examples []string // of unexpected failures, the first few
}

func (t *tally) record(p *profile, err error, start time.Time, replace func() [2]time.Time) {
	t.calls.Add(1)
	if err == nil {
		return
	}
	c := p.cause(err, start, time.Now(), replace())
	t.failed[c].Add(1)
	if c == unexpected {
		t.mu.Lock()
		if len(t.examples) < 5 {
			// The times match the lines of authd's log the report shows.
			t.examples = append(t.examples, fmt.Sprintf("%s, from %s to %s: %v",
				p.name, start.UTC().Format("15:04:05.000"), time.Now().UTC().Format("15:04:05.000"), err))
		}
		t.mu.Unlock()
	}
}

func (t *tally) failedTotal() int64 {
	var n int64
	for i := range t.failed {
		n += t.failed[i].Load()
	}
	return n
}

// login logs p in through the API, filling the provider's login form over
// plain HTTP as a user would in the browser. It runs on a context of its
// own, not on the load's: a login that starts just before the load ends
// runs to its end (the actors are waited for), rather than failing with
// the load's deadline as if the daemon had been too slow.
func login(c *client.Client, p *profile) error {
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
	defer cancel()
	var formErr error
	fresh := false
	err := c.Login(ctx, client.LoginOptions{Profile: p.name}, func(ev client.LoginEvent) {
		switch {
		case ev.OpenURL != nil:
			status, _, err := idptest.CompleteLogin(ctx, ev.OpenURL.URL, idptest.DefaultUsername, idptest.DefaultPassword)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("login form: status %d", status)
			}
			formErr = err
		case ev.Done != nil:
			fresh = !ev.Done.AlreadyLoggedIn
		}
	})
	if err == nil && fresh {
		p.loggedIn(time.Now())
	}
	if err != nil && formErr != nil {
		// The call's error decides the cause (it is the first in the
		// chain); the form's says what the browser saw.
		return fmt.Errorf("%w (the login form: %v)", err, formErr)
	}
	if err != nil {
		return err
	}
	return formErr
}

// loginTimeout bounds one login, the form included; the profiles' own
// login_timeout (writeConfig) is the same.
const loginTimeout = 30 * time.Second

// every runs f every interval until ctx ends.
func every(ctx context.Context, wg *sync.WaitGroup, interval time.Duration, f func()) {
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ctx.Err() != nil {
					return // both were ready: the load is over
				}
				f()
			}
		}
	})
}

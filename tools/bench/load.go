//go:build linux

package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// load is what one closed-loop run measured.
type load struct {
	callers  int
	calls    int64
	errors   int64
	firstErr error
	elapsed  time.Duration
	lat      []float64 // seconds, sorted; nil when not recorded
}

func (l load) rate() float64 { return float64(l.calls) / l.elapsed.Seconds() }

func (l load) p(q float64) float64 { return quantile(l.lat, q) }

// closedLoop runs callers goroutines, each calling call back to back, until
// d has passed or maxCalls calls were started (0: no limit). Each call has
// a timeout of callTimeout. With record, every latency is kept.
func closedLoop(ctx context.Context, callers int, d time.Duration, maxCalls int64, record bool, call func(context.Context) error) load {
	const callTimeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		budget   atomic.Int64
		calls    atomic.Int64
		errs     atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	budget.Store(maxCalls)
	lats := make([][]time.Duration, callers)
	start := time.Now()
	for i := range callers {
		wg.Go(func() {
			var mine []time.Duration
			if record {
				mine = make([]time.Duration, 0, 4096)
			}
			for ctx.Err() == nil {
				if maxCalls > 0 && budget.Add(-1) < 0 {
					break
				}
				cctx, ccancel := context.WithTimeout(context.Background(), callTimeout)
				t0 := time.Now()
				err := call(cctx)
				lat := time.Since(t0)
				ccancel()
				calls.Add(1)
				if err != nil {
					errs.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				if record {
					mine = append(mine, lat)
				}
			}
			lats[i] = mine
		})
	}
	wg.Wait()
	l := load{callers: callers, calls: calls.Load(), errors: errs.Load(), firstErr: firstErr, elapsed: time.Since(start)}
	if record {
		l.lat = durations(slices.Concat(lats...))
	}
	return l
}

// callerResult is one storm caller's calls.
type callerResult struct {
	calls []timedCall
	err   error // the first error
}

// timedCall is when a call started and how long it took.
type timedCall struct {
	start time.Time
	lat   time.Duration
}

func (c timedCall) overlaps(iv interval) bool {
	return c.start.Before(iv.end) && iv.start.Before(c.start.Add(c.lat))
}

// burst releases one call per caller at the same instant and waits for all.
func burst(calls []func(context.Context) error, timeout time.Duration) []callerResult {
	out := make([]callerResult, len(calls))
	release := make(chan struct{})
	var ready, wg sync.WaitGroup
	ready.Add(len(calls))
	for i, call := range calls {
		wg.Go(func() {
			ready.Done()
			<-release
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			t0 := time.Now()
			err := call(ctx)
			out[i] = callerResult{calls: []timedCall{{t0, time.Since(t0)}}, err: err}
		})
	}
	ready.Wait()
	close(release)
	wg.Wait()
	return out
}

// paced runs every caller from now until end, each calling then pausing a
// random 0.5–1.5 × pause, so the calls arrive continuously and the load
// stays light enough that a call waits only on the daemon.
func paced(calls []func(context.Context) error, end time.Time, pause, timeout time.Duration) []callerResult {
	out := make([]callerResult, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() {
			time.Sleep(min(rand.N(pause), time.Until(end))) // spread the first calls
			for time.Now().Before(end) {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				t0 := time.Now()
				err := call(ctx)
				lat := time.Since(t0)
				cancel()
				if err != nil && out[i].err == nil {
					out[i].err = err
				}
				out[i].calls = append(out[i].calls, timedCall{t0, lat})
				time.Sleep(min(pause/2+rand.N(pause), time.Until(end)))
			}
		})
	}
	wg.Wait()
	return out
}

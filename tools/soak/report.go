//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	"authd.dev/authd/internal/idptest"
)

// Flatness: how much a daemon's usage may grow from the start of its run
// (after the warm-up) to its end.
const (
	moreThreads     = 8
	moreFDsShare    = 0.10
	moreFDsMin      = 32
	moreRSSShare    = 0.25
	moreRSSMinBytes = 16 << 20
)

func flat(first, last usage, judgeRSS bool) bool {
	return last.threads <= first.threads+moreThreads &&
		last.fds <= first.fds+max(moreFDsMin, int(float64(first.fds)*moreFDsShare)) &&
		(!judgeRSS || last.rss <= first.rss+max(moreRSSMinBytes, int64(float64(first.rss)*moreRSSShare)))
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// report prints what the run measured and says whether every check passed.
func (s *soak) report(start time.Time, elapsed, warmup time.Duration, first, next *daemon, smp *sampler, replaceErr error, idle idle) bool {
	ok := true
	check := func(pass bool) string {
		ok = ok && pass
		return verdict(pass)
	}
	fmt.Printf("\nauthd soak: %s, %d clients over %d profiles; token endpoint faults: %.0f%% answered 503, %.0f%% unanswered; one 'authd run --replace' half-way\n\n",
		elapsed.Round(time.Second), s.o.clients, s.o.profiles, 100*s.o.failRate, 100*s.o.hangRate)

	fmt.Printf("%-22s %10s %10s %10s %10s %10s\n", "calls", "made", "failed:", "by faults", "by logouts", "otherwise")
	var unexpectedTotal int64
	var examples []string
	for _, row := range []struct {
		name string
		t    *tally
	}{{"GetToken (clients)", &s.tokens}, {"forced refreshes", &s.forced}, {"logins", &s.logins}, {"logouts", &s.logouts}, {"reloads", &s.reloads}} {
		t := row.t
		other := t.failed[unexpected].Load()
		unexpectedTotal += other
		fmt.Printf("%-22s %10d %10d %10d %10d %10d", row.name, t.calls.Load(), t.failedTotal(), t.failed[byFault].Load(), t.failed[byLogout].Load(), other)
		if n := t.failed[byReplace].Load(); n > 0 {
			fmt.Printf("   (%d logins cut by the replace: SHUTTING_DOWN, run again)", n)
		}
		fmt.Println()
		examples = append(examples, t.examples...)
	}
	fmt.Printf("calls failed other than by the injected faults, the soak's logouts or a login cut by the replace: %d (must be 0)  %s\n", unexpectedTotal, check(unexpectedTotal == 0))
	for _, e := range examples {
		fmt.Printf("  e.g. %s\n", e)
	}

	var inj idptest.Injected
	for _, p := range s.proxies {
		i := p.Injected()
		inj.Failed, inj.Hung = inj.Failed+i.Failed, inj.Hung+i.Hung
	}
	requests, distinct, reused := s.refreshRequests()
	perRefresh := 0.0
	if distinct > 0 {
		perRefresh = float64(requests) / float64(distinct)
	}
	fmt.Printf("\nprovider: %d faults injected (%d answered 503, %d unanswered)\n", inj.Failed+inj.Hung, inj.Failed, inj.Hung)
	fmt.Printf("provider: %d refresh requests reached it for %d refresh tokens: %.2f requests per refresh (must be 1), %d tokens redeemed more than once  %s\n",
		requests, distinct, perRefresh, reused, check(distinct > 0 && reused == 0))

	fmt.Println()
	w := s.replaceWindow()
	switch {
	case replaceErr != nil:
		fmt.Printf("replace: %v  %s\n", replaceErr, check(false))
	case next == nil:
		fmt.Printf("replace: not reached\n")
	default:
		fmt.Printf("replace: at +%s, pid %d by pid %d; the old daemon exited %s after 'authd run --replace' started  %s\n",
			w[0].Sub(start).Round(time.Second), first.pid(), next.pid(), w[1].Sub(w[0]).Round(time.Millisecond), check(true))
		lines := s.logLines(w[0].Add(-time.Second), w[1].Add(2*time.Second))
		// Of that, the new daemon's own start (under -race, with the
		// load's clients busy, seconds) and the switch itself.
		if took, ok := lineTime(lines, "took the socket over"); ok {
			fmt.Printf("replace: the new daemon took the socket over %s after it was started; the old one exited %s after that\n",
				took.Sub(w[0]).Round(time.Millisecond), w[1].Sub(took).Round(time.Millisecond))
		}
		fmt.Printf("replace: transcript (authd's log, both daemons):\n")
		for _, line := range lines {
			fmt.Printf("  %s\n", line)
		}
	}

	fmt.Printf("\ndaemon usage (goroutines, threads, open fds, RSS) from the end of its warm-up (%s) to the end of its run; flat: at most +%d threads, +%.0f%% fds, +%.0f%% RSS\n",
		warmup.Round(time.Second), moreThreads, 100*moreFDsShare, 100*moreRSSShare)
	if s.o.race {
		fmt.Printf("  (authd is built with the race detector: RSS is reported, not judged)\n")
	}
	for _, d := range []*daemon{first, next} {
		if d == nil {
			continue
		}
		// The old daemon's run ends when the replace begins: then it drains.
		from, until := start.Add(warmup), w[0]
		if d == next {
			from, until = w[1].Add(warmup), time.Time{}
		}
		a, b, has := smp.span(d.pid(), from, until)
		if !has {
			fmt.Printf("  pid %d: no sample after its warm-up\n", d.pid())
			continue
		}
		fmt.Printf("  pid %d: start (+%s) %s\n", d.pid(), a.at.Sub(start).Round(time.Second), a)
		fmt.Printf("  pid %d: end   (+%s) %s  %s\n", d.pid(), b.at.Sub(start).Round(time.Second), b, check(flat(a, b, !s.o.race)))
	}

	if idle.err != nil {
		fmt.Printf("  goroutines once the load left: no answer: %v  %s\n", idle.err, check(false))
	} else {
		fmt.Printf("  goroutines with no load: %d before it, %d once its clients left (at most +%d)  %s\n",
			idle.before, idle.after, moreGoroutines, check(idle.after <= idle.before+moreGoroutines))
	}

	fmt.Println()
	for _, d := range []*daemon{first, next} {
		if d == nil {
			continue
		}
		<-d.exited
		fmt.Printf("pid %d exited: %s  %s\n", d.pid(), exitText(d.err), check(d.err == nil))
	}
	races := s.countLog("WARNING: DATA RACE")
	fmt.Printf("data races reported in authd's log: %d  %s\n", races, check(races == 0))
	fmt.Printf("\nresult: %s\n", verdict(ok))
	return ok
}

func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// refreshRequests reads the provider's token requests: the refresh ones,
// the distinct refresh tokens they carried, and how many of those came
// more than once.
func (s *soak) refreshRequests() (requests, distinct, reused int) {
	seen := map[string]int{}
	for _, form := range s.idp.TokenRequests() {
		if form.Get("grant_type") == "refresh_token" {
			requests++
			seen[form.Get("refresh_token")]++
		}
	}
	for _, n := range seen {
		if n > 1 {
			reused++
		}
	}
	return requests, len(seen), reused
}

// lineTime is the time of the first of lines that says what.
func lineTime(lines []string, what string) (time.Time, bool) {
	for _, line := range lines {
		if strings.Contains(line, what) {
			at, err := stampOf(line)
			return at, err == nil
		}
	}
	return time.Time{}, false
}

// stampOf is the time of a line of authd's log.
func stampOf(line string) (time.Time, error) {
	stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
	return time.Parse(time.RFC3339Nano, stamp)
}

// logLines returns the lines of authd's log from..to about the replace and
// the stop.
func (s *soak) logLines(from, to time.Time) []string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		at, err := stampOf(line)
		if err != nil || at.Before(from) || at.After(to) {
			continue
		}
		for _, what := range []string{"took the socket over", "msg=stopping", "msg=stopped", "replaced authd", "msg=serving", "socket", "login cancelled"} {
			if strings.Contains(line, what) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

func (s *soak) countLog(what string) int {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return -1
	}
	return strings.Count(string(b), what)
}

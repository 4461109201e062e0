//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/idptest"
)

// mainDaemon is the daemon of sections 1 and 2: one profile "work" on a
// provider whose tokens live an hour, logged in, so that every call is
// served from the cache.
func (b *bench) mainDaemon(ctx context.Context) (*daemon, error) {
	if b.main != nil {
		return b.main, nil
	}
	idp, err := b.provider(time.Hour)
	if err != nil {
		return nil, err
	}
	d, err := b.daemon(ctx, "main", []profile{{name: "work", issuer: idp.Issuer()}})
	if err != nil {
		return nil, err
	}
	if err := d.login(ctx, "work"); err != nil {
		return nil, err
	}
	b.main, b.mainIDP = d, idp
	return d, nil
}

// provider starts a test provider stopped with the bench.
func (b *bench) provider(lifetime time.Duration) (*idptest.Provider, error) {
	idp, err := idptest.Start(idptest.Options{AccessTokenLifetime: lifetime})
	if err != nil {
		return nil, err
	}
	b.clean.add(func() { _ = idp.Close() })
	return idp, nil
}

// daemon starts an authd stopped with the bench, its files under work/name.
func (b *bench) daemon(ctx context.Context, name string, profiles []profile) (*daemon, error) {
	d, err := newDaemon(ctx, filepath.Join(b.bin, "authd"), filepath.Join(b.work, name), profiles)
	if d != nil {
		b.clean.add(d.stop)
	}
	return d, err
}

func tokenCall(c *client.Client, profile string, minValid time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		tok, err := c.Token(ctx, client.TokenOptions{Profile: profile, MinValid: minValid})
		if err == nil && tok.AccessToken == "" {
			err = errors.New("empty access token")
		}
		return err
	}
}

// environ is the environment of the commands hyperfine runs: no authd
// variables but those given.
func environ(set ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHD_") && !strings.HasPrefix(kv, "GODEBUG=") {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// startup is section 1: authc's whole-process time beside the floors.
func (b *bench) startup(ctx context.Context) error {
	d, err := b.mainDaemon(ctx)
	if err != nil {
		return err
	}
	rawSock := filepath.Join(b.work, "raw.sock")
	ln, err := net.Listen("unix", rawSock)
	if err != nil {
		return err
	}
	defer ln.Close()
	go serveRawEcho(ln)

	authc, hello, raw := filepath.Join(b.bin, "authc"), filepath.Join(b.bin, "hello"), filepath.Join(b.bin, "rawclient")
	env := environ("AUTHD_SOCKET="+d.sock, "AUTHD_CONFIG="+d.config)
	for _, args := range [][]string{{authc, "token"}, {raw, rawSock}} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil || len(out) < 100 {
			return fmt.Errorf("%s: %v (%d bytes out)", strings.Join(args, " "), err, len(out))
		}
	}

	// hyperfine runs one command's runs after the other's: a change in
	// the machine's load would fall on one command only. Rounds, each in
	// another order, spread it over all of them.
	commands := []timedCommand{
		{"authc token", authc + " token"},
		{"authc help", authc + " help"},
		{"static print floor", hello},
		{"raw socket floor", raw + " " + rawSock},
	}
	rounds := b.plan.hyperfineRounds
	times, cpu, err := b.hyperfineRounds(ctx, "hyperfine", true, env, commands)
	if err != nil {
		return err
	}
	res := [][]float64{times["authc token"], times["authc help"], times["static print floor"], times["raw socket floor"]}
	tokenS, helpS, helloS, rawS := interquartile(res[0]), interquartile(res[1]), interquartile(res[2]), interquartile(res[3])
	runs := fmt.Sprintf("%d runs in %d rounds, %d warm-up, hyperfine -N", len(res[0]), rounds, b.plan.hyperfineWarmup/rounds*rounds)
	b.add("1", "`authc token`, cached token, whole process ("+runs+")", tokenS.format(timeUnit))
	b.add("1", "`authc help`: the same binary's start-up, no socket", helpS.format(timeUnit))
	b.add("1", "floor: static binary printing 1 KiB", helloS.format(timeUnit))
	b.add("1", "floor: static binary, one raw request/response on a Unix socket (1 KiB answer)", rawS.format(timeUnit))
	ratio := tokenS.Median / rawS.Median
	b.check("1", "ratio authc token / raw-socket floor (medians)", fmt.Sprintf("%.2fx", ratio), "≤ 1.1x", ratio <= 1.1)
	cpuOf := func(name string) float64 { return cpu[name] / float64(rounds) }
	b.add("1", "CPU time per run (user+sys, hyperfine's mean): authc token · authc help · print floor · raw floor; ratio authc token / raw floor",
		fmt.Sprintf("%s · %s · %s · %s; %.2fx", formatSeconds(cpuOf("authc token")), formatSeconds(cpuOf("authc help")),
			formatSeconds(cpuOf("static print floor")), formatSeconds(cpuOf("raw socket floor")), cpuOf("authc token")/cpuOf("raw socket floor")))
	b.add("1", "authc token − raw floor: start-up (authc help − print floor) + the call (the rest)",
		fmt.Sprintf("%s = %s + %s", formatSeconds(tokenS.Median-rawS.Median), formatSeconds(helpS.Median-helloS.Median),
			formatSeconds((tokenS.Median-rawS.Median)-(helpS.Median-helloS.Median))))
	return nil
}

// inProcess is section 2: GetToken through the client package against a
// plain gRPC echo service, at each concurrency.
func (b *bench) inProcess(ctx context.Context) error {
	d, err := b.mainDaemon(ctx)
	if err != nil {
		return err
	}
	c, err := d.client()
	if err != nil {
		return err
	}
	defer c.Close()
	echo, err := startEchoServer(ctx, filepath.Join(b.work, "echo.sock"))
	if err != nil {
		return err
	}
	defer echo.stop()
	conn, err := dialEcho(echo.sock)
	if err != nil {
		return err
	}
	defer conn.Close()
	services := []struct {
		name string
		call func(context.Context) error
	}{
		{"authd GetToken", tokenCall(c, "work", 0)},
		{"gRPC echo", echoCall(conn)},
	}
	tok, err := c.Token(ctx, client.TokenOptions{Profile: "work"})
	if err != nil {
		return err
	}
	b.note("Section 2: one shared client per service: package client (its own pool of connections) for authd, one grpc-go ClientConn for the echo; each point is %d × %s closed-loop runs, authd and echo interleaved. The access token is %d bytes; the echo answer %d.",
		b.plan.repeats, b.plan.pointTime, len(tok.AccessToken), answerSize)
	rates := map[string]map[int]spread{}
	for _, n := range b.plan.concurrency {
		runs := map[string][]load{}
		for _, s := range services {
			closedLoop(ctx, n, b.plan.pointTime/4, 0, false, s.call) // warm-up
		}
		for range b.plan.repeats {
			for _, s := range services {
				l := closedLoop(ctx, n, b.plan.pointTime, 0, true, s.call)
				if l.errors > 0 {
					return fmt.Errorf("%s at %d callers: %d errors, first: %w", s.name, n, l.errors, l.firstErr)
				}
				runs[s.name] = append(runs[s.name], l)
			}
		}
		for _, s := range services {
			var p50, p99, rate []float64
			for _, l := range runs[s.name] {
				p50, p99, rate = append(p50, l.p(0.5)), append(p99, l.p(0.99)), append(rate, l.rate())
			}
			if rates[s.name] == nil {
				rates[s.name] = map[int]spread{}
			}
			rates[s.name][n] = overRepeats(rate)
			b.add("2", fmt.Sprintf("%s, %d %s: p50 · p99 · calls/s", s.name, n, plural(n, "caller")),
				fmt.Sprintf("%s · %s · %s", overRepeats(p50).format(timeUnit), overRepeats(p99).format(timeUnit), overRepeats(rate).format(rateUnit)))
		}
	}
	if a, e := rates["authd GetToken"][64], rates["gRPC echo"][64]; e.Median > 0 {
		ratio := a.Median / e.Median
		b.check("2", "ratio authd / echo calls/s at 64 callers", fmt.Sprintf("%.2fx", ratio), "≥ 0.8x", ratio >= 0.8)
	}
	return nil
}

// counts are a provider's request counters.
type counts struct{ token, refresh, discovery, jwks int }

func countsOf(idp *idptest.Provider) counts {
	return counts{idp.Count(idptest.EndpointToken), idp.Count(idptest.EndpointTokenRefresh), idp.Count(idptest.EndpointDiscovery), idp.Count(idptest.EndpointJWKS)}
}

func (c counts) minus(o counts) counts {
	return counts{c.token - o.token, c.refresh - o.refresh, c.discovery - o.discovery, c.jwks - o.jwks}
}

// stormSummary is what a storm's callers saw.
type stormSummary struct {
	calls, slow, waited, callersWaited, errors int
	firstErr                                   error
	lat                                        []float64 // sorted seconds
}

// summarise counts the calls slower than delay, and among them those in
// flight while a token request was (they waited on the provider).
func summarise(res []callerResult, delay time.Duration, requests []interval) stormSummary {
	var s stormSummary
	var lats []time.Duration
	for _, r := range res {
		w := 0
		for _, c := range r.calls {
			lats = append(lats, c.lat)
			if c.lat <= delay {
				continue
			}
			s.slow++
			for _, iv := range requests {
				if c.overlaps(iv) {
					w++
					break
				}
			}
		}
		s.waited += w
		if w > 0 {
			s.callersWaited++
		}
		if r.err != nil {
			s.errors++
			if s.firstErr == nil {
				s.firstErr = r.err
			}
		}
	}
	s.calls = len(lats)
	s.lat = durations(lats)
	return s
}

func (s stormSummary) latency() string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s", formatSeconds(quantile(s.lat, 0.5)), formatSeconds(quantile(s.lat, 0.99)), formatSeconds(quantile(s.lat, 1)))
}

// stormCounts adds the provider request rows of one storm run.
func (b *bench) stormCounts(label string, got counts) {
	b.check("3", label+": token requests (refresh grants)", fmt.Sprintf("%d (%d)", got.token, got.refresh), "1", got.token == 1)
	b.check("3", label+": discovery · JWKS requests", fmt.Sprintf("%d · %d", got.discovery, got.jwks), "0 · 0", got.discovery == 0 && got.jwks == 0)
}

func (b *bench) stormErrors(label string, s stormSummary) {
	if s.errors > 0 {
		b.note("Section 3, %s: %d callers got an error; the first: %v", label, s.errors, s.firstErr)
	}
}

// storm is section 3: 1000 callers with the token endpoint behind a delay.
func (b *bench) storm(ctx context.Context) error {
	p := b.plan
	idp, err := b.provider(p.stormLifetime)
	if err != nil {
		return err
	}
	px, err := startProxy(idp.Issuer())
	if err != nil {
		return err
	}
	b.clean.add(px.Close)
	px.delay.Store(int64(p.proxyDelay))
	d, err := b.daemon(ctx, "storm", []profile{{name: "work", issuer: idp.Issuer(), tokenEndpoint: px.URL() + tokenPath, timeout: 10 * time.Second}})
	if err != nil {
		return err
	}
	if err := d.login(ctx, "work"); err != nil {
		return err
	}
	newCallers := func() ([]func(context.Context) error, func(), error) {
		var clients []*client.Client
		closeAll := func() {
			for _, c := range clients {
				c.Close()
			}
		}
		calls := make([]func(context.Context) error, p.stormCallers)
		for i := range calls {
			c, err := d.client()
			if err != nil {
				closeAll()
				return nil, func() {}, err
			}
			clients = append(clients, c)
			calls[i] = tokenCall(c, "work", p.stormMinValid)
		}
		return calls, closeAll, nil
	}
	calls, closeCallers, err := newCallers()
	if err != nil {
		return err
	}
	defer func() { closeCallers() }()
	// Connect every caller (one connection each, as separate processes
	// would have) while the token is fresh.
	for _, r := range burst(calls, 30*time.Second) {
		if r.err != nil {
			return fmt.Errorf("warm-up: %w", r.err)
		}
	}
	b.note("Section 3: provider access tokens live %s; the token endpoint is behind a proxy adding %s; %d callers, one connection each, ask with min_valid %s. In (b) a call waited on the provider when it was slower than the proxy delay and in flight while a token request was; the calls slower than the delay at any time show the machine's noise.",
		p.stormLifetime, p.proxyDelay, p.stormCallers, p.stormMinValid)

	// (b) Continuous callers across the proactive refresh point.
	st, err := d.status(ctx, "work")
	if err != nil {
		return err
	}
	next := st.NextRefresh
	if st.NextRefresh.IsZero() || time.Until(next) < 3*time.Second {
		return fmt.Errorf("proactive refresh not scheduled far enough ahead (next_refresh %v)", st.NextRefresh)
	}
	log.Printf("   (b) paced callers across the proactive refresh at %s", next.Format("15:04:05.000"))
	if err := sleepUntil(ctx, next.Add(-2*time.Second)); err != nil {
		return err
	}
	before := countsOf(idp)
	from := time.Now()
	res := paced(calls, next.Add(2*time.Second), p.pacedPause, 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	label := "(b) continuous callers across the proactive refresh"
	b.stormCounts(label, countsOf(idp).minus(before))
	sum := summarise(res, p.proxyDelay, px.forwardedSince(from))
	b.check("3", fmt.Sprintf("%s: calls that waited on the provider (slower than %s while a token request was in flight)", label, p.proxyDelay),
		fmt.Sprintf("%d of %d calls (%d callers)", sum.waited, sum.calls, sum.callersWaited), "0", sum.waited == 0)
	b.add("3", label+": latency of all calls; calls slower than the delay at any time (load noise)",
		fmt.Sprintf("%s; %d", sum.latency(), sum.slow))
	b.stormErrors(label, sum)

	// (a) The machine sleeps across expiry: SIGSTOP, SIGCONT, then everyone at once.
	st, err = d.status(ctx, "work")
	if err != nil {
		return err
	}
	expiry := st.Expiry
	log.Printf("   (a) daemon stopped (SIGSTOP) until the token expires at %s", expiry.Format("15:04:05.000"))
	before = countsOf(idp)
	if err := d.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	err = sleepUntil(ctx, expiry.Add(500*time.Millisecond))
	if cerr := d.signal(syscall.SIGCONT); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	res = burst(calls, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	label = "(a) all at once after expiry, daemon SIGSTOPped across it"
	b.stormCounts(label, countsOf(idp).minus(before))
	sum = summarise(res, p.proxyDelay, nil)
	b.add("3", fmt.Sprintf("%s: callers slower than the %s delay (all wait: the token is expired); latency", label, p.proxyDelay),
		fmt.Sprintf("%d of %d; %s", sum.slow, sum.calls, sum.latency()))
	b.stormErrors(label, sum)

	// (a') The daemon restarts after expiry: its caches are cold.
	st, err = d.status(ctx, "work")
	if err != nil {
		return err
	}
	closeCallers()
	closeCallers = func() {}
	expiry = st.Expiry
	log.Printf("   (a') daemon stopped until the token expires at %s, then restarted", expiry.Format("15:04:05.000"))
	d.stop()
	if err := sleepUntil(ctx, expiry.Add(500*time.Millisecond)); err != nil {
		return err
	}
	before = countsOf(idp)
	if err := d.start(ctx); err != nil {
		return err
	}
	calls, closeCallers, err = newCallers()
	if err != nil {
		return err
	}
	res = burst(calls, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	got := countsOf(idp).minus(before)
	label = "(a') all at once after expiry, daemon restarted (cold caches)"
	sum = summarise(res, p.proxyDelay, nil)
	b.add("3", label+": token · discovery · JWKS requests; latency with connection set-up",
		fmt.Sprintf("%d · %d · %d; %s", got.token, got.discovery, got.jwks, sum.latency()))
	b.stormErrors(label, sum)
	d.stop()
	return nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// memory is section 4: RSS of a fresh daemon idle after login, then after
// each of two million GetToken calls at 64 callers.
func (b *bench) memory(ctx context.Context) error {
	p := b.plan
	if b.mainIDP == nil {
		if _, err := b.mainDaemon(ctx); err != nil {
			return err
		}
	}
	d, err := b.daemon(ctx, "rss", []profile{{name: "work", issuer: b.mainIDP.Issuer()}})
	if err != nil {
		return err
	}
	defer d.stop()
	if err := d.login(ctx, "work"); err != nil {
		return err
	}
	time.Sleep(time.Second)
	idle, err := d.sampleRSS(5, 200*time.Millisecond)
	if err != nil {
		return err
	}
	b.check("4", "daemon RSS idle after login (5 samples)", idle.format(mibUnit), "≤ 16 MiB", idle.Median <= 16<<20)
	c, err := d.client()
	if err != nil {
		return err
	}
	defer c.Close()
	call := tokenCall(c, "work", 0)
	var after []spread
	for i := range 2 {
		l := closedLoop(ctx, 64, p.millionCap, p.million, false, call)
		if l.errors > 0 {
			return fmt.Errorf("million %d: %d errors, first: %w", i+1, l.errors, l.firstErr)
		}
		if l.calls < p.million {
			b.note("Section 4: million %d stopped at the %s cap after %d calls.", i+1, p.millionCap, l.calls)
		}
		rss, err := d.sampleRSS(5, 200*time.Millisecond)
		if err != nil {
			return err
		}
		after = append(after, rss)
		b.add("4", fmt.Sprintf("%s: %d GetToken calls at 64 callers took", ordinal(i), l.calls), fmt.Sprintf("%s (%s)", l.elapsed.Round(10*time.Millisecond), formatRate(l.rate())))
		if i == 0 {
			b.check("4", "daemon RSS after the first million", rss.format(mibUnit), "≤ 24 MiB", rss.Median <= 24<<20)
		} else {
			b.add("4", "daemon RSS after the second million", rss.format(mibUnit))
		}
	}
	growth := after[1].Median - after[0].Median
	b.check("4", "RSS growth over the second million (medians)", fmt.Sprintf("%+.1f MiB", growth/(1<<20)), "none (≤ +1 MiB)", growth <= 1<<20)
	return nil
}

func ordinal(i int) string { return [...]string{"first million", "second million"}[i] }

// isolation is section 5: one provider hung, the other profile's p99.
func (b *bench) isolation(ctx context.Context) error {
	p := b.plan
	goodIDP, err := b.provider(time.Hour)
	if err != nil {
		return err
	}
	stuckIDP, err := b.provider(time.Hour)
	if err != nil {
		return err
	}
	px, err := startProxy(stuckIDP.Issuer())
	if err != nil {
		return err
	}
	b.clean.add(px.Close)
	d, err := b.daemon(ctx, "isolation", []profile{
		{name: "good", issuer: goodIDP.Issuer()},
		// The hung refresh outlives the measurement: 2 × timeout.
		{name: "stuck", issuer: stuckIDP.Issuer(), tokenEndpoint: px.URL() + tokenPath, timeout: time.Minute},
	})
	if err != nil {
		return err
	}
	defer d.stop()
	for _, name := range []string{"good", "stuck"} {
		if err := d.login(ctx, name); err != nil {
			return err
		}
	}
	c, err := d.client()
	if err != nil {
		return err
	}
	defer c.Close()
	good := tokenCall(c, "good", 0)
	measure := func() (float64, error) {
		l := closedLoop(ctx, p.isolationCallers, p.pointTime, 0, true, good)
		if l.errors > 0 {
			return 0, fmt.Errorf("profile good: %d errors, first: %w", l.errors, l.firstErr)
		}
		return l.p(0.99), nil
	}
	closedLoop(ctx, p.isolationCallers, p.pointTime/4, 0, false, good) // warm-up

	// Baseline and pressed runs alternate, so that a change in the
	// machine's load shows in both. The provider stays hung from the first
	// pressed run on: its refresh outlives the bench.
	var base, hung []float64
	var stuck pressCounts
	for range p.isolationRepeats {
		p99, err := measure()
		if err != nil {
			return err
		}
		base = append(base, p99)
		px.hang.Store(true)
		pr, err := startPresser(d.sock, "stuck", p.stuckCallers)
		if err != nil {
			return err
		}
		// Every stuck caller has connected and is waiting before the run.
		time.Sleep(1500 * time.Millisecond)
		p99, err = measure()
		counts, perr := pr.stop()
		if err != nil {
			return err
		}
		if perr != nil {
			return perr
		}
		stuck.calls, stuck.deadline, stuck.other = stuck.calls+counts.calls, stuck.deadline+counts.deadline, stuck.other+counts.other
		hung = append(hung, p99)
	}
	bs, hs := overRepeats(base), overRepeats(hung)
	b.add("5", fmt.Sprintf("profile good, %d callers: p99 GetToken, baseline (nobody asks the other profile)", p.isolationCallers), bs.format(timeUnit))
	b.add("5", fmt.Sprintf("same, while %d callers press profile stuck (provider hung, each asking for a forced refresh)", p.stuckCallers), hs.format(timeUnit))
	ratio := hs.Median / bs.Median
	b.check("5", "ratio p99 with the other provider hung / baseline", fmt.Sprintf("%.2fx", ratio), "≤ 1.5x", ratio <= 1.5)
	b.note("Section 5: %d × %s runs each, baseline and pressed alternating; the first baseline is before the hang, the others with the hung refresh in flight but no caller on it. The stuck callers run in a process of their own, each on its own connection, starting at random offsets so that their 1 s deadlines do not fall in step. They made %d calls: %d hit the deadline, %d failed otherwise, the rest were answered.",
		p.isolationRepeats, p.pointTime, stuck.calls, stuck.deadline, stuck.other)
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// timedCommand is a command line hyperfine times, under a name.
type timedCommand struct{ name, line string }

// hyperfineRounds times commands with hyperfine in b.plan's rounds, each
// round in another order, so that a change in the machine's load falls on
// all of them (hyperfine runs one command's runs after another's). direct
// runs them without a shell (-N); else through sh, whose start hyperfine
// subtracts. It returns every run's seconds and the mean user+sys seconds
// per run summed over the rounds, by name.
func (b *bench) hyperfineRounds(ctx context.Context, tag string, direct bool, env []string, commands []timedCommand) (times map[string][]float64, cpu map[string]float64, err error) {
	rounds := b.plan.hyperfineRounds
	times, cpu = map[string][]float64{}, map[string]float64{}
	for round := range rounds {
		jsonPath := filepath.Join(b.work, fmt.Sprintf("%s-%d.json", tag, round+1))
		args := []string{"--style", "basic",
			"--warmup", strconv.Itoa(b.plan.hyperfineWarmup / rounds), "--runs", strconv.Itoa(b.plan.hyperfineRuns / rounds),
			"--export-json", jsonPath}
		if direct {
			args = append(args, "-N")
		}
		for i := range commands {
			c := commands[(i+round)%len(commands)]
			args = append(args, "-n", c.name, c.line)
		}
		cmd := exec.CommandContext(ctx, "hyperfine", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("hyperfine %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		data, err := os.ReadFile(jsonPath)
		if err != nil {
			return nil, nil, err
		}
		res, err := parseHyperfine(data)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range res {
			times[r.Command] = append(times[r.Command], r.Times...)
			cpu[r.Command] += r.User + r.System
		}
	}
	for _, c := range commands {
		if len(times[c.name]) == 0 {
			return nil, nil, fmt.Errorf("hyperfine: no times for %s", c.name)
		}
	}
	return times, cpu, nil
}

//go:build linux

// Command soak runs authd for a long while under a load that keeps
// changing, and reports whether it held up: scripts/soak.sh builds authd
// (with -race if asked) and runs it.
//
//	go run ./tools/soak --authd PATH [--duration 10m] [--clients 1000] [--profiles 4]
//
// # The load
//
// One test OpenID provider (internal/idptest, refresh tokens rotated on
// every use, a reused one revoking the grant) serves every profile; each
// profile's token endpoint is behind a fault proxy of its own that fails
// 5% of the requests (503) and leaves 1% unanswered, half of those after
// the provider redeemed them (idptest.Chaos).
// The daemon is the real authd binary, a process of its own on a Unix
// socket, with a file keyring. Once every profile is logged in:
//
//   - clients (1000 by default), each a client.Client with connections of
//     its own, call GetToken back to back, spread over the profiles;
//   - every profile gets a forced refresh (force_refresh) every 500 ms;
//   - a watcher logs in again any profile that needs it (a refresh the
//     provider left unanswered is never sent again: see internal/broker);
//   - every 20 s one profile is logged out, then logged in again;
//   - every 15 s the config is reloaded (client.Reload), adding or removing
//     a profile no client uses: the sessions of the others are kept;
//   - half-way, 'authd run --replace' takes the socket over.
//
// Logins fill the provider's login form over plain HTTP, as the daemon
// tests do.
//
// # The report
//
// Calls made; calls failed, by cause: injected faults (IDP_UNAVAILABLE or
// LOGIN_FAILED within 30 s of a fault on that profile; LOGIN_REQUIRED
// after a hung refresh, until the next login), the soak's own logouts
// (LOGIN_REQUIRED while logged out), the replace (a login cut with
// SHUTTING_DOWN, as documented), and anything else, which must be 0.
// Provider requests per refresh: the refresh requests that reached the
// provider over the distinct refresh tokens they carried, which must be 1
// (no refresh token is ever redeemed twice). The daemon's goroutines (from
// Status), threads, open file descriptors and RSS (from /proc) at the
// start and end of each daemon's run, after a warm-up: flat means at most
// 8 more threads, 10% (and 32) more fds, and 25% (and 16 MiB) more RSS;
// with --race, RSS is not judged (the race detector's memory grows with
// every goroutine and allocation). Goroutines under load go with the calls
// in flight, so they are judged idle: once the clients have left, the last
// daemon must come back to at most 20 more than the first had before the
// load. The daemons must exit 0 (a race detector report makes it 66). The
// exit status is 1 when a check fails.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/idptest"
)

type options struct {
	authd              string
	duration, lifetime time.Duration
	clients, profiles  int
	failRate, hangRate float64
	work               string
	race               bool
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("soak: ")
	var o options
	flag.StringVar(&o.authd, "authd", "", "the authd binary (required)")
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the load runs")
	flag.DurationVar(&o.lifetime, "lifetime", time.Minute, "the provider's access token lifetime")
	flag.IntVar(&o.clients, "clients", 1000, "clients calling GetToken in a loop")
	flag.IntVar(&o.profiles, "profiles", 4, "profiles")
	flag.Float64Var(&o.failRate, "fail", 0.05, "share of token endpoint requests answered 503")
	flag.Float64Var(&o.hangRate, "hang", 0.01, "share of token endpoint requests never answered")
	flag.BoolVar(&o.race, "race", false, "authd is built with the race detector: its RSS, which the detector's own memory swells, is reported and not judged")
	flag.StringVar(&o.work, "work", "", "directory for the config, keyring, socket and logs (default: a temporary one, removed unless a check fails)")
	flag.Parse()
	if o.authd == "" || flag.NArg() > 0 {
		log.Fatal("usage: soak --authd PATH [--duration 10m] [--clients 1000] [--profiles 4]")
	}
	ok, err := run(o)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		os.Exit(1)
	}
}

// soak is one run.
type soak struct {
	o        options
	dir      string
	sock     string
	config   string
	logPath  string
	idp      *idptest.Provider
	proxies  []*idptest.FaultProxy
	profiles []*profile

	current atomic.Pointer[daemon] // the daemon serving

	replaceMu sync.Mutex
	replace   [2]time.Time // when the replace began, and when the old daemon had exited

	tokens, forced, logins, logouts, reloads tally
}

func run(o options) (bool, error) {
	s := &soak{o: o}
	if o.work == "" {
		dir, err := os.MkdirTemp("", "authd-soak-")
		if err != nil {
			return false, err
		}
		s.dir = dir
	} else {
		s.dir = o.work
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return false, err
		}
	}
	s.sock, s.config, s.logPath = filepath.Join(s.dir, "run", "authd.sock"), filepath.Join(s.dir, "config.toml"), filepath.Join(s.dir, "authd.log")
	idp, err := idptest.Start(idptest.Options{AccessTokenLifetime: o.lifetime})
	if err != nil {
		return false, err
	}
	defer idp.Close()
	s.idp = idp
	for i := range o.profiles {
		p, err := idptest.StartFaultProxy(idp.Issuer())
		if err != nil {
			return false, err
		}
		defer p.Close()
		s.proxies = append(s.proxies, p)
		s.profiles = append(s.profiles, &profile{name: fmt.Sprintf("p%d", i+1)})
	}
	if err := s.writeConfig(false); err != nil {
		return false, err
	}
	ctx := context.Background()
	d, err := startDaemon(o.authd, s.logPath, "--config", s.config, "--socket", s.sock, "--log-level", "info")
	if err != nil {
		return false, err
	}
	defer d.stop()
	if err := d.waitServing(ctx, s.sock); err != nil {
		return false, fmt.Errorf("%w; log: %s", err, s.logPath)
	}
	s.current.Store(d)
	c, err := client.New(client.WithSocket(s.sock))
	if err != nil {
		return false, err
	}
	defer c.Close()
	for _, p := range s.profiles {
		if err := login(c, p); err != nil {
			return false, fmt.Errorf("first login of %s: %w", p.name, err)
		}
	}
	for i, p := range s.proxies {
		p.SetChaos(&idptest.Chaos{FailRate: o.failRate, HangRate: o.hangRate, OnInject: s.profiles[i].fault})
	}
	log.Printf("%d clients over %d profiles for %s; authd pid %d; files in %s", o.clients, o.profiles, o.duration, d.pid(), s.dir)

	// The goroutines of a daemon with every profile logged in and no
	// load: the load's clients leave, and the last daemon must come back
	// to about as many (idleAfter).
	// probe asks for them one call at a time, on one connection; the
	// actors' client c is closed before the count after.
	probe, err := client.New(client.WithSocket(s.sock))
	if err != nil {
		return false, err
	}
	defer probe.Close()
	idleBefore, _, err := goroutines(probe)
	if err != nil {
		return false, fmt.Errorf("status: %w", err)
	}
	start := time.Now()
	warmup := min(20*time.Second, o.duration/6)
	smp := &sampler{c: probe}
	smp.watch(d.pid())
	loadCtx, stopLoad := context.WithTimeout(ctx, o.duration)
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Go(func() { smp.run(loadCtx, time.Second) })
	s.startClients(loadCtx, &wg)
	s.startActors(loadCtx, &wg, c)

	var next *daemon
	var replaceErr error
	select {
	case <-time.After(o.duration / 2):
		next, replaceErr = s.replaceDaemon(ctx, smp)
		if next != nil {
			defer next.stop()
		}
	case <-loadCtx.Done():
	}
	<-loadCtx.Done()
	smp.take()
	wg.Wait()
	elapsed := time.Since(start)
	c.Close()
	idle := s.idleAfter(probe, idleBefore)

	// The daemons' exits: the old one's is known; stop the new one.
	last := s.current.Load()
	last.stop()
	ok := s.report(start, elapsed, warmup, d, next, smp, replaceErr, idle)
	if !ok || o.work != "" {
		log.Printf("files kept in %s", s.dir)
	} else {
		os.RemoveAll(s.dir)
	}
	return ok, nil
}

// idle is the goroutines of the last daemon once the load's clients have
// left, against those of the first before the load.
type idle struct {
	before, after int
	err           error
}

// moreGoroutines is how many more goroutines than before the load a daemon
// may keep once the load has left. The probe's connection is there both
// times; the actors' client, closed by then, had one connection before.
const moreGoroutines = 20

// idleAfter waits (10 s at most) for the daemon serving now to come back
// to about the goroutines it had before the load, the clients having
// closed their connections, and returns the last count it read.
func (s *soak) idleAfter(c *client.Client, before int) idle {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _, err := goroutines(c)
		if err == nil && n <= before+moreGoroutines || time.Now().After(deadline) {
			return idle{before, n, err}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeConfig writes the config, with an extra profile no client uses
// when extra, replacing the file at once.
func (s *soak) writeConfig(extra bool) error {
	pass := filepath.Join(s.dir, "passphrase")
	if err := os.WriteFile(pass, []byte("soak-passphrase\n"), 0o600); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "default_profile = %q\n\n[keyring]\nbackend = \"file\"\nfile_dir = %q\npassphrase_file = %q\n",
		s.profiles[0].name, filepath.Join(s.dir, "keyring"), pass)
	profile := func(name, tokenEndpoint string) {
		fmt.Fprintf(&b, "\n[profiles.%s]\nissuer = %q\nclient_id = %q\ntoken_endpoint = %q\ntimeout = \"2s\"\nlogin_timeout = %q\n",
			name, s.idp.Issuer(), idptest.PublicClientID, tokenEndpoint, loginTimeout.String())
	}
	for i, p := range s.profiles {
		profile(p.name, s.proxies[i].URL()+"/oauth/token")
	}
	if extra {
		profile("extra", s.idp.Issuer()+"/oauth/token")
	}
	tmp := s.config + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.config)
}

func (s *soak) replaceWindow() [2]time.Time {
	s.replaceMu.Lock()
	defer s.replaceMu.Unlock()
	return s.replace
}

// startClients starts the clients calling GetToken back to back.
func (s *soak) startClients(ctx context.Context, wg *sync.WaitGroup) {
	for i := range s.o.clients {
		p := s.profiles[i%len(s.profiles)]
		wg.Go(func() {
			c, err := client.New(client.WithSocket(s.sock))
			if err != nil {
				log.Fatal(err)
			}
			defer c.Close()
			for ctx.Err() == nil {
				t0 := time.Now()
				_, err := c.Token(context.Background(), client.TokenOptions{Profile: p.name})
				s.tokens.record(p, err, t0, s.replaceWindow)
			}
		})
	}
}

// startActors starts what changes the daemon's state while the clients
// call: forced refreshes, logins again when needed, logouts and reloads.
func (s *soak) startActors(ctx context.Context, wg *sync.WaitGroup, c *client.Client) {
	for _, p := range s.profiles {
		every(ctx, wg, 500*time.Millisecond, func() {
			t0 := time.Now()
			_, err := c.Token(context.Background(), client.TokenOptions{Profile: p.name, ForceRefresh: true})
			s.forced.record(p, err, t0, s.replaceWindow)
		})
	}
	every(ctx, wg, 250*time.Millisecond, func() {
		st, err := c.Status(context.Background())
		if err != nil {
			return // the replace, most likely; the clients count the calls
		}
		for _, ps := range st.Profiles {
			for _, p := range s.profiles {
				if p.name == ps.Name && (ps.State == "needs_login" || ps.State == "logged_out") && !p.inLogout() {
					t0 := time.Now()
					s.logins.record(p, login(c, p), t0, s.replaceWindow)
				}
			}
		}
	})
	n := 0
	every(ctx, wg, 20*time.Second, func() {
		p := s.profiles[n%len(s.profiles)]
		n++
		t0 := time.Now()
		p.logoutStarts(t0)
		_, err := c.Logout(context.Background(), p.name, false)
		s.logouts.record(p, err, t0, s.replaceWindow)
		for ctx.Err() == nil {
			t0 := time.Now()
			err := login(c, p)
			s.logins.record(p, err, t0, s.replaceWindow)
			if err == nil {
				break
			}
		}
	})
	extra := false
	every(ctx, wg, 15*time.Second, func() {
		extra = !extra
		if err := s.writeConfig(extra); err != nil {
			log.Fatal(err)
		}
		t0 := time.Now()
		_, err := c.Reload(context.Background())
		s.reloads.record(s.profiles[0], err, t0, s.replaceWindow)
	})
}

// replaceDaemon runs 'authd run --replace' and waits until the old daemon
// has exited and the new one serves.
func (s *soak) replaceDaemon(ctx context.Context, smp *sampler) (*daemon, error) {
	old := s.current.Load()
	began := time.Now()
	s.replaceMu.Lock()
	s.replace[0] = began
	s.replaceMu.Unlock()
	next, err := startDaemon(s.o.authd, s.logPath, "--config", s.config, "--socket", s.sock, "--log-level", "info", "--replace")
	if err != nil {
		return nil, err
	}
	select {
	case <-old.exited:
	case <-next.exited:
		return next, fmt.Errorf("authd run --replace exited: %v", next.err)
	case <-time.After(30 * time.Second):
		return next, errors.New("the replaced authd did not exit within 30s")
	}
	s.replaceMu.Lock()
	s.replace[1] = time.Now()
	s.replaceMu.Unlock()
	if err := next.waitServing(ctx, s.sock); err != nil {
		return next, err
	}
	s.current.Store(next)
	smp.watch(next.pid())
	log.Printf("replaced pid %d by pid %d in %s", old.pid(), next.pid(), time.Since(began).Round(time.Millisecond))
	return next, nil
}

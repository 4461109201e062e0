package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/flow"
	"authd.dev/authd/internal/store"
)

// Store is the keyring as the broker uses it; *store.Keyring implements it.
type Store interface {
	Get(ctx context.Context, key string) (*store.Record, error)
	Put(ctx context.Context, key string, rec *store.Record) error
	Delete(ctx context.Context, key string) error
	Backend() string
}

// Options configure a Broker.
type Options struct {
	ConfigPath string
	// Store overrides the keyring the config names.
	Store Store
	// KeyringService names the keyring's service (collection prefix, keyctl
	// keyring); "authd" when empty.
	KeyringService string
	Logger         *slog.Logger
	Version        string // the daemon's, for Status
	Build          string // how the daemon was built, for Status
	StartedBy      string // who started the daemon, for Status: "autostart" or ""
	Clock          Clock  // the wall clock by default
}

// Broker owns every session of the user.
type Broker struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	mu       sync.RWMutex // guards the fields below; never held across I/O
	cfg      *config.Config
	cfgErr   error // why the config could not be loaded, if it could not
	store    Store
	storeErr error
	sessions map[string]*Session

	// reloadErr is why the last reload failed while an earlier config is
	// still served; nil once a reload succeeds. Status shows it: a user
	// who edited the file must learn that the edit did not take.
	reloadErr error
	// draining: the daemon is stopping (see Drain); sessions made from
	// now on start draining too.
	draining bool

	// reloading is held by the reload in progress: reloads (SIGHUP, the
	// Reload call) run one at a time, each reading the file as it is when
	// it starts, and each reports its changes against the one before.
	reloading chan struct{}

	jumps      *jumpWatch // see clockjump.go
	clockTimer Timer      // the next check of the clocks; guarded by mu
}

// New loads the configuration and opens the keyring. A missing or broken
// config file, or a keyring that cannot be opened, does not stop the daemon:
// requests get a clear error until it is fixed and reloaded.
func New(opts Options) *Broker {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	b := &Broker{opts: opts, log: opts.Logger, ctx: ctx, cancel: cancel, sessions: map[string]*Session{}, reloading: make(chan struct{}, 1),
		jumps: newJumpWatch(opts.Clock)}
	b.Reload()
	b.watchClock()
	return b
}

// loadSessions reads every profile's session from the keyring in the
// background, so that background refresh is armed without waiting for a
// first request.
func (b *Broker) loadSessions() {
	for _, name := range b.Profiles() {
		s, err := b.Session(name)
		if err != nil {
			continue
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			if err := s.load(b.ctx); err != nil {
				b.log.Warn("session not loaded", "profile", name, "err", err)
			}
		}()
	}
}

// Reload is [Broker.ReloadConfig] for a caller that needs no more than
// its error: SIGHUP's.
func (b *Broker) Reload() error {
	_, err := b.ReloadConfig(context.Background())
	return err
}

// Changes are what a reload changed: the profiles it Added, Changed (their
// sessions start over from the keyring) and Removed, each sorted, and
// whether the keyring settings changed (every session starts over then).
type Changes struct {
	ConfigPath              string
	Added, Changed, Removed []string
	KeyringChanged          bool
}

// ReloadError is a reload that failed: the file's Problems (config.Errors,
// one a line, or why it could not be read), and whether the broker Kept
// the configuration it had. It is an invalid configuration to [ReasonOf].
type ReloadError struct {
	Problems error
	Kept     bool
}

func (e *ReloadError) Error() string {
	if e.Kept {
		return "the config file did not reload; authd keeps serving the configuration it had:\n" + e.Problems.Error()
	}
	return "the config file did not load; authd has no configuration to serve until it does:\n" + e.Problems.Error()
}

// Unwrap returns the problems, and the broker's invalid-config condition.
func (e *ReloadError) Unwrap() []error { return []error{errInvalidConfig, e.Problems} }

// ReloadConfig rereads the config file and says what changed. Sessions of
// profiles whose settings did not change are kept, with everything they
// hold in memory; the others start over from the keyring. A file with
// problems is a [*ReloadError], and changes nothing. Reloads run one at a
// time: ctx bounds the wait for the one in progress.
func (b *Broker) ReloadConfig(ctx context.Context) (Changes, error) {
	select {
	case b.reloading <- struct{}{}:
	case <-ctx.Done():
		return Changes{}, fmt.Errorf("reload: waiting for the reload in progress: %w", context.Cause(ctx))
	}
	defer func() { <-b.reloading }()
	ch, err := b.reload()
	if err != nil {
		return Changes{}, err
	}
	b.loadSessions()
	return ch, nil
}

func (b *Broker) reload() (Changes, error) {
	ch := Changes{ConfigPath: b.opts.ConfigPath}
	cfg, err := config.Reader{CheckFile: flow.CheckFile}.Load(b.opts.ConfigPath)
	missing := errors.Is(err, fs.ErrNotExist)
	if missing {
		cfg, err = &config.Config{Path: b.opts.ConfigPath, Profiles: map[string]*config.Profile{}}, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil && b.cfg != nil && len(b.cfg.Profiles) > 0 && len(cfg.Profiles) == 0 && !cfg.ProfilesExplicit {
		// A file caught half-written by an editor, truncated or deleted
		// would otherwise drop every session and switch the keyring to
		// the default backend.
		what := "has no profiles"
		if missing {
			what = "does not exist"
		}
		err = fmt.Errorf("reload %s: the file %s; keeping the %d profiles loaded (write profiles = {} in the file to remove them all)",
			b.opts.ConfigPath, what, len(b.cfg.Profiles))
	}
	if err != nil {
		if b.cfg == nil {
			// Nothing to fall back on: requests report the broken file.
			b.cfgErr = err
		} else {
			b.reloadErr = err
		}
		b.log.Error("config not loaded", "err", err, "kept_previous", b.cfg != nil)
		return ch, &ReloadError{Problems: err, Kept: b.cfg != nil}
	}
	if missing {
		b.log.Info("no config file yet; no profiles", "path", b.opts.ConfigPath)
	}
	keyringChanged := b.cfg != nil && b.cfg.Keyring != cfg.Keyring
	first := b.cfg == nil && b.cfgErr == nil // New's load, not a reload
	if b.store == nil || keyringChanged {
		b.store, b.storeErr = b.openStore(cfg)
		for name, s := range b.sessions {
			s.close()
			delete(b.sessions, name)
		}
	}
	for name, s := range b.sessions {
		if p := cfg.Profiles[name]; p == nil || !sameProfile(p, s.profile) {
			s.close()
			delete(b.sessions, name)
		}
	}
	old := b.cfg
	if old == nil {
		// The file was broken since the start: every profile is new.
		old = &config.Config{}
	}
	ch.Added, ch.Changed, ch.Removed = profileChanges(old, cfg)
	ch.KeyringChanged = keyringChanged
	if !first {
		// SIGHUP and the Reload call log the same line.
		b.log.Info("config reloaded", "added", ch.Added, "changed", ch.Changed, "removed", ch.Removed, "keyring_changed", keyringChanged)
	}
	b.cfg, b.cfgErr, b.reloadErr = cfg, nil, nil
	return ch, nil
}

// profileChanges lists, sorted, the profiles of next that old lacks, those
// whose settings differ, and those of old that next lacks.
func profileChanges(old, next *config.Config) (added, changed, removed []string) {
	for name, p := range next.Profiles {
		switch o := old.Profiles[name]; {
		case o == nil:
			added = append(added, name)
		case !sameProfile(o, p):
			changed = append(changed, name)
		}
	}
	for name := range old.Profiles {
		if next.Profiles[name] == nil {
			removed = append(removed, name)
		}
	}
	slices.Sort(added)
	slices.Sort(changed)
	slices.Sort(removed)
	return added, changed, removed
}

// sameProfile reports whether a session of a can go on serving b. Every
// field counts (TestSameProfileSeesEveryField checks that a new one is not
// forgotten): a new client, endpoint or timeout needs a new flow. Match and
// Username do not: only authc's credential helpers read them, from the
// file.
func sameProfile(a, b *config.Profile) bool {
	return a.Name == b.Name &&
		a.Issuer == b.Issuer &&
		a.AuthorizationEndpoint == b.AuthorizationEndpoint &&
		a.TokenEndpoint == b.TokenEndpoint &&
		a.DeviceAuthorizationEndpoint == b.DeviceAuthorizationEndpoint &&
		a.RevocationEndpoint == b.RevocationEndpoint &&
		a.ClientID == b.ClientID &&
		a.ClientSecret == b.ClientSecret &&
		slices.Equal(a.Scopes, b.Scopes) &&
		a.Audience == b.Audience &&
		a.Flow == b.Flow &&
		a.RedirectPort == b.RedirectPort &&
		a.RedirectPath == b.RedirectPath &&
		maps.Equal(a.ExtraAuthParams, b.ExtraAuthParams) &&
		a.AuthParamsInTokenRequest == b.AuthParamsInTokenRequest &&
		a.CAFile == b.CAFile &&
		a.InsecureSkipVerify == b.InsecureSkipVerify &&
		a.SuccessHTML == b.SuccessHTML &&
		a.FailureHTML == b.FailureHTML &&
		a.Timeout == b.Timeout &&
		a.LoginTimeout == b.LoginTimeout &&
		a.TokenLifetime == b.TokenLifetime
}

func (b *Broker) openStore(cfg *config.Config) (Store, error) {
	if b.opts.Store != nil {
		return b.opts.Store, nil
	}
	opts := store.Options{ServiceName: b.opts.KeyringService, Backend: cfg.Keyring.Backend, FileDir: cfg.Keyring.FileDir, Timeout: cfg.Keyring.Timeout}
	if cfg.Keyring.Backend == "file" {
		pass, err := store.PassphraseFrom(cfg.Keyring.PassphraseFile)
		if err != nil {
			b.log.Error("keyring not opened", "err", err)
			return nil, err
		}
		opts.Passphrase = pass
	}
	k, err := store.Open(opts)
	if err != nil {
		b.log.Error("keyring not opened", "err", err)
		return nil, err
	}
	b.log.Info("keyring opened", "backend", k.Backend())
	return k, nil
}

// Session returns the session of the named profile ("" for the default).
func (b *Broker) Session(name string) (*Session, error) {
	b.mu.RLock()
	if b.cfgErr == nil {
		if name == "" {
			name = b.cfg.DefaultProfile
		}
		if s := b.sessions[name]; s != nil {
			b.mu.RUnlock()
			return s, nil
		}
	}
	b.mu.RUnlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfgErr != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidConfig, b.cfgErr)
	}
	p, err := b.cfg.Profile(name)
	if err != nil {
		return nil, err
	}
	if s := b.sessions[p.Name]; s != nil {
		return s, nil
	}
	if b.storeErr != nil {
		return nil, b.storeErr
	}
	fc, err := flow.New(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidConfig, err)
	}
	ctx, cancel := context.WithCancel(b.ctx)
	s := &Session{
		profile: p, flow: fc, store: b.store, log: b.log, clock: b.opts.Clock,
		bg: ctx, stop: cancel, wg: &b.wg, draining: b.draining, checkClock: b.checkClock,
	}
	b.sessions[p.Name] = s
	return s, nil
}

// Logger is where the broker logs; the server that serves it logs there too.
func (b *Broker) Logger() *slog.Logger { return b.log }

// Info describes the daemon itself, for display.
type Info struct {
	Version        string
	Build          string
	StartedBy      string
	ConfigPath     string
	DefaultProfile string
	KeyringBackend string // "" when no keyring is open
	// ReloadError is why the last reload failed while an earlier config
	// is still served; nil once a reload succeeds.
	ReloadError error
}

// Info describes the broker. The error is why no config could be loaded,
// when none could: then nothing but Info's version and paths is known.
func (b *Broker) Info() (Info, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	info := Info{Version: b.opts.Version, Build: b.opts.Build, StartedBy: b.opts.StartedBy, ConfigPath: b.opts.ConfigPath, ReloadError: b.reloadErr}
	if b.cfg != nil {
		info.DefaultProfile = b.cfg.DefaultProfile
	}
	if b.store != nil {
		info.KeyringBackend = b.store.Backend()
	}
	if b.cfgErr != nil {
		return info, fmt.Errorf("%w: %w", errInvalidConfig, b.cfgErr)
	}
	return info, nil
}

// Profiles lists the configured profile names, sorted.
func (b *Broker) Profiles() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg == nil {
		return nil
	}
	names := make([]string, 0, len(b.cfg.Profiles))
	for name := range b.cfg.Profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ErrShutdown ends the logins in flight when the daemon stops, and the
// logins asked for while it stops.
var ErrShutdown = errors.New("authd is shutting down")

// Drain begins the broker's shutdown, for the time the server answers the
// calls in flight: the logins in flight end with [ErrShutdown], which
// every client waiting on one hears, new logins fail with it at once, and
// no background refresh starts any more. Calls that need no login are
// still served, refreshes included. [Broker.Shutdown] ends the rest.
func (b *Broker) Drain() {
	b.mu.Lock()
	b.draining = true
	sessions := slices.Collect(maps.Values(b.sessions))
	b.mu.Unlock()
	for _, s := range sessions {
		s.drain()
	}
}

// Shutdown stops the broker: it drains it (see [Broker.Drain]), waits
// until no refresh token is being redeemed and no login is storing what it
// got, so that a refresh token the provider has just rotated reaches the
// keyring, and then closes it (see [Broker.Close]). When ctx ends first,
// what still runs is cancelled (a rotated refresh token may then be lost,
// and the session need a login) and Shutdown returns an error saying so.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.Drain()
	b.mu.Lock()
	sessions := slices.Collect(maps.Values(b.sessions))
	b.mu.Unlock()
	var busy []string
	for _, s := range sessions {
		if !s.settle(ctx) {
			busy = append(busy, s.profile.Name)
		}
	}
	var errs []error
	if len(busy) > 0 {
		slices.Sort(busy)
		errs = append(errs, fmt.Errorf("shutdown: cancelled the refresh or login of %s at the deadline: %w", strings.Join(busy, ", "), context.Cause(ctx)))
	}
	b.cancel(ErrShutdown)
	b.closeSessions()
	// A redemption cancelled at the deadline still writes what it leaves
	// (the record without a refresh token the provider may have rotated,
	// see Session.forget) on a context the cancel does not end: it gets
	// cancelledWrites more, within the margin the daemon keeps for this.
	if len(busy) > 0 {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelledWrites)
		for _, s := range sessions {
			s.settle(wctx)
		}
		cancel()
	}
	// Once cancelled, the background work ends at once, but for a keyring
	// call that does not heed its context.
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("shutdown: background work still running at the deadline: %w", context.Cause(ctx)))
	}
	return errors.Join(errs...)
}

// cancelledWrites bounds the wait, after Shutdown's deadline, for the
// keyring writes of the redemptions it cancelled.
const cancelledWrites = 400 * time.Millisecond

// Close stops every session's background work, logins and refreshes
// included, at once, and waits for it. It may be called more than once.
func (b *Broker) Close() {
	b.cancel(ErrShutdown)
	b.closeSessions()
	b.wg.Wait()
}

func (b *Broker) closeSessions() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.clockTimer != nil {
		b.clockTimer.Stop()
	}
	for _, s := range b.sessions {
		s.close()
	}
}

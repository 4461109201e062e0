// Package daemontest runs authd's broker as the daemon does, for tests: on
// a real Unix socket, with a config file, a real keyring and an in-process
// OpenID provider ([idptest]). It is imported only by tests (those of
// internal/broker and internal/server); nothing that ships links it.
//
// # Starting a daemon
//
// [New] starts a provider and a [Daemon] with one profile "work" on it,
// its keyring a file or the Linux kernel's keyctl. [NewProxied] puts the
// provider's token endpoint behind an [idptest.FaultProxy], [NewOn] serves
// a given provider and may replace the keyring with any [broker.Store], and
// [NewLimited] serves a daemon with no profiles under [server.Limits]. Each
// daemon stops when its test ends.
//
// # Driving it
//
// Tests talk to a daemon through [Daemon.Client], as users do;
// [Daemon.Login] logs in through the API, filling the provider's form over
// plain HTTP. [Daemon.Restart], [Daemon.Stop] and [Daemon.AddProfile] are
// what an operator does; [Daemon.RefreshToken] and [Daemon.Logs] look
// inside.
//
// # Time
//
// A daemon's [Clock] moves only when the test says: [Clock.Advance] moves
// the wall and the monotonic clock and runs the timers that come due;
// [Clock.Sleep] moves the wall clock alone, as a machine suspended that
// long wakes up: its timers, on the monotonic clock, have not moved.
package daemontest

package main

import (
	"context"
	"errors"
	"io/fs"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/oidcagent"
	"authd.dev/authd/internal/socket"
)

// oidcAgentSocket is the socket where authd also serves oidc-agent's
// clients (oidc-token, liboidc-agent), when the config's [compat]
// oidc_agent_socket names one.
type oidcAgentSocket struct {
	done chan struct{} // closed once the socket and its connections are closed
}

// startOIDCAgent opens the oidc-agent socket the config names, if any, and
// serves it with d's broker until ctx ends. The path is read from the config
// file here, once: a reload (SIGHUP, 'authc reload') neither opens, moves
// nor closes the socket; restart authd for that. A socket that cannot be
// opened is logged, and authd serves its own socket without it.
func (d *daemon) startOIDCAgent(ctx context.Context) *oidcAgentSocket {
	cfg, err := config.Load(d.configPath)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			// The broker reports the file's problems; say what they cost here.
			d.log.Warn("oidc-agent socket not opened: the config file could not be read", "config", d.configPath)
		}
		return nil
	}
	path := cfg.OIDCAgentSocket
	if path == "" {
		return nil
	}
	ln, err := socket.Listen(path)
	if errors.Is(err, socket.ErrInUse) {
		d.log.Error("oidc-agent socket not opened: a process of yours already serves it (an oidc-agent?)", "socket", path)
		return nil
	}
	if err != nil {
		d.log.Error("oidc-agent socket not opened", "socket", path, "err", err)
		return nil
	}
	s := &oidcAgentSocket{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := oidcagent.Serve(ctx, d.broker, ln, oidcagent.Options{Logger: d.log}); err != nil {
			d.log.Error("oidc-agent socket closed", "socket", path, "err", err)
		}
	}()
	d.log.Info("serving oidc-agent clients", "socket", path)
	return s
}

// wait returns once the socket is closed and its connections have ended;
// at once when there is no socket.
func (s *oidcAgentSocket) wait() {
	if s != nil {
		<-s.done
	}
}

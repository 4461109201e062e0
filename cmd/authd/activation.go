package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/coreos/go-systemd/v22/activation"

	"authd.dev/authd/internal/socket"
)

// listenSocket returns the daemon's listener and its path: the socket a service
// manager handed over (systemd's socket activation, LISTEN_FDS and
// LISTEN_PID; 'authd install' writes the authd.socket unit), else a socket
// of authd's own at path. The handed-over socket's path wins over path:
// the unit names it, and clients find it at the default path only if the
// two agree, which a differing path is logged for.
func listenSocket(path string, log *slog.Logger) (net.Listener, string, error) {
	inherited, err := activation.Listeners()
	if err != nil {
		return nil, "", fmt.Errorf("socket activation: %w", err)
	}
	var lns []net.Listener
	for _, ln := range inherited {
		if ln != nil {
			lns = append(lns, ln)
		}
	}
	switch {
	case len(inherited) == 0:
		ln, err := socket.Listen(path)
		return ln, path, err
	case len(lns) != 1 || len(inherited) != 1:
		for _, ln := range lns {
			ln.Close()
		}
		return nil, "", fmt.Errorf("socket activation: authd takes one stream socket, and was handed %d file(s), %d of them listening", len(inherited), len(lns))
	}
	got, err := socket.CheckInherited(lns[0])
	if err != nil {
		lns[0].Close()
		return nil, "", errors.Join(errors.New("socket activation: refusing the socket handed over"), err)
	}
	if got != path {
		log.Warn("the service manager's socket is not where clients look by default; set AUTHD_SOCKET for them", "socket", got, "default", path)
	}
	log.Info("socket handed over by the service manager", "socket", got)
	return lns[0], got, nil
}

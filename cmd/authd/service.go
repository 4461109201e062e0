package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/kardianos/service"

	"authd.dev/authd/internal/socket"
)

// systemdUserUnit replaces kardianos' default unit, which is written for
// system services (WantedBy=multi-user.target never starts in a user manager).
// It needs authd.socket (systemdSocketUnit): systemd holds the socket, so a
// client that calls while the daemon restarts or has not started yet waits
// for it instead of failing, and the daemon takes the socket over
// (LISTEN_FDS) rather than making its own.
const systemdUserUnit = `[Unit]
Description={{.Description}}
ConditionFileIsExecutable={{.Path|cmdEscape}}
Requires=authd.socket
After=authd.socket

[Service]
Type=simple
ExecStart={{.Path|cmdEscape}}{{range .Arguments}} {{.|cmd}}{{end}}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2
NoNewPrivileges=true
PrivateTmp=true
UMask=0077

[Install]
WantedBy=default.target
`

// systemdSocketUnit is the socket unit 'authd install' writes beside the
// service: the path clients look at by default, a directory only the user
// may enter, a socket only the user may open. systemd starts authd.service
// on the first connection and hands the socket over.
const systemdSocketUnit = `[Unit]
Description=authd credential broker socket

[Socket]
ListenStream={{.}}
SocketMode=0600
DirectoryMode=0700
RemoveOnStop=true

[Install]
WantedBy=sockets.target
`

// socketUnitPath returns what authd.socket's ListenStream names: socket,
// as a path relative to the user manager's runtime directory (%t) when it
// is under runtimeDir, else as it is, '%' escaped for systemd.
func socketUnitPath(socket, runtimeDir string) string {
	if runtimeDir != "" {
		if rel, err := filepath.Rel(runtimeDir, socket); err == nil && filepath.IsLocal(rel) {
			return "%t/" + strings.ReplaceAll(filepath.ToSlash(rel), "%", "%%")
		}
	}
	return strings.ReplaceAll(socket, "%", "%%")
}

func renderSocketUnit(w io.Writer, socket, runtimeDir string) error {
	t := template.Must(template.New("socket").Parse(systemdSocketUnit))
	return t.Execute(w, socketUnitPath(socket, runtimeDir))
}

func serviceConfig() *service.Config {
	return &service.Config{
		Name:        "authd",
		DisplayName: "authd credential broker",
		Description: "authd: per-user OAuth2/OIDC credential broker",
		Arguments:   []string{"run"},
		Option: service.KeyValue{
			"UserService":   true,
			"SystemdScript": systemdUserUnit,
			"RunAtLoad":     true, // launchd
			"KeepAlive":     true, // launchd
		},
	}
}

func newService(p service.Interface) (service.Service, error) {
	svc, err := service.New(p, serviceConfig())
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return svc, nil
}

// What works instead of the user service where no systemd user manager runs.
const runInstead = "run 'authd run' in the background (e.g. from your shell profile)"

var (
	// errNoSystemd is a Linux machine whose PID 1 is not systemd: a
	// container, WSL1, a SysV or OpenRC system.
	errNoSystemd = errors.New("no systemd user manager here (systemd is not PID 1): " + runInstead)
	// errNoUserManager is a systemd machine without a user manager for this
	// user: su or sudo without a login session, a lingering user's cron job.
	errNoUserManager = errors.New("no systemd user manager here (systemctl --user cannot reach one: log in to a session of yours, or run 'loginctl enable-linger'): " + runInstead)
)

// serviceHost holds the facts that decide whether authd can manage its user
// service here; tests inject their own.
type serviceHost struct {
	goos       string
	systemdDir string // present when systemd is PID 1 (sd_booted's test)
	runtimeDir string // $XDG_RUNTIME_DIR, where the user manager listens
	home       string // the user's home, under which the unit is written
	socketPath string // the daemon's socket
}

func currentHost() serviceHost {
	h := serviceHost{
		goos:       runtime.GOOS,
		systemdDir: "/run/systemd/system",
		runtimeDir: os.Getenv("XDG_RUNTIME_DIR"),
	}
	h.home, _ = os.UserHomeDir()
	h.socketPath, _ = socket.Path()
	return h
}

// userManager returns nil when the user service can be managed here, else
// errNoSystemd or errNoUserManager. Only Linux is checked: launchd and the
// Windows service manager are always there.
func (h serviceHost) userManager() error {
	if h.goos != "linux" {
		return nil
	}
	if fi, err := os.Stat(h.systemdDir); err != nil || !fi.IsDir() {
		return errNoSystemd
	}
	// systemctl --user talks to the manager on this socket.
	if h.runtimeDir == "" {
		return errNoUserManager
	}
	if fi, err := os.Stat(filepath.Join(h.runtimeDir, "systemd", "private")); err != nil || fi.Mode()&fs.ModeSocket == 0 {
		return errNoUserManager
	}
	return nil
}

// unitPath is where 'authd install' writes the systemd user unit (as
// kardianos/service does), or "" where there is no such file.
func (h serviceHost) unitPath() string {
	if h.goos != "linux" || h.home == "" {
		return ""
	}
	return filepath.Join(h.home, ".config", "systemd", "user", serviceConfig().Name+".service")
}

// socketUnitPath is where 'authd install' writes authd.socket.
func (h serviceHost) socketUnitPath() string {
	if h.goos != "linux" || h.home == "" {
		return ""
	}
	return filepath.Join(h.home, ".config", "systemd", "user", serviceConfig().Name+".socket")
}

// control runs install, uninstall, start, stop or status on the user
// service. Without a service manager to ask, each fails with a line that
// says what to do instead; status reports what it can see first.
func control(action string) error {
	h := currentHost()
	managerErr := h.userManager()
	if action == "status" {
		return status(os.Stdout, h, managerErr)
	}
	if managerErr != nil {
		return managerErr
	}
	if h.goos == "darwin" {
		return launchdControl(h, action)
	}
	svc, err := newService(&daemon{})
	if err != nil {
		return err
	}
	if h.goos == "linux" {
		err = systemdControl(h, svc, action)
	} else {
		err = service.Control(svc, action)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "authd: %s done (%s)\n", action, svc.Platform())
	return nil
}

// systemdControl is service.Control with authd.socket: install writes and
// enables it beside the service, start and stop take both, uninstall
// removes it.
func systemdControl(h serviceHost, svc service.Service, action string) error {
	socketUnit := h.socketUnitPath()
	systemctl := func(args ...string) error {
		out, err := exec.Command("systemctl", append([]string{"--user"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("systemctl --user %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	switch action {
	case "install":
		if err := service.Control(svc, action); err != nil {
			return err
		}
		var unit strings.Builder
		if err := renderSocketUnit(&unit, h.socketPath, h.runtimeDir); err != nil {
			return err
		}
		if err := os.WriteFile(socketUnit, []byte(unit.String()), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", socketUnit, err)
		}
		if err := systemctl("daemon-reload"); err != nil {
			return err
		}
		return systemctl("enable", "authd.socket")
	case "start":
		return systemctl("start", "authd.socket", "authd.service")
	case "stop":
		return systemctl("stop", "authd.socket", "authd.service")
	case "uninstall":
		_ = systemctl("disable", "--now", "authd.socket")
		if err := os.Remove(socketUnit); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return service.Control(svc, action)
	}
	return service.Control(svc, action)
}

// status writes whether the service is installed, whether a daemon answers
// on the socket and, when there is one, what the service manager says; it
// returns managerErr, so that 'authd status' fails where the service cannot
// be managed.
func status(w io.Writer, h serviceHost, managerErr error) error {
	if unit := h.unitPath(); unit != "" {
		installed := "installed"
		if _, err := os.Stat(unit); errors.Is(err, fs.ErrNotExist) {
			installed = "not installed"
		} else if err != nil {
			installed = err.Error()
		}
		fmt.Fprintf(w, "unit:    %s (%s)\n", unit, installed)
	}
	fmt.Fprintf(w, "socket:  %s (%s)\n", h.socketPath, socketState(h.socketPath))
	if managerErr != nil {
		return managerErr
	}
	svc, err := newService(&daemon{})
	if err != nil {
		return err
	}
	st, err := svc.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		fmt.Fprintf(w, "service: not installed (%s)\n", svc.Platform())
	case err != nil:
		return fmt.Errorf("status: %w", err)
	default:
		fmt.Fprintf(w, "service: %s (%s)\n", map[service.Status]string{
			service.StatusRunning: "running", service.StatusStopped: "stopped", service.StatusUnknown: "unknown",
		}[st], svc.Platform())
	}
	return nil
}

// socketState says whether the user's daemon answers at path.
func socketState(path string) string {
	if path == "" {
		return "no socket path: set XDG_RUNTIME_DIR or AUTHD_SOCKET"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := socket.Dial(ctx, path)
	switch {
	case err == nil:
		defer c.Close()
		if _, pid, err := socket.Peer(c); err == nil && pid > 0 {
			return fmt.Sprintf("running, pid %d", pid)
		}
		return "running"
	case errors.Is(err, socket.ErrWrongServer):
		return err.Error()
	case errors.Is(err, fs.ErrNotExist):
		return "not running"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "not running; a stale socket file"
	default:
		return fmt.Sprintf("not reachable: %v", err)
	}
}

// printUnit renders the systemd user unit for this executable.
func printUnit() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	exe, _ = filepath.EvalSymlinks(exe)
	return renderUnit(os.Stdout, exe)
}

func renderUnit(w interface{ Write([]byte) (int, error) }, exe string) error {
	cfg := serviceConfig()
	funcs := template.FuncMap{
		// The same escaping kardianos applies when it writes the unit.
		"cmd":       func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` },
		"cmdEscape": func(s string) string { return strings.ReplaceAll(s, " ", `\x20`) },
	}
	t := template.Must(template.New("unit").Funcs(funcs).Parse(systemdUserUnit))
	return t.Execute(w, struct {
		Description string
		Path        string
		Arguments   []string
	}{cfg.Description, exe, cfg.Arguments})
}

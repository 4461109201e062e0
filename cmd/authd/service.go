package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/kardianos/service"
)

// systemdUserUnit replaces kardianos' default unit, which is written for
// system services (WantedBy=multi-user.target never starts in a user manager).
const systemdUserUnit = `[Unit]
Description={{.Description}}
ConditionFileIsExecutable={{.Path|cmdEscape}}

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

// control runs install, uninstall, start, stop or status on the user service.
func control(action string) error {
	svc, err := newService(&daemon{})
	if err != nil {
		return err
	}
	if action == "status" {
		st, err := svc.Status()
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		fmt.Println(map[service.Status]string{
			service.StatusRunning: "running", service.StatusStopped: "stopped", service.StatusUnknown: "unknown",
		}[st])
		return nil
	}
	if err := service.Control(svc, action); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "authd: %s done (%s)\n", action, svc.Platform())
	return nil
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

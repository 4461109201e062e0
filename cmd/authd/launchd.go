package main

import (
	"encoding/xml"
	"io"
	"path/filepath"
	"strings"
	"text/template"
)

// On macOS 'authd install' writes a LaunchAgent of its own rather than
// kardianos/service's, whose start and stop use 'launchctl load', which
// launchd has deprecated: launchdControl uses 'launchctl bootstrap
// gui/<uid>', 'bootout' and 'kickstart'. The label and the file are
// kardianos' ("authd", ~/Library/LaunchAgents/authd.plist), so that 'authd
// status' reads it as before.

const launchdLabel = "authd"

// launchAgent is the LaunchAgent plist: authd run at login, restarted when
// it fails (not when it exits cleanly, as after 'authd stop'), in the
// background class, with a umask of 077 and its log in ~/Library/Logs.
const launchAgent = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{{.Label | xml}}</string>
	<key>ProgramArguments</key>
	<array>
		<string>{{.Path | xml}}</string>
		<string>run</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ProcessType</key>
	<string>Background</string>
	<key>Umask</key>
	<integer>63</integer>
	<key>StandardOutPath</key>
	<string>{{.Log | xml}}</string>
	<key>StandardErrorPath</key>
	<string>{{.Log | xml}}</string>
</dict>
</plist>
`

// renderLaunchAgent writes the plist for the executable exe of a user whose
// home is home.
func renderLaunchAgent(w io.Writer, exe, home string) error {
	escape := func(s string) (string, error) {
		var b strings.Builder
		err := xml.EscapeText(&b, []byte(s))
		return b.String(), err
	}
	t := template.Must(template.New("plist").Funcs(template.FuncMap{"xml": escape}).Parse(launchAgent))
	return t.Execute(w, struct{ Label, Path, Log string }{
		launchdLabel, exe, filepath.Join(home, "Library", "Logs", "authd", "authd.log"),
	})
}

func (h serviceHost) launchAgentPath() string {
	return filepath.Join(h.home, "Library", "LaunchAgents", launchdLabel+".plist")
}

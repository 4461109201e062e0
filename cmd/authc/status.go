package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/buildinfo"
)

func runStatus(ctx context.Context, args []string) error {
	fs := flags("status")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	timeout := timeoutFlag(fs, defaultTimeout, "give up when authd has not answered within this long")
	if err := parseNoArgs(fs, args, timeout); err != nil {
		return err
	}
	st, err := callDaemon(ctx, *timeout, (*client.Client).Status)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(statusJSON(st))
	}
	return printStatus(os.Stdout, st)
}

// maxErrorColumn caps the last error in the status table, whose rows must
// stay one line each; --json has the whole text.
const maxErrorColumn = 60

// statusLegend explains the table's markers.
const statusLegend = `* default profile; - none or unknown; "retry in T (N failed)": N refreshes failed in a row, the next in T; times are from now.`

// printStatus writes the status as 'authc status' shows it. Every field is
// the daemon's text, and the account, issuer and last error are the
// provider's: all go through printable.
func printStatus(out io.Writer, st *client.Status) error {
	fmt.Fprintf(out, "authd %s (pid %d), config %s, keyring %s\n", printable(st.Version), st.PID, printable(st.ConfigPath), dash(printable(st.KeyringBackend)))
	fmt.Fprintf(out, "build %s; authc %s\n", dash(printable(st.Build)), buildinfo.Version(version))
	if st.StartedBy == "autostart" {
		fmt.Fprintf(out, "started by authc, as no daemon was running (autostart; its log is in $XDG_STATE_HOME/authd/authd.log)\n")
	}
	if st.ReloadError != "" {
		fmt.Fprintf(out, "\nThe config file did not reload: authd keeps serving the configuration it loaded before.\n")
		for _, l := range strings.Split(strings.TrimRight(st.ReloadError, "\n"), "\n") {
			fmt.Fprintf(out, "  %s\n", printable(l))
		}
		fmt.Fprintf(out, "Fix the file, then run 'authc reload'.\n")
	}
	fmt.Fprintln(out)
	if len(st.Profiles) == 0 {
		_, err := fmt.Fprintln(out, "No profiles configured.")
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PROFILE\tSTATE\tSOURCE\tACCOUNT\tEXPIRES\tLAST REFRESH\tNEXT REFRESH\tLAST ERROR")
	for _, p := range st.Profiles {
		name := printable(p.Name)
		if p.Name == st.DefaultProfile {
			name += " *"
		}
		next := humanTime(p.NextRefresh)
		if p.Failures > 0 && next != "-" {
			next = fmt.Sprintf("retry %s (%d failed)", next, p.Failures)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, dash(printable(p.State)), dash(printable(source(p))), dash(printable(p.Account)),
			humanTime(p.Expiry), humanTime(p.LastRefresh), next, dash(truncate(printable(p.LastError), maxErrorColumn)))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "\n%s\n", statusLegend)
	return err
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// source says where a profile's token comes from, the environment first.
func source(p client.ProfileStatus) string {
	if _, from := staticToken(p.Name); from != "" {
		return "env " + from
	}
	return p.Source
}

// statusJSON is the status as 'authc status --json' prints it: snake_case
// names, as 'authc token --json' has them; what is not known is left out.
func statusJSON(st *client.Status) any {
	type profile struct {
		Name            string    `json:"name"`
		Issuer          string    `json:"issuer,omitempty"`
		State           string    `json:"state,omitempty"`
		Source          string    `json:"source,omitempty"`
		Flow            string    `json:"flow,omitempty"`
		Account         string    `json:"account,omitempty"`
		Expiry          *jsonTime `json:"expiry,omitempty"`
		LastRefresh     *jsonTime `json:"last_refresh,omitempty"`
		NextRefresh     *jsonTime `json:"next_refresh,omitempty"`
		Failures        int32     `json:"failures"`
		LastError       string    `json:"last_error,omitempty"`
		HasRefreshToken bool      `json:"has_refresh_token"`
	}
	out := struct {
		Version        string    `json:"version,omitempty"`
		Build          string    `json:"build,omitempty"`
		StartedBy      string    `json:"started_by,omitempty"`
		PID            int32     `json:"pid,omitempty"`
		ConfigPath     string    `json:"config_path,omitempty"`
		KeyringBackend string    `json:"keyring_backend,omitempty"`
		DefaultProfile string    `json:"default_profile,omitempty"`
		ReloadError    string    `json:"reload_error,omitempty"`
		Goroutines     int32     `json:"goroutines,omitempty"`
		Profiles       []profile `json:"profiles"`
	}{st.Version, st.Build, st.StartedBy, st.PID, st.ConfigPath, st.KeyringBackend, st.DefaultProfile, st.ReloadError, st.Goroutines, []profile{}}
	for _, p := range st.Profiles {
		out.Profiles = append(out.Profiles, profile{p.Name, p.Issuer, p.State, source(p), p.Flow, p.Account,
			timePtr(p.Expiry), timePtr(p.LastRefresh), timePtr(p.NextRefresh), p.Failures, p.LastError, p.HasRefreshToken})
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// humanTime is the one way authc's text output shows a time: how far it is
// from now ("in 4m30s", "2h5m ago"), or "-" when it is not known.
func humanTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Until(t)
	if d < 0 {
		return roughDuration(-d) + " ago"
	}
	return "in " + roughDuration(d)
}

// roughDuration writes d to the second under an hour, to the minute under
// two days, and in days and hours beyond.
func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return shortDuration(d.Round(time.Second))
	case d < 48*time.Hour:
		return shortDuration(d.Round(time.Minute))
	}
	d = d.Round(time.Hour)
	days, hours := d/(24*time.Hour), (d%(24*time.Hour))/time.Hour
	if hours == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, hours)
}

func runLogout(ctx context.Context, args []string) error {
	fs := flags("logout")
	profile := profileFlags(fs)
	all := fs.Bool("all", false, "log out of every profile")
	timeout := timeoutFlag(fs, defaultTimeout, "give up when authd has not answered within this long")
	if err := parseNoArgs(fs, args, timeout); err != nil {
		return err
	}
	if *all && *profile != "" {
		return usageError{"--all and --profile exclude each other"}
	}
	profiles, err := callDaemon(ctx, *timeout, func(c *client.Client, ctx context.Context) ([]string, error) {
		return c.Logout(ctx, *profile, *all)
	})
	if err == nil {
		for _, n := range profiles {
			fmt.Fprintf(os.Stderr, "Logged out of %s.\n", printable(n))
		}
	}
	return err
}

package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"authd.dev/authd/internal/wire"
)

func runStatus(ctx context.Context, args []string) error {
	fs := flags("status")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	timeout := timeoutFlag(fs, defaultTimeout, "give up when authd has not answered within this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	conn, err := connect(ctx, *timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	var st *wire.StatusResponse
	err = within(ctx, *timeout, func(ctx context.Context) (err error) {
		st, err = conn.Status(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(statusJSON(st))
	}
	// Every field is the daemon's text, and the account, issuer and last
	// error are the provider's.
	fmt.Printf("authd %s (pid %d), config %s, keyring %s\n\n", printable(st.Version), st.PID, printable(st.ConfigPath), printable(st.KeyringBackend))
	if len(st.Profiles) == 0 {
		fmt.Println("No profiles configured.")
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PROFILE\tSTATE\tSOURCE\tACCOUNT\tEXPIRES\tLAST REFRESH\tNEXT REFRESH\tLAST ERROR")
	for _, p := range st.Profiles {
		name := printable(p.Name)
		if p.Name == st.DefaultProfile {
			name += " *"
		}
		next := when(p.NextRefresh)
		if p.Failures > 0 && next != "-" {
			next = fmt.Sprintf("retry %s (%d failed)", next, p.Failures)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, printable(p.State), printable(source(p)), dash(printable(p.Account)),
			when(p.Expiry), when(p.LastRefresh), next, dash(printable(p.LastError)))
	}
	return w.Flush()
}

// source says where a profile's token comes from, the environment first.
func source(p wire.ProfileStatus) string {
	if _, from := staticToken(p.Name); from != "" {
		return "env " + from
	}
	return dash(p.Source)
}

// statusJSON is the status as 'authc status --json' prints it: the API's
// field names, every field present.
func statusJSON(st *wire.StatusResponse) any {
	type profile struct {
		Name            string     `json:"name"`
		Issuer          string     `json:"issuer"`
		State           string     `json:"state"`
		Source          string     `json:"source"`
		Flow            string     `json:"flow"`
		Account         string     `json:"account"`
		Expiry          *time.Time `json:"expiry"`
		LastRefresh     *time.Time `json:"lastRefresh"`
		NextRefresh     *time.Time `json:"nextRefresh"`
		Failures        int32      `json:"failures"`
		LastError       string     `json:"lastError"`
		HasRefreshToken bool       `json:"hasRefreshToken"`
	}
	out := struct {
		Version        string    `json:"version"`
		PID            int32     `json:"pid"`
		ConfigPath     string    `json:"configPath"`
		KeyringBackend string    `json:"keyringBackend"`
		DefaultProfile string    `json:"defaultProfile"`
		Profiles       []profile `json:"profiles"`
	}{st.Version, st.PID, st.ConfigPath, st.KeyringBackend, st.DefaultProfile, []profile{}}
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

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Until(t).Round(time.Second)
	if d < 0 {
		return fmt.Sprintf("%s ago", (-d).String())
	}
	return "in " + d.String()
}

func runLogout(ctx context.Context, args []string) error {
	fs := flags("logout")
	profile := profileFlags(fs)
	all := fs.Bool("all", false, "log out of every profile")
	timeout := timeoutFlag(fs, defaultTimeout, "give up when authd has not answered within this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	if *all && *profile != "" {
		return usageError{"--all and --profile exclude each other"}
	}
	conn, err := connect(ctx, *timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	var resp *wire.LogoutResponse
	err = within(ctx, *timeout, func(ctx context.Context) (err error) {
		resp, err = conn.Logout(ctx, &wire.LogoutRequest{Profile: *profile, All: *all})
		return err
	})
	if resp != nil {
		for _, n := range resp.Profiles {
			fmt.Fprintf(os.Stderr, "Logged out of %s.\n", printable(n))
		}
	}
	return err
}

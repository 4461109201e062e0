package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func runStatus(ctx context.Context, args []string) error {
	fs := flags("status")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		out, err := protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Marshal(st)
		if err != nil {
			return err
		}
		fmt.Println(string(out))
		return nil
	}
	fmt.Printf("authd %s (pid %d), config %s, keyring %s\n\n", st.GetVersion(), st.GetPid(), st.GetConfigPath(), st.GetKeyringBackend())
	if len(st.GetProfiles()) == 0 {
		fmt.Println("No profiles configured.")
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PROFILE\tSTATE\tSOURCE\tACCOUNT\tEXPIRES\tLAST REFRESH\tNEXT REFRESH\tLAST ERROR")
	for _, p := range st.GetProfiles() {
		name := p.GetName()
		if name == st.GetDefaultProfile() {
			name += " *"
		}
		next := when(p.GetNextRefresh())
		if n := p.GetFailures(); n > 0 && next != "-" {
			next = fmt.Sprintf("retry %s (%d failed)", next, n)
		}
		source := dash(p.GetSource())
		if _, from := staticToken(p.GetName()); from != "" {
			source = "env " + from
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, p.GetState(), source, dash(p.GetAccount()),
			when(p.GetExpiry()), when(p.GetLastRefresh()), next, dash(p.GetLastError()))
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	t := ts.AsTime()
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
	if err := parse(fs, args); err != nil {
		return err
	}
	if *all && *profile != "" {
		return usageError{"--all and --profile exclude each other"}
	}
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()
	names, err := c.Logout(ctx, *profile, *all)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "Logged out of %s.\n", n)
	}
	return err
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
)

func init() {
	commands["reload"] = command{"[--json] [--timeout 30s]",
		"Make authd reread its config file, and show the profiles it added, changed and removed.", runReload}
}

func runReload(ctx context.Context, args []string) error {
	fs := flags("reload")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := timeoutFlag(fs, defaultTimeout, "give up when authd has not answered within this long")
	if err := parseNoArgs(fs, args, timeout); err != nil {
		return err
	}
	res, err := callDaemon(ctx, *timeout, (*client.Client).Reload)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Reason == codeUnimplemented {
		return &daemonError{reason: api.Unspecified, cause: err,
			msg: "this authd predates 'authc reload': reload it with SIGHUP ('systemctl --user reload authd', or kill -HUP with the pid 'authc status' shows), or restart it"}
	}
	if err != nil {
		// A file with problems is INVALID_CONFIG: explain prints each
		// problem on a line of its own, and exits with its exit code.
		return err
	}
	if *asJSON {
		return printJSON(reloadJSON(res))
	}
	return printReload(os.Stdout, res)
}

// codeUnimplemented is the client package's reason for a method the
// daemon does not have.
const codeUnimplemented api.Reason = "Unimplemented"

// printReload writes what a reload changed, as 'authc reload' shows it.
// Profile names are the file's, through printable all the same.
func printReload(out io.Writer, res *client.ReloadResult) error {
	fmt.Fprintf(out, "authd reloaded %s", printable(res.ConfigPath))
	if len(res.Added)+len(res.Changed)+len(res.Removed) == 0 && !res.KeyringChanged {
		_, err := fmt.Fprintln(out, ": no profile was added, changed or removed.")
		return err
	}
	fmt.Fprintln(out, ".")
	for _, group := range []struct {
		what  string
		names []string
	}{{"added", res.Added}, {"changed", res.Changed}, {"removed", res.Removed}} {
		if len(group.names) == 0 {
			continue
		}
		names := make([]string, len(group.names))
		for i, n := range group.names {
			names[i] = printable(n)
		}
		fmt.Fprintf(out, "  %-8s %s\n", group.what+":", strings.Join(names, ", "))
	}
	switch {
	case res.KeyringChanged:
		fmt.Fprintln(out, "The keyring settings changed: every profile's session starts over from the new keyring.")
	case len(res.Changed) > 0:
		fmt.Fprintln(out, "Changed profiles start over from the keyring; the others keep their sessions.")
	}
	return nil
}

// reloadJSON is the result as 'authc reload --json' prints it: the names
// of 'authc status --json'; the lists are there even when empty.
func reloadJSON(res *client.ReloadResult) any {
	list := func(names []string) []string {
		if names == nil {
			return []string{}
		}
		return names
	}
	return struct {
		ConfigPath     string   `json:"config_path,omitempty"`
		Added          []string `json:"added"`
		Changed        []string `json:"changed"`
		Removed        []string `json:"removed"`
		KeyringChanged bool     `json:"keyring_changed"`
	}{res.ConfigPath, list(res.Added), list(res.Changed), list(res.Removed), res.KeyringChanged}
}

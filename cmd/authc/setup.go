package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func init() {
	commands["setup"] = command{
		"kubectl [--context NAME] [-p PROFILE] [--write] [--kubeconfig FILE] [--api-version v1|v1beta1]",
		"Print what makes a tool use authd (kubectl's exec plugin stanza), or write it into the tool's configuration.",
		runSetup,
	}
}

const setupNotes = `
'authc setup kubectl' prints a kubeconfig user whose exec plugin is 'authc
kubectl' (-p PROFILE given: that profile; else the profile whose match list
names the cluster's server, or the default one), named authd-PROFILE (or
authd), with interactiveMode: IfAvailable, provideClusterInfo: true and an
installHint. Add it under users: and point the context at it with
'kubectl config set-context NAME --user=authd-PROFILE'.

--write does both in the kubeconfig that defines context NAME (--kubeconfig,
else the files of $KUBECONFIG, else ~/.kube/config): it adds or replaces
the user and sets the context's user, changing no other line, holds
kubectl's lock (FILE.lock) meanwhile, and replaces the file in one rename
(mode 0600). authc reads YAML as kubectl writes it (block style); a file
with anything else where it would edit (flow style, anchors, tags, tabs,
several documents, JSON) is left as it is, with the line that stopped it:
add the printed user by hand then.

The apiVersion is client.authentication.k8s.io/v1, which kubectl 1.22 and
later speak; kubectl 1.21 and older need --api-version v1beta1.
`

// The kubeconfig settings of the exec stanza (client-go's ExecConfig).
const (
	kubeInteractiveMode = "IfAvailable" // log in when kubectl's stdin is a terminal
)

func runSetup(ctx context.Context, args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "kubectl":
			return setupKubectl(args[1:])
		}
		return usageError{fmt.Sprintf("cannot set up %q: 'authc setup' knows kubectl", args[0])}
	}
	fs := flags("setup")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(setupNotes)
		}
		return err
	}
	return usageError{"set up what? authc setup kubectl [--context NAME] [--write]"}
}

func setupKubectl(args []string) error {
	// The flag set has the command's name: --help prints setup's usage.
	fs := flags("setup")
	profile := profileFlags(fs)
	contextName := fs.String("context", "", "the kubeconfig context whose user authd provides (needed with --write)")
	write := fs.Bool("write", false, "add the user to the kubeconfig and point the context at it, instead of printing it")
	kubeconfig := fs.String("kubeconfig", "", "the kubeconfig to edit (default: the file of $KUBECONFIG that defines the context, else ~/.kube/config)")
	apiVersion := fs.String("api-version", "v1", "the ExecCredential version kubectl asks for: v1 (kubectl 1.22 and later) or v1beta1")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(setupNotes)
		}
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	u := kubeUser{profile: *profile}
	switch strings.TrimPrefix(*apiVersion, "client.authentication.k8s.io/") {
	case "v1":
		u.apiVersion = execCredentialV1
	case "v1beta1":
		u.apiVersion = execCredentialV1beta1
	default:
		return usageError{fmt.Sprintf("--api-version %q: want v1 or v1beta1", *apiVersion)}
	}
	if *write && *contextName == "" {
		return usageError{"--write needs --context NAME: the context to point at authd's user ('kubectl config get-contexts' lists them)"}
	}
	if *contextName != "" && !validKubeName(*contextName) {
		return usageError{fmt.Sprintf("--context %q: not a context name", *contextName)}
	}
	command, err := authcPath()
	if err != nil {
		return err
	}
	u.command = command
	if !*write {
		_, err := os.Stdout.WriteString(kubeUserStanza(u, *contextName))
		return err
	}
	files, err := kubeconfigFiles(*kubeconfig)
	if err != nil {
		return err
	}
	res, err := writeKubeconfig(files, *contextName, u)
	if err != nil {
		return err
	}
	switch {
	case res.unchanged:
		fmt.Fprintf(os.Stderr, "Context %s of %s uses authd's user %s already; nothing to change.\n", printable(*contextName), printable(res.path), printable(u.name()))
	case res.oldUser != "" && res.oldUser != u.name():
		fmt.Fprintf(os.Stderr, "Wrote user %s to %s and pointed context %s at it (it used user %s: 'kubectl config set-context %s --user=%s' goes back).\n",
			printable(u.name()), printable(res.path), printable(*contextName), printable(res.oldUser), printable(*contextName), printable(res.oldUser))
	default:
		fmt.Fprintf(os.Stderr, "Wrote user %s to %s and pointed context %s at it.\n", printable(u.name()), printable(res.path), printable(*contextName))
	}
	return nil
}

// kubeUser is the kubeconfig user whose exec plugin is authc.
type kubeUser struct {
	profile    string // "" for the one authc kubectl chooses
	apiVersion string
	command    string // authc's absolute path
}

// name is the user's name in the kubeconfig: authd-PROFILE, or authd.
func (u kubeUser) name() string {
	if u.profile == "" {
		return "authd"
	}
	return "authd-" + u.profile
}

func (u kubeUser) args() []string {
	if u.profile == "" {
		return []string{"kubectl"}
	}
	return []string{"kubectl", "-p", u.profile}
}

// installHint is what kubectl shows when it cannot find the command.
func (u kubeUser) installHint() string {
	login := "authc login"
	if u.profile != "" {
		login += " -p " + u.profile
	}
	return fmt.Sprintf("This kubeconfig user gets its tokens from authd with %s, which is missing: install authd's authc there (or run 'authc setup kubectl' again to name where it is), then log in with '%s'.", u.command, login)
}

// yaml is the user as the item of a YAML block sequence at indent.
func (u kubeUser) yaml(indent int) []string {
	pad := strings.Repeat(" ", indent)
	lines := []string{
		"- name: " + yamlScalar(u.name()),
		"  user:",
		"    exec:",
		"      apiVersion: " + yamlScalar(u.apiVersion),
		"      command: " + yamlScalar(u.command),
		"      args:",
	}
	for _, a := range u.args() {
		lines = append(lines, "      - "+yamlScalar(a))
	}
	lines = append(lines,
		"      interactiveMode: "+kubeInteractiveMode,
		"      provideClusterInfo: true",
		"      installHint: "+yamlScalar(u.installHint()),
	)
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return lines
}

// kubeUserStanza is what 'authc setup kubectl' prints: the user, under a
// comment that says where it goes.
func kubeUserStanza(u kubeUser, contextName string) string {
	ctxName := contextName
	if ctxName == "" {
		ctxName = "CONTEXT"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# A kubeconfig user whose tokens come from authd (authc kubectl). Add it under\n")
	fmt.Fprintf(&b, "# users: in your kubeconfig, then point a context at it:\n")
	fmt.Fprintf(&b, "#   kubectl config set-context %s --user=%s\n", ctxName, u.name())
	fmt.Fprintf(&b, "# ('authc setup kubectl --context %s --write' does both.)\n", ctxName)
	if u.apiVersion == execCredentialV1 {
		fmt.Fprintf(&b, "# kubectl 1.21 and older need apiVersion: %s (--api-version v1beta1).\n", execCredentialV1beta1)
	}
	b.WriteString("users:\n")
	for _, l := range u.yaml(0) {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// yamlScalar writes s as a YAML scalar: plain when that reads back as the
// same string in YAML 1.1 and 1.2 alike, else double-quoted. A JSON string
// is a YAML double-quoted scalar.
func yamlScalar(s string) string {
	if plainYAML(s) {
		return s
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(buf.String(), "\n")
}

// plainYAML reports whether s can be written as a plain scalar: it starts
// with a letter or a slash, has only letters, digits and ._/~- in it (no
// indicator, no ": ", no " #"), and is none of the words YAML 1.1 reads as
// a boolean or null.
func plainYAML(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		switch {
		case letter || r == '/':
		case i > 0 && (r >= '0' && r <= '9' || strings.ContainsRune("._~-", r)):
		default:
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return false
	}
	return true
}

// validKubeName reports whether name can be a kubeconfig entry's name that
// authc writes: one line, printable.
func validKubeName(name string) bool {
	return name != "" && !strings.ContainsFunc(name, unsafeRune)
}

// authcPath is the command kubectl is to run: the path authc was run by
// when it names this very binary (a link on PATH, as package managers
// install, survives an upgrade that moves the binary), else the binary's
// own path.
func authcPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot tell where authc is, for the kubeconfig: %w", err)
	}
	if p, err := exec.LookPath(os.Args[0]); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			a, errA := os.Stat(abs)
			b, errB := os.Stat(exe)
			if errA == nil && errB == nil && os.SameFile(a, b) {
				return abs, nil
			}
		}
	}
	return exe, nil
}

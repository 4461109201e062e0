package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/term"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
)

// authc kubectl is a client-go exec credential plugin: kubectl (and every
// program built on client-go) runs it for a token, with the request in
// $KUBERNETES_EXEC_INFO, and reads an ExecCredential from its stdout.
// See https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins.
// The few fields it needs are written out here rather than imported:
// client-go's packages would cost every start of authc more than the
// call to authd does.

func init() {
	commands["kubectl"] = command{
		"[-p PROFILE] [--timeout 30s]",
		"Be kubectl's exec credential plugin: print an ExecCredential with a profile's access token.",
		runKubectl,
	}
}

const kubectlNotes = `
kubectl runs it as the exec plugin of a kubeconfig user; 'authc setup
kubectl --context NAME' prints that stanza, or writes it. It answers the
apiVersion kubectl asks for in $KUBERNETES_EXEC_INFO:
client.authentication.k8s.io/v1 (kubectl 1.22 and later) or v1beta1
(v1beta1 when the variable is not set), with the token and its expiry.

Without -p, the profile is the one whose match list names the cluster's
server (with provideClusterInfo: true in the stanza). A server no list
names gets no token once any profile has a match list (a shared
kubeconfig's cluster is not the user's to choose); with no lists at all,
the default profile serves every cluster. It logs in only when kubectl says the user is at a terminal
(spec.interactive; with interactiveMode: IfAvailable, when kubectl's stdin
is one); otherwise it fails at once, on stderr, naming 'authc login'.
Stdout carries the ExecCredential and nothing else.
`

// execInfoEnv holds client-go's request to an exec plugin.
const execInfoEnv = "KUBERNETES_EXEC_INFO"

// The API versions of ExecCredential that authc answers.
const (
	execCredentialV1      = "client.authentication.k8s.io/v1"
	execCredentialV1beta1 = "client.authentication.k8s.io/v1beta1"
)

// maxExecInfo bounds $KUBERNETES_EXEC_INFO. Linux caps one environment
// string at 128 KiB; a request with a cluster's CA bundle in it is a few
// KiB.
const maxExecInfo = 256 << 10

// execRequest is what authc reads of client-go's request.
type execRequest struct {
	apiVersion  string
	interactive *bool  // nil: the request does not say (v1beta1 before client-go 1.22)
	server      string // the cluster's, with provideClusterInfo
}

// parseExecInfo reads $KUBERNETES_EXEC_INFO; set says whether the variable
// is set at all. Without one, the request is a v1beta1 one that says
// nothing, as old client-go sent.
func parseExecInfo(info string, set bool) (execRequest, error) {
	if !set {
		return execRequest{apiVersion: execCredentialV1beta1}, nil
	}
	if len(info) > maxExecInfo {
		return execRequest{}, fmt.Errorf("$%s is %d bytes long, more than the %d KiB an ExecCredential request takes; refusing to read it", execInfoEnv, len(info), maxExecInfo>>10)
	}
	var req struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Interactive *bool `json:"interactive"`
			Cluster     *struct {
				Server string `json:"server"`
			} `json:"cluster"`
		} `json:"spec"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(info)))
	if err := dec.Decode(&req); err != nil {
		return execRequest{}, fmt.Errorf("$%s is not an ExecCredential in JSON: %s", execInfoEnv, printable(err.Error()))
	}
	if dec.More() {
		return execRequest{}, fmt.Errorf("$%s is not an ExecCredential in JSON: more after the object", execInfoEnv)
	}
	if req.Kind != "ExecCredential" {
		return execRequest{}, fmt.Errorf("$%s has kind \"%s\", not ExecCredential", execInfoEnv, printable(req.Kind))
	}
	switch req.APIVersion {
	case execCredentialV1, execCredentialV1beta1:
	default:
		return execRequest{}, fmt.Errorf("$%s asks for apiVersion \"%s\"; authc answers %s and %s: set one of them as the exec stanza's apiVersion (see 'authc setup kubectl')",
			execInfoEnv, printable(req.APIVersion), execCredentialV1, execCredentialV1beta1)
	}
	r := execRequest{apiVersion: req.APIVersion, interactive: req.Spec.Interactive}
	if req.Spec.Cluster != nil {
		r.server = req.Spec.Cluster.Server
	}
	return r, nil
}

// execCredential is the answer: apiVersion, kind and status, as client-go
// decodes it.
type execCredential struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Status     execCredentialStatus `json:"status"`
}

type execCredentialStatus struct {
	// ExpirationTimestamp is left out when the provider gave no expiry:
	// client-go then keeps the token until the server refuses it.
	ExpirationTimestamp *jsonTime `json:"expirationTimestamp,omitempty"`
	Token               string    `json:"token"`
}

// newExecCredential is the answer to a request of apiVersion with tok.
func newExecCredential(apiVersion string, tok *client.Token) execCredential {
	return execCredential{
		APIVersion: apiVersion,
		Kind:       "ExecCredential",
		Status:     execCredentialStatus{ExpirationTimestamp: timePtr(tok.Expiry), Token: tok.AccessToken},
	}
}

func runKubectl(ctx context.Context, args []string) error {
	fs := flags("kubectl")
	profile := profileFlags(fs)
	timeout := timeoutFlag(fs, defaultTimeout, "give up when authd has not answered within this long (a login, when kubectl allows one, waits up to 10m)")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(kubectlNotes)
		}
		return err
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	info, set := os.LookupEnv(execInfoEnv)
	req, err := parseExecInfo(info, set)
	if err != nil {
		return err
	}
	interactive := false
	switch {
	case req.interactive != nil:
		interactive = *req.interactive
	default:
		// client-go's own rule before it said: it hands the plugin its
		// stdin when that is a terminal.
		interactive = term.IsTerminal(int(os.Stdin.Fd()))
	}
	name, err := kubeProfile(*profile, req.server)
	if err != nil {
		return err
	}
	tok, err := helperToken(ctx, client.TokenOptions{Profile: name}, interactive, *timeout)
	if err != nil {
		return err
	}
	data, err := json.Marshal(newExecCredential(req.apiVersion, tok))
	if err != nil {
		return fmt.Errorf("encode the ExecCredential: %w", err)
	}
	_, err = os.Stdout.Write(append(data, '\n'))
	return err
}

// kubeProfile is the profile for a cluster: explicit when given, else the
// one whose match list names server. When no profile has a match list,
// the default profile ("") serves every cluster, as with one profile and
// no lists to write; once lists exist, a server none names gets no token:
// a cluster server in a shared kubeconfig is not the user's to choose. A
// missing configuration file names no profile; one that cannot be read is
// an error, as a profile of it may be the one meant.
func kubeProfile(explicit, server string) (string, error) {
	if explicit != "" || server == "" {
		return explicit, nil
	}
	name, cfg, err := helperProfile("", server)
	switch {
	case err == nil:
		return name, nil
	case errors.Is(err, errNoProfile):
		for _, p := range cfg.Profiles {
			if len(p.Match) > 0 {
				return "", &daemonError{reason: api.ProfileNotFound,
					msg:  fmt.Sprintf("no profile's match list names the cluster's server %s", printable(server)),
					hint: "add it to the match list of the profile meant for it, or name the profile with -p in the kubeconfig's args"}
			}
		}
		return "", nil
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	}
	return "", err
}

package main

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"authd.dev/authd/api"
)

// What authc writes into kubeconfigs is read back by client-go's own
// loader (clientcmd.Load), as kubectl reads it.

var testKubeUser = kubeUser{profile: "work", apiVersion: execCredentialV1, command: "/opt/authd/bin/authc"}

// kubectlLayout is a kubeconfig as kubectl writes it.
const kubectlLayout = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTg==
    server: https://k8s.example.com:6443
  name: prod
- cluster:
    server: https://127.0.0.1:6443
  name: kind
contexts:
- context:
    cluster: prod
    namespace: team
    user: prod-admin
  name: prod
- context:
    cluster: kind
    user: prod-admin
  name: kind
current-context: kind
kind: Config
preferences: {}
users:
- name: prod-admin
  user:
    client-certificate-data: LS0tLS1CRUdJTg==
    client-key-data: LS0tLS1CRUdJTg==
`

// handLayout is one written by hand: indented lists, comments, quotes,
// the users before the contexts, and no user in the context yet.
const handLayout = `# my clusters
apiVersion: v1
kind: Config
users:
  # the old way
  - name: "prod-admin"
    user:
      token: abc   # rotate me
  - name: 'it''s-me'
    user:
      username: me
clusters:
  - name: prod
    cluster:
      server: https://k8s.example.com:6443
contexts:
  - name: prod   # production
    context:
      namespace: team
      cluster: prod
current-context: prod
`

func TestSetKubeUser(t *testing.T) {
	for _, tt := range []struct {
		name, data, context, oldUser string
		indent                       int      // of the users list
		added, removed               []string // lines of the edit, besides the user's
	}{
		{"kubectl's layout", kubectlLayout, "prod", "prod-admin", 0, []string{"    user: authd-work"}, []string{"    user: prod-admin"}},
		{"by hand", handLayout, "prod", "", 2, []string{"      user: authd-work"}, nil},
		{"no users", "apiVersion: v1\nkind: Config\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: x\n", "x", "u", 0,
			[]string{"    user: authd-work", "users:"}, []string{"    user: u"}},
		{"users: null", "contexts:\n- context:\n    cluster: c\n  name: x\nusers: null\n", "x", "", 0,
			[]string{"    user: authd-work", "users:"}, []string{"users: null"}},
		{"users: []", "contexts:\n- context:\n    cluster: c\n  name: x\nusers: [] # none yet\n", "x", "", 0,
			[]string{"    user: authd-work", "users:"}, []string{"users: [] # none yet"}},
		{"authd's user there, from another version", kubectlLayout + "- name: authd-work\n  user:\n    token: old\n", "kind", "prod-admin", 0,
			[]string{"    user: authd-work"}, []string{"    user: prod-admin", "- name: authd-work", "  user:", "    token: old"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parseKubeconfig("config", []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			edit, err := doc.setKubeUser(tt.context, testKubeUser)
			if err != nil {
				t.Fatal(err)
			}
			if edit.oldUser != tt.oldUser || edit.unchanged {
				t.Errorf("old user %q (unchanged %v), want %q", edit.oldUser, edit.unchanged, tt.oldUser)
			}
			before, err := clientcmd.Load([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			after, err := clientcmd.Load(edit.data)
			if err != nil {
				t.Fatalf("client-go does not load the edited kubeconfig: %v\n%s", err, edit.data)
			}
			// What client-go reads: the context names authd's user, the
			// user runs authc; everything else is as it was.
			checkKubeUser(t, after.AuthInfos["authd-work"], testKubeUser)
			if got := after.Contexts[tt.context].AuthInfo; got != "authd-work" {
				t.Errorf("context %s has user %q", tt.context, got)
			}
			after.Contexts[tt.context].AuthInfo = before.Contexts[tt.context].AuthInfo
			before.AuthInfos["authd-work"] = after.AuthInfos["authd-work"]
			clearLocations(before)
			clearLocations(after)
			if !reflect.DeepEqual(before, after) {
				t.Errorf("the edit changed more than the context's user and authd's user:\nbefore %+v\nafter  %+v", before, after)
			}
			// And byte for byte: the other lines are all there, in order.
			checkLinesKept(t, tt.data, string(edit.data), append(testKubeUser.yaml(tt.indent), tt.added...), tt.removed)

			// A second run changes nothing.
			doc, err = parseKubeconfig("config", edit.data)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := doc.setKubeUser(tt.context, testKubeUser); err != nil || !again.unchanged {
				t.Errorf("a second run: %v, unchanged %v; want no change", err, again != nil && again.unchanged)
			}
		})
	}
}

// clearLocations drops what clientcmd.Load records of where each entry
// came from, which the comparison does not care about.
func clearLocations(c *clientcmdapi.Config) {
	for _, v := range c.Clusters {
		v.LocationOfOrigin = ""
	}
	for _, v := range c.Contexts {
		v.LocationOfOrigin = ""
	}
	for _, v := range c.AuthInfos {
		v.LocationOfOrigin = ""
	}
}

// checkKubeUser checks the user as client-go reads it.
func checkKubeUser(t *testing.T, got *clientcmdapi.AuthInfo, u kubeUser) {
	t.Helper()
	if got == nil || got.Exec == nil {
		t.Fatalf("no exec user: %+v", got)
	}
	e := got.Exec
	if e.APIVersion != u.apiVersion || e.Command != u.command || !reflect.DeepEqual(e.Args, u.args()) ||
		e.InteractiveMode != clientcmdapi.IfAvailableExecInteractiveMode || !e.ProvideClusterInfo || e.InstallHint != u.installHint() || len(e.Env) != 0 {
		t.Errorf("the exec stanza as client-go reads it: %+v", e)
	}
}

// checkLinesKept fails unless after is before with lines of added
// inserted and lines of removed taken out, the others as they were, in
// their order.
func checkLinesKept(t *testing.T, before, after string, added, removed []string) {
	t.Helper()
	old := strings.Split(strings.TrimSuffix(before, "\n"), "\n")
	lines := strings.Split(strings.TrimSuffix(after, "\n"), "\n")
	i, j := 0, 0
	for i < len(old) || j < len(lines) {
		switch {
		case i < len(old) && j < len(lines) && old[i] == lines[j]:
			i, j = i+1, j+1
		case j < len(lines) && slices.Contains(added, lines[j]):
			j++
		case i < len(old) && slices.Contains(removed, old[i]):
			i++
		default:
			t.Fatalf("the edit changed more than it should, from line %d of the file (%q), line %d of the result (%q):\n%s", i+1, at(old, i), j+1, at(lines, j), after)
		}
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end>"
}

func TestSetKubeUserRefuses(t *testing.T) {
	for _, tt := range []struct{ name, data, say string }{
		{"JSON", `{"apiVersion":"v1","kind":"Config","contexts":[{"name":"x","context":{"user":"u"}}]}`, "no plain"},
		{"flow list", "contexts: [{name: x, context: {user: u}}]\n", "flow style"},
		{"flow context", "contexts:\n- name: x\n  context: {cluster: c, user: u}\n", "not a mapping in block style"},
		{"anchor in the context", "contexts:\n- name: x\n  context: &c\n    user: u\n", "anchor, alias or tag"},
		{"merge key", "base: &b\n  cluster: c\ncontexts:\n- name: x\n  context:\n    <<: *b\n    user: u\n", "merge key"},
		{"alias in authd's user", "contexts:\n- name: x\n  context:\n    user: u\nusers:\n- name: authd-work\n  user: *other\n", "anchor, alias or tag"},
		{"tab", "contexts:\n- name: x\n  context:\n\t user: u\n", "tab"},
		{"CR LF", "contexts:\r\n- name: x\r\n  context:\r\n    user: u\r\n", "CR LF"},
		{"two documents", "kind: Config\n---\ncontexts:\n- name: x\n", "several YAML documents"},
		{"duplicate context", "contexts:\n- name: x\n  context:\n    user: u\n- name: x\n  context:\n    user: v\n", "two entries of contexts named x"},
		{"duplicate key", "contexts:\n- name: x\n  context:\n    user: u\ncontexts:\n", "a second time"},
		{"no name", "contexts:\n- context:\n    user: u\n", "without a name"},
		{"escape in a name", "contexts:\n- name: \"x\\ty\"\n  context:\n    user: u\n", "an escape"},
		{"multi-line name", "contexts:\n- name: \"x\n    y\"\n  context:\n    user: u\n", "goes on past its line"},
		{"odd indentation", "contexts:\n  - name: x\n - name: y\n", "indented less"},
		{"indented document", "  contexts:\n  - name: x\n", "indented"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parseKubeconfig("config", []byte(tt.data))
			if err == nil {
				_, err = doc.setKubeUser("x", testKubeUser)
			}
			if err == nil || !strings.Contains(err.Error(), tt.say) {
				t.Errorf("editing %q: %v; want a refusal saying %q", tt.data, err, tt.say)
			}
		})
	}
	doc, err := parseKubeconfig("config", []byte(kubectlLayout))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := doc.setKubeUser("staging", testKubeUser); err == nil || !strings.Contains(err.Error(), "has no context staging") {
		t.Errorf("a context that is not there: %v", err)
	}
}

// YAML scalars read back as the string written, by client-go's loader
// (sigs.k8s.io/yaml on go-yaml's YAML 1.1 parser, as kubectl reads them).
func TestYAMLScalar(t *testing.T) {
	for _, s := range []string{
		"authd-work", "-p", "true", "yes", "No", "on", "null", "~", "123", "1e3", "0x1F", "a b", "a: b", "a #b", "#x",
		"'q'", `"q"`, `back\slash`, "/usr/local/bin/authc", `C:\Program Files\authd\authc.exe`, "work~1", "é", "line\u2028sep",
		"it's", "&anchor", "*alias", "!tag", "[x]", "{x}", "|", ">", "@", "`", "%", "", " lead", "trail ", "tab\tin", "<<",
	} {
		cfg, err := clientcmd.Load([]byte("users:\n- name: u\n  user:\n    exec:\n      command: " + yamlScalar(s) + "\n"))
		if err != nil || cfg.AuthInfos["u"] == nil || cfg.AuthInfos["u"].Exec.Command != s {
			t.Errorf("yamlScalar(%q) = %s does not read back as it (%v)", s, yamlScalar(s), err)
		}
	}
}

// The printed stanza is a kubeconfig fragment client-go reads.
func TestSetupKubectlPrint(t *testing.T) {
	noDaemon(t)
	r := runAuthc(t, "setup", "kubectl", "--context", "prod", "-p", "work")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("authc setup kubectl: exit %d, stderr %q", r.code, r.stderr)
	}
	cfg, err := clientcmd.Load([]byte(r.stdout))
	if err != nil {
		t.Fatalf("client-go does not read the stanza: %v\n%s", err, r.stdout)
	}
	exe, _ := os.Executable()
	checkKubeUser(t, cfg.AuthInfos["authd-work"], kubeUser{profile: "work", apiVersion: execCredentialV1, command: exe})
	for _, want := range []string{"kubectl config set-context prod --user=authd-work", "client.authentication.k8s.io/v1beta1 (--api-version v1beta1)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the stanza's comment does not say %q:\n%s", want, r.stdout)
		}
	}
	if !filepath.IsAbs(cfg.AuthInfos["authd-work"].Exec.Command) {
		t.Errorf("the command is not an absolute path: %q", cfg.AuthInfos["authd-work"].Exec.Command)
	}

	r = runAuthc(t, "setup", "kubectl", "--api-version", "v1beta1")
	cfg, err = clientcmd.Load([]byte(r.stdout))
	if err != nil || cfg.AuthInfos["authd"] == nil || cfg.AuthInfos["authd"].Exec.APIVersion != execCredentialV1beta1 ||
		!reflect.DeepEqual(cfg.AuthInfos["authd"].Exec.Args, []string{"kubectl"}) {
		t.Errorf("authc setup kubectl --api-version v1beta1, no profile: %v\n%s", err, r.stdout)
	}
}

func TestSetupKubectlWrite(t *testing.T) {
	noDaemon(t)
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("mode 0600, link kept", func(t *testing.T) {
		target := write("real-config", kubectlLayout, 0o644)
		link := filepath.Join(dir, "config")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		r := runAuthc(t, "setup", "kubectl", "--context", "prod", "-p", "work", "--write", "--kubeconfig", link)
		if r.code != 0 || !strings.Contains(r.stderr, "it used user prod-admin") || r.stdout != "" {
			t.Fatalf("authc setup kubectl --write: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link to the kubeconfig was replaced: %v %v", fi.Mode(), err)
		}
		fi, err := os.Stat(target)
		if err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
			t.Errorf("the kubeconfig's mode after the write: %v %v; want 0600", fi.Mode(), err)
		}
		cfg, err := clientcmd.LoadFromFile(link)
		if err != nil || cfg.Contexts["prod"].AuthInfo != "authd-work" || cfg.Contexts["kind"].AuthInfo != "prod-admin" {
			t.Fatalf("the kubeconfig after the write: %v", err)
		}
		leftovers, _ := filepath.Glob(filepath.Join(dir, ".*authd-*"))
		if _, err := os.Stat(link + ".lock"); err == nil || len(leftovers) > 0 {
			t.Errorf("the write left its lock or temporary file: %v", leftovers)
		}
	})

	t.Run("kubectl's lock", func(t *testing.T) {
		path := write("locked", kubectlLayout, 0o600)
		write("locked.lock", "", 0o600)
		r := runAuthc(t, "setup", "kubectl", "--context", "prod", "--write", "--kubeconfig", path)
		data, _ := os.ReadFile(path)
		if r.code != api.ExitError || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "locked.lock exists") || string(data) != kubectlLayout {
			t.Errorf("a write while kubectl holds the lock: exit %d, stderr %q; want a refusal and the file as it was", r.code, r.stderr)
		}
	})

	t.Run("KUBECONFIG list", func(t *testing.T) {
		first := write("first", "apiVersion: v1\nkind: Config\nusers:\n- name: me\n  user:\n    token: x\n", 0o600)
		second := write("second", kubectlLayout, 0o600)
		t.Setenv("KUBECONFIG", first+string(filepath.ListSeparator)+filepath.Join(dir, "missing")+string(filepath.ListSeparator)+second)
		r := runAuthc(t, "setup", "kubectl", "--context", "kind", "-p", "work", "--write")
		if r.code != 0 || !strings.Contains(r.stderr, second) {
			t.Fatalf("--write with the context in the second file of $KUBECONFIG: exit %d, stderr %q", r.code, r.stderr)
		}
		if data, _ := os.ReadFile(first); strings.Contains(string(data), "authd") {
			t.Errorf("the first file, without the context, was written:\n%s", data)
		}
		// A user of authd's name in an earlier file would hide the one
		// written: refused.
		write("first", "users:\n- name: authd-work\n  user:\n    token: x\n", 0o600)
		r = runAuthc(t, "setup", "kubectl", "--context", "prod", "-p", "work", "--write")
		if r.code != api.ExitError || !strings.Contains(r.stderr, "would hide the one authc writes") {
			t.Errorf("--write with authd's user in an earlier file: exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			say  string
		}{
			{[]string{"setup", "kubectl", "--write"}, "--write needs --context"},
			{[]string{"setup", "kubectl", "--api-version", "v2"}, `--api-version "v2"`},
			{[]string{"setup", "git"}, `cannot set up "git"`},
			{[]string{"setup"}, "set up what?"},
		} {
			r := runAuthc(t, tt.args...)
			if r.code != api.ExitUsage || !strings.Contains(r.stderr, tt.say) {
				t.Errorf("authc %v: exit %d, stderr %q; want exit 2 saying %s", tt.args, r.code, r.stderr, tt.say)
			}
		}
		r := runAuthc(t, "setup", "kubectl", "--context", "nope", "--write", "--kubeconfig", filepath.Join(dir, "none"))
		if r.code != api.ExitError || !strings.Contains(r.stderr, "there is no kubeconfig at") {
			t.Errorf("--write to a kubeconfig that is not there: exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

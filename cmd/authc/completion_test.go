package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The completion scripts run in the real shells: each test sources the
// script authc printed and calls its completion as the shell would, with
// authc on PATH (the test binary, as TestAuthcProcess) answering the
// profile names from a config file. bash is required; zsh and fish are
// tested when installed.

// completionConfig is the config file the shells' authc reads.
const completionConfig = `default_profile = "work"
[profiles.work]
issuer = "https://idp.example.test"
client_id = "c"
[profiles.ci-bot]
issuer = "https://idp.example.test"
client_id = "c"
`

// completionSetup writes the config, puts an authc on PATH that is this
// test binary, and returns the script authc prints for shell.
func completionSetup(t *testing.T, shell string) (script string) {
	t.Helper()
	noDaemon(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(completionConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHD_CONFIG", cfg)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	wrapper := "#!/bin/sh\nAUTHC_TEST_ARGS=\"$*\" exec '" + self + "' -test.run='^TestAuthcProcess$'\n"
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "authc"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	addSubcommandCommand(t)
	r := runAuthc(t, "completion", shell)
	if r.code != 0 || r.stderr != "" || r.stdout == "" {
		t.Fatalf("authc completion %s: exit %d, stderr %q", shell, r.code, r.stderr)
	}
	script = filepath.Join(dir, "authc."+shell)
	if err := os.WriteFile(script, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	return script
}

// addSubcommandCommand registers, for the test, a command shaped like
// 'authc setup': a subcommand with a FlagSet of its own, and a flag whose
// values its usage line spells out.
func addSubcommandCommand(t *testing.T) {
	t.Helper()
	order := commandOrder
	commandOrder = append(slices.Clone(order), "zz-sub")
	commands["zz-sub"] = command{"run [--color red|blue] [--size N]", "A command of the test's.", func(_ context.Context, args []string) error {
		fs := flags("zz-sub")
		if len(args) > 0 && args[0] == "run" {
			fs.String("color", "red", "the color")
			fs.Int("size", 1, "the size")
			args = args[1:]
		}
		return parse(fs, args)
	}}
	t.Cleanup(func() {
		commandOrder = order
		delete(commands, "zz-sub")
	})
}

// shellRun runs a shell command line and returns its stdout's lines.
func shellRun(t *testing.T, name string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("%s %q: %v\nstderr: %s", name, args, err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s %q did not finish within 30s", name, args)
	}
	return lines(stdout.String())
}

// completionCases are what a user types (the last word is being
// completed) and what must be offered; every word of want, and, when
// exact, nothing else.
var completionCases = []struct {
	words []string
	want  []string
	exact bool
}{
	{[]string{"authc", "to"}, []string{"token"}, true},
	{[]string{"authc", ""}, []string{"token", "git-credential", "docker-credential", "completion", "help"}, false},
	{[]string{"authc", "token", "--force"}, []string{"--force-refresh"}, true},
	{[]string{"authc", "token", "-"}, []string{"--min-valid", "--json", "-p", "--profile", "--help"}, false},
	{[]string{"authc", "token", "-p", ""}, []string{"ci-bot", "work"}, true},
	{[]string{"authc", "login", "--profile", "w"}, []string{"work"}, true},
	{[]string{"authc", "token", "--timeout", ""}, nil, true},
	{[]string{"authc", "git-credential", "-p", "work", ""}, []string{"get", "store", "erase"}, true},
	{[]string{"authc", "docker-credential", "l"}, []string{"list"}, true},
	{[]string{"authc", "completion", ""}, []string{"bash", "zsh", "fish"}, true},
	{[]string{"authc", "help", "docker"}, []string{"docker-credential"}, true},
	{[]string{"authc", "zz-sub", ""}, []string{"run"}, true},
	{[]string{"authc", "zz-sub", "run", "--co"}, []string{"--color"}, true},
	{[]string{"authc", "zz-sub", "run", "--color", ""}, []string{"blue", "red"}, true},
	{[]string{"authc", "zz-sub", "run", "--size", ""}, nil, true},
}

func TestBashCompletion(t *testing.T) {
	script := completionSetup(t, "bash")
	call := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _authc; printf '%s\n' "${COMPREPLY[@]}"`
	cases := append(completionCases, struct {
		words []string
		want  []string
		exact bool
	}{[]string{"authc", "git-credential", "--profile", "=", "ci"}, []string{"ci-bot"}, true}) // bash splits --profile=ci
	for _, tt := range cases {
		got := shellRun(t, "bash", append([]string{"--norc", "--noprofile", "-c", call, "bash", script}, tt.words...)...)
		checkCompletion(t, "bash", tt.words, got, tt.want, tt.exact)
	}
	if got := shellRun(t, "bash", "--norc", "--noprofile", "-c", `source "$1"; complete -p authc`, "bash", script); len(got) != 1 || got[0] != "complete -F _authc authc" {
		t.Errorf("the bash script registers %q, want the completion of authc by _authc", got)
	}
}

// TestZshCompletion calls the function the script defines with zsh's
// completion builtins replaced by ones that print what they are given:
// zsh itself filters by what was typed, so only the exact cases are
// checked for their words, not for the absence of others.
func TestZshCompletion(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh is not installed")
	}
	script := completionSetup(t, "zsh")
	shellRun(t, "zsh", "-n", script)
	call := `compdef() { :; }
compadd() { local i=${@[(i)--]}; print -rl -- "${@[i+1,-1]}"; }
_describe() { local name=${@[-1]}; print -rl -- "${${(P)name}[@]%%:*}"; }
_files() { print -r -- '<files>'; }
source "$1"; shift
words=("$@"); CURRENT=$#
_authc`
	for _, tt := range completionCases {
		var got []string
		for _, w := range shellRun(t, "zsh", append([]string{"-f", "-c", call, "zsh", script}, tt.words...)...) {
			if strings.HasPrefix(w, tt.words[len(tt.words)-1]) {
				got = append(got, w)
			}
		}
		checkCompletion(t, "zsh", tt.words, got, tt.want, tt.exact)
	}
}

func TestFishCompletion(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("fish is not installed")
	}
	script := completionSetup(t, "fish")
	shellRun(t, "fish", "--no-execute", script)
	for _, tt := range completionCases {
		var got []string
		line := strings.Join(tt.words, " ")
		for _, l := range shellRun(t, "fish", "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, line) {
			word, _, _ := strings.Cut(l, "\t")
			got = append(got, word)
		}
		checkCompletion(t, "fish", tt.words, got, tt.want, tt.exact)
	}
}

func checkCompletion(t *testing.T, shell string, words, got, want []string, exact bool) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s completes %q to %q, which lacks %q", shell, words, got, w)
			return
		}
	}
	if exact && len(got) != len(want) {
		t.Errorf("%s completes %q to %q, want %q", shell, words, got, want)
	}
}

// parseFlagHelp reads what flag.PrintDefaults writes, for every kind of
// flag.
func TestParseFlagHelp(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Bool("b", false, "a short bool")
	fs.Bool("long-bool", false, "a long bool")
	fs.String("p", "", "a short `name`")
	fs.Duration("timeout", time.Second, "a duration\nwith a second line")
	fs.Var(&stringList{}, "scope", "a list")
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.PrintDefaults()
	help := "Usage: authc x\n\nSummary.\n\nFlags:\n" + out.String() + "\n  -not a flag: notes after the flags\n"
	got := parseFlagHelp(help)
	want := []completionFlag{
		{name: "b", usage: "a short bool"},
		{name: "long-bool", usage: "a long bool"},
		{name: "p", usage: "a short name", value: true},
		{name: "scope", usage: "a list", value: true},
		{name: "timeout", usage: "a duration", value: true},
	}
	if !slices.EqualFunc(got, want, func(a, b completionFlag) bool {
		return a.name == b.name && a.usage == b.usage && a.value == b.value && a.choices == nil
	}) {
		t.Errorf("parseFlagHelp of\n%s\n= %+v\nwant %+v", help, got, want)
	}
	if got := parseFlagHelp("Usage: authc version\n\nPrint.\n"); got != nil {
		t.Errorf("parseFlagHelp without flags = %+v", got)
	}
}

func TestParseUsage(t *testing.T) {
	for _, tt := range []struct {
		args              string
		subcommands, alts []string
		flagValues        map[string][]string
	}{
		{"[-p PROFILE] [--timeout 30s] get|store|erase", nil, []string{"get", "store", "erase"}, nil},
		{"bash|zsh|fish", nil, []string{"bash", "zsh", "fish"}, nil},
		{"[--login|--no-login] [-p PROFILE] [--min-valid 5m]", nil, nil, nil},
		{"[-p PROFILE | --all]", nil, nil, nil},
		{"[TOKEN | -]", nil, nil, nil},
		{"[COMMAND]", nil, nil, nil},
		{"[-p PROFILE] [--env NAME]... -- CMD ARGS...", nil, nil, nil},
		{"[--format json] [kubectl|git]", nil, []string{"kubectl", "git"}, nil},
		{"kubectl [--context NAME] [-p PROFILE] [--write] [--api-version v1|v1beta1]", []string{"kubectl"}, nil,
			map[string][]string{"--api-version": {"v1", "v1beta1"}}},
		{"", nil, nil, nil},
	} {
		u := parseUsage(tt.args)
		if !slices.Equal(u.subcommands, tt.subcommands) || !slices.Equal(u.words, tt.alts) || len(u.flagValues) != len(tt.flagValues) {
			t.Errorf("parseUsage(%q) = %+v, want subcommands %q, alternatives %q, flag values %q", tt.args, u, tt.subcommands, tt.alts, tt.flagValues)
			continue
		}
		for f, vs := range tt.flagValues {
			if !slices.Equal(u.flagValues[f], vs) {
				t.Errorf("parseUsage(%q) values of %s = %q, want %q", tt.args, f, u.flagValues[f], vs)
			}
		}
	}
}

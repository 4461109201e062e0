package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

// Shell completion: 'authc completion SHELL' prints a script that completes
// authc's commands, each command's flags and the words it takes, and the
// profile names of the config file. The flags are the commands' own: each
// command prints its FlagSet for --help, and the script is made from that,
// so a new flag completes without a change here. Profile names are read
// when the shell completes them, by 'authc completion profiles', which
// reads the config file as the daemon does (and needs no daemon).

func init() {
	commands["completion"] = command{
		"bash|zsh|fish",
		"Print a shell completion script for authc's commands, their flags and the config's profile names.",
		runCompletion,
	}
}

const completionNotes = `
Load it from the shell's startup file:

  bash  source <(authc completion bash)
        or save it as ~/.local/share/bash-completion/completions/authc
  zsh   source <(authc completion zsh)
        or save it as _authc in a directory of $fpath
  fish  authc completion fish | source
        or save it as ~/.config/fish/completions/authc.fish

Profile names are read from the config file when the shell completes them
('authc completion profiles' prints them); authd need not be running.
`

func runCompletion(ctx context.Context, args []string) error {
	fs := flags("completion")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(completionNotes)
		}
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"completion takes one shell: bash, zsh or fish"}
	}
	var script func([]completionCommand) string
	switch fs.Arg(0) {
	case "profiles":
		printProfiles()
		return nil
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "fish":
		script = fishCompletion
	default:
		return usageError{fmt.Sprintf("unknown shell %q: bash, zsh or fish", fs.Arg(0))}
	}
	cmds, err := completionCommands(ctx)
	if err != nil {
		return err
	}
	_, err = io.WriteString(os.Stdout, script(cmds))
	return err
}

// printProfiles prints the config's profile names, one a line; nothing
// when the file cannot be read: a shell completing has nowhere to say so.
func printProfiles() {
	cfg, err := readConfig()
	if err != nil {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Profiles)) {
		fmt.Println(name)
	}
}

// completionCommand is what a script completes for one command.
type completionCommand struct {
	name, summary string
	flags         []completionFlag
	words         []string // the words it takes after its flags
}

// completionFlag is one flag of a command's FlagSet.
type completionFlag struct {
	name    string   // without dashes
	usage   string   // the first line of its help
	value   bool     // it takes a value: the next word is not a flag or a command
	choices []string // the values its command's usage line offers, if any
}

// dashed is the flag as the scripts offer it: -p, --profile.
func (f completionFlag) dashed() string {
	if len(f.name) == 1 {
		return "-" + f.name
	}
	return "--" + f.name
}

// profile reports whether the flag's value is a profile name.
func (f completionFlag) profile() bool { return f.name == "p" || f.name == "profile" }

// completionCommands describes every command of 'authc help', in its
// order.
func completionCommands(ctx context.Context) ([]completionCommand, error) {
	var names []string
	for _, name := range commandOrder {
		if _, ok := commands[name]; ok {
			names = append(names, name)
		}
	}
	var out []completionCommand
	for _, name := range names {
		cmd := commands[name]
		u := parseUsage(cmd.args)
		help, err := commandHelp(ctx, cmd)
		if err != nil {
			return nil, err
		}
		flags := parseFlagHelp(help)
		// A subcommand ('setup kubectl') has a FlagSet of its own.
		for _, sub := range u.subcommands {
			help, err := commandHelp(ctx, cmd, sub)
			if err != nil {
				return nil, err
			}
			for _, f := range parseFlagHelp(help) {
				if !slices.ContainsFunc(flags, func(g completionFlag) bool { return g.name == f.name }) {
					flags = append(flags, f)
				}
			}
		}
		for i, f := range flags {
			flags[i].choices = u.flagValues[f.dashed()]
		}
		c := completionCommand{name: name, summary: cmd.summary, flags: flags, words: append(u.subcommands, u.words...)}
		if name == "help" {
			c.words = names
		}
		out = append(out, c)
	}
	return out, nil
}

// commandHelp is what cmd prints for --help (after the words of a
// subcommand, if any): its usage, summary and the FlagSet's
// PrintDefaults, which only the command's run can reach.
func commandHelp(ctx context.Context, cmd command, sub ...string) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("read the commands' flags: %w", err)
	}
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		r.Close()
		read <- b
	}()
	stdout := os.Stdout
	os.Stdout = w
	func() {
		defer func() { os.Stdout = stdout }()
		_ = cmd.run(ctx, append(sub, "--help"))
	}()
	w.Close()
	return string(<-read), nil
}

// parseFlagHelp reads the flags from a command's help: the lines of
// flag.PrintDefaults under "Flags:", "  -name" or "  -name type" each (a
// type says it takes a value) and its usage on the same line after a tab
// or on the next, indented by "    \t".
func parseFlagHelp(help string) []completionFlag {
	_, section, ok := strings.Cut(help, "\nFlags:\n")
	if !ok {
		return nil
	}
	section, _, _ = strings.Cut(section, "\n\n")
	lines := strings.Split(section, "\n")
	var out []completionFlag
	for i, l := range lines {
		if !strings.HasPrefix(l, "  -") {
			continue
		}
		head, usage, sameLine := strings.Cut(l[len("  -"):], "\t")
		name, typ, _ := strings.Cut(head, " ")
		if !sameLine && i+1 < len(lines) {
			usage = strings.TrimPrefix(lines[i+1], "    \t")
		}
		out = append(out, completionFlag{name: name, usage: strings.TrimSpace(usage), value: typ != ""})
	}
	return out
}

// choice reports whether w is a word of a command's usage line that the
// user types as it is: a subcommand, an alternative of get|store|erase
// ([a-z][a-z0-9-]*). Placeholders are upper case (PROFILE), flags start
// with a dash, examples with a digit (30s).
func choice(w string) bool {
	if w == "" || w[0] < 'a' || w[0] > 'z' {
		return false
	}
	for _, r := range w {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// usageWords are the words a command's usage line offers.
type usageWords struct {
	subcommands []string            // bare words outside brackets: setup's kubectl
	words       []string            // alternatives: get|store|erase, bash|zsh|fish
	flagValues  map[string][]string // a flag's alternatives: --api-version v1|v1beta1
}

// parseUsage reads the words a command's usage line offers to type: its
// subcommands, the alternatives it takes, and the alternatives of a flag's
// value. Flags' own alternatives ([--login|--no-login]) are not words.
func parseUsage(args string) usageWords {
	u := usageWords{flagValues: map[string][]string{}}
	depth, prev := 0, ""
	for _, field := range strings.Fields(args) {
		inBrackets := depth > 0 || strings.HasPrefix(field, "[")
		depth += strings.Count(field, "[") - strings.Count(field, "]")
		word := strings.Trim(field, "[]")
		flag := prev
		prev = word
		alts := strings.Split(word, "|")
		if !slices.ContainsFunc(alts, func(a string) bool { return !choice(a) }) {
			switch {
			case strings.HasPrefix(flag, "-"):
				// One word is an example value (--format json), not the
				// only one.
				if len(alts) > 1 {
					u.flagValues[flag] = alts
				}
			case len(alts) > 1:
				u.words = append(u.words, alts...)
			case !inBrackets:
				u.subcommands = append(u.subcommands, word)
			}
		}
	}
	return u
}

// flagLists are a command's flags as the scripts use them: all of them,
// those that take a value, and those whose value is a profile name.
func flagLists(c completionCommand) (all, values, profiles []string) {
	for _, f := range c.flags {
		all = append(all, f.dashed())
		if f.value {
			values = append(values, f.dashed())
		}
		if f.profile() {
			profiles = append(profiles, f.dashed())
		}
	}
	return append(all, "--help"), values, profiles
}

// helpUsage describes the --help every command has.
const helpUsage = "show the command's usage and flags"

func commandNames(cmds []completionCommand) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.name)
	}
	return out
}

// The scripts quote only what the commands define: command, flag and
// choice names are [a-z0-9-] words; summaries and usages are quoted for
// zsh and fish.

func bashCompletion(cmds []completionCommand) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# bash completion for authc, printed by 'authc completion bash'.
# Load it with: source <(authc completion bash)

_authc() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= i
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}
	# bash splits --flag=value at the '='.
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi
	# Go's flags take one dash as well as two.
	[[ $prev == -[!-]?* ]] && prev=-$prev
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	local flags= values= profiles= words=
	case $cmd in
	'')
		COMPREPLY=($(compgen -W '%s --help --version' -- "$cur"))
		return
		;;
`, strings.Join(commandNames(cmds), " "))
	for _, c := range cmds {
		all, values, profiles := flagLists(c)
		fmt.Fprintf(&b, "\t%s)\n\t\tflags='%s' values='%s' profiles='%s' words='%s'\n\t\t;;\n",
			c.name, strings.Join(all, " "), strings.Join(values, " "), strings.Join(profiles, " "), strings.Join(c.words, " "))
	}
	b.WriteString(`	*)
		return
		;;
	esac
	# After --, the words are another command's.
	for ((i++; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == -- ]]; then
			compopt -o default 2>/dev/null
			COMPREPLY=()
			return
		fi
	done
	if [[ -n $prev && " $values " == *" $prev "* ]]; then
		COMPREPLY=()
		if [[ " $profiles " == *" $prev "* ]]; then
			COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" completion profiles 2>/dev/null)" -- "$cur"))
			return
		fi
		case $cmd:$prev in
`)
	for _, c := range cmds {
		for _, f := range c.flags {
			if len(f.choices) > 0 {
				fmt.Fprintf(&b, "\t\t%s:%s) COMPREPLY=($(compgen -W '%s' -- \"$cur\")) ;;\n", c.name, f.dashed(), strings.Join(f.choices, " "))
			}
		}
	}
	b.WriteString(`		esac
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
	fi
}

complete -F _authc authc
`)
	return b.String()
}

// zshQuote quotes s for zsh, in single quotes.
func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// zshWords quotes each word for an array.
func zshWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = zshQuote(w)
	}
	return strings.Join(q, " ")
}

func zshCompletion(cmds []completionCommand) string {
	var b strings.Builder
	b.WriteString(`#compdef authc
# zsh completion for authc, printed by 'authc completion zsh'.
# Load it with: source <(authc completion zsh), or save it as _authc in a
# directory of $fpath.

_authc() {
	local cur=${words[CURRENT]} prev=${words[CURRENT-1]} cmd= i
	[[ $prev == -[!-]?* ]] && prev=-$prev
	for ((i = 2; i < CURRENT; i++)); do
		case ${words[i]} in
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done
	local -a commands flags values profiles choices
	commands=(
`)
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t\t%s\n", zshQuote(c.name+":"+c.summary))
	}
	b.WriteString(`	)
	case $cmd in
	'')
		if [[ $cur == -* ]]; then
			compadd -- --help --version
		else
			_describe -t commands 'authc command' commands
		fi
		return
		;;
`)
	for _, c := range cmds {
		_, values, profiles := flagLists(c)
		var described []string
		for _, f := range c.flags {
			described = append(described, f.dashed()+":"+f.usage)
		}
		described = append(described, "--help:"+helpUsage)
		fmt.Fprintf(&b, "\t%s)\n\t\tflags=(%s)\n\t\tvalues=(%s) profiles=(%s) choices=(%s)\n\t\t;;\n",
			c.name, zshWords(described), zshWords(values), zshWords(profiles), zshWords(c.words))
	}
	b.WriteString(`	*)
		return 1
		;;
	esac
	for ((i++; i < CURRENT; i++)); do
		if [[ ${words[i]} == -- ]]; then
			_files
			return
		fi
	done
	if ((${values[(Ie)$prev]})); then
		if ((${profiles[(Ie)$prev]})); then
			compadd -- ${(f)"$(${words[1]} completion profiles 2>/dev/null)"}
			return
		fi
		case $cmd:$prev in
`)
	for _, c := range cmds {
		for _, f := range c.flags {
			if len(f.choices) > 0 {
				fmt.Fprintf(&b, "\t\t%s:%s) compadd -- %s ;;\n", c.name, f.dashed(), zshWords(f.choices))
			}
		}
	}
	b.WriteString(`		esac
		return
	fi
	if [[ $cur == -* ]]; then
		_describe -t flags 'flag' flags
	else
		compadd -- $choices
	fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
	_authc "$@"
else
	compdef _authc authc
fi
`)
	return b.String()
}

// fishQuote quotes s for fish, in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func fishCompletion(cmds []completionCommand) string {
	var b strings.Builder
	b.WriteString(`# fish completion for authc, printed by 'authc completion fish'.
# Load it with: authc completion fish | source, or save it as
# ~/.config/fish/completions/authc.fish

function __authc_profiles
	set -l cmd (commandline -opc)
	$cmd[1] completion profiles 2>/dev/null
end

complete -c authc -f
complete -c authc -n __fish_use_subcommand -l help -d 'Show the commands'
complete -c authc -n __fish_use_subcommand -l version -d 'Print authc\'s version'
`)
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c authc -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.summary))
	}
	for _, c := range cmds {
		cond := fishQuote("__fish_seen_subcommand_from " + c.name)
		for _, f := range c.flags {
			opt := "-l " + f.name
			if len(f.name) == 1 {
				opt = "-s " + f.name
			}
			switch {
			case f.profile():
				opt += " -x -a '(__authc_profiles)'"
			case len(f.choices) > 0:
				opt += " -x -a " + fishQuote(strings.Join(f.choices, " "))
			case f.value:
				opt += " -x"
			}
			fmt.Fprintf(&b, "complete -c authc -n %s %s -d %s\n", cond, opt, fishQuote(f.usage))
		}
		fmt.Fprintf(&b, "complete -c authc -n %s -l help -d %s\n", cond, fishQuote(helpUsage))
		if len(c.words) > 0 {
			fmt.Fprintf(&b, "complete -c authc -n %s -a %s\n", cond, fishQuote(strings.Join(c.words, " ")))
		}
	}
	return b.String()
}

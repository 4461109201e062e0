#!/usr/bin/env bash
# Checks that scripts/packages.txt, the one list of Debian packages, covers
# what the code runs, then installs what SCRIPT needs and checks that too:
#
#	scripts/check-deps.sh [SCRIPT...]     (default: test)
#
# 1. Every command the scripts run (found by reading them as bash does, the
#    bodies of 'bash -c', traps and $(...) included), every file under /usr,
#    /etc, /opt, /bin, /sbin or /lib they name, and every command or /bin,
#    /usr/bin path the Go code execs (exec.Command, exec.LookPath and
#    string literals; not in files for macOS or Windows only, *_darwin.go
#    and *_windows.go, whose commands are those systems') must come from a
#    package the list gives to the script
#    that needs it: Go tests to test, tools/bench to bench, the
#    browserdriver to test and demo. An installed command is traced to its
#    package with dpkg -S; a missing one must be in the list's "provides".
#    Go itself, Debian's essential and required packages, the repository's
#    own commands and scripts, and shell builtins need no entry.
# 2. scripts/deps.sh SCRIPT, then every package listed for SCRIPT must be
#    installed (dpkg-query), and every command or file it "provides" must
#    exist and belong to that package.
#
# Runs before anything is installed on a fresh Debian: bash, coreutils,
# grep, sed, mawk and dpkg only.
set -euo pipefail
cd "$(dirname "$0")/.."
list=scripts/packages.txt
[ $# -eq 0 ] && set -- test

problems=()
problem() { problems+=("$*"); }

# The list: package -> scripts, provided item -> package, and the scripts
# it names.
declare -A pkg_users provider named
while read -r pkg users provides; do
	case $pkg in '' | '#'*) continue ;; esac
	pkg_users[$pkg]=",$users,"
	for item in $provides; do provider[$item]=$pkg; done
	for user in ${users//,/ }; do named[$user]=1; done
done <"$list"

# Which scripts run what a file runs: a script, itself and the scripts
# that call it (test.sh calls gen.sh, fuzz.sh and with-secret-service.sh).
script_users() {
	local file=$1 seen=${2:-} name caller
	name=$(basename "$file" .sh)
	case " $seen " in *" $name "*) return ;; esac
	[ -z "${named[$name]:-}" ] || echo "$name"
	for caller in $(grep -lE "^[^#]*scripts/$name\.sh" scripts/*.sh); do
		script_users "$caller" "$seen $name"
	done
}
go_users() {
	case $1 in
	*_test.go) echo test ;;
	tools/bench/*) echo bench ;;
	tools/browserdriver/*) echo test demo ;;
	*) echo test ;;
	esac
}

# The commands a bash script runs, one "C word" per line, and the functions
# it defines as "F name". A small lexer: quotes, $(...), backquotes, ${...},
# $((...)), comments, heredocs, redirections and case patterns; the single-
# quoted argument of 'bash -c' or 'trap' is read as a script too.
script_commands() {
	awk '
	BEGIN { RS = "\001" }
	{ S = $0; N = length(S); P = 1; D = 0; scan("") }

	function reset() { atcmd[D] = 1; first[D] = ""; prevw[D] = ""; nargs[D] = 0; skipfile[D] = 0; opts[D] = 0 }
	function endword(   w) {
		w = word[D]
		if (w == "" && !quoted[D]) return
		word[D] = ""
		if (skipfile[D]) { skipfile[D] = 0; quoted[D] = 0; return }
		if (atcmd[D]) {
			if (w ~ /^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=/) { quoted[D] = 0; return }
			if (opts[D] && w ~ /^-/) { quoted[D] = 0; return }
			if (!quoted[D] && w ~ /^(!|if|then|elif|else|while|until|do|\{|\}|exec|time|command|env|sudo|nohup)$/) {
				opts[D] = (w == "command" || w == "env" || w == "sudo")
				return
			}
			if (!quoted[D]) print "C " w
			first[D] = w; atcmd[D] = 0; opts[D] = 0
		} else {
			prevw[D] = w; nargs[D]++
		}
		quoted[D] = 0
	}
	function separator() { endword(); reset() }
	# rescan reads s as a script of its own.
	function rescan(s,   sS, sN, sP) {
		sS = S; sN = N; sP = P
		S = s; N = length(s); P = 1
		D++; scan(""); D--
		S = sS; N = sN; P = sP
	}
	function skip_arith(   n, c) { # at "((": to after the matching "))"
		n = 0
		for (; P <= N; P++) {
			c = substr(S, P, 1)
			if (c == "(") n++
			else if (c == ")" && --n == 0) { P++; return }
		}
	}
	function skip_brace(   n, c) { # at "${": to after the matching "}"
		n = 0
		for (; P <= N; P++) {
			c = substr(S, P, 1)
			if (c == "{") n++
			else if (c == "}" && --n == 0) { P++; return }
		}
	}
	function dollar(   c2) { # at "$": expansions that hold commands
		c2 = substr(S, P + 1, 2)
		if (c2 == "((") { P++; skip_arith(); return }
		if (substr(c2, 1, 1) == "(") { P += 2; D++; scan(")"); D--; return }
		if (substr(c2, 1, 1) == "{") { P++; skip_brace(); return }
		P++
	}
	function heredoc(   d, c) { # after "<<": the delimiter; the body follows the line
		if (substr(S, P, 1) == "-") P++
		while (substr(S, P, 1) ~ /[ \t]/) P++
		d = ""
		for (; P <= N; P++) {
			c = substr(S, P, 1)
			if (c ~ /[ \t\n;|&<>()]/) break
			if (c != "\"" && c != "\047" && c != "\\") d = d c
		}
		pending[D] = d
	}
	function skip_heredoc(   line, e) { # at the start of the line after a heredoc
		while (P <= N) {
			e = index(substr(S, P), "\n")
			line = e ? substr(S, P, e - 1) : substr(S, P)
			P = e ? P + e : N + 1
			sub(/^\t+/, "", line)
			if (line == pending[D]) break
		}
		pending[D] = ""
	}
	function scan(stop,   c, e, body) {
		reset(); word[D] = ""; quoted[D] = 0; pending[D] = ""
		while (P <= N) {
			c = substr(S, P, 1)
			if (c == stop) { endword(); P++; return }
			if (c == "\\") {
				if (substr(S, P + 1, 1) != "\n") word[D] = word[D] substr(S, P + 1, 1)
				P += 2
			} else if (c == "\047") {
				e = index(substr(S, P + 1), "\047")
				if (!e) e = N - P + 1
				body = substr(S, P + 1, e - 1)
				P += e + 1
				if (!atcmd[D] && (prevw[D] == "-c" || (first[D] == "trap" && nargs[D] == 0))) rescan(body)
				quoted[D] = 1
			} else if (c == "\"") {
				quoted[D] = 1
				for (P++; P <= N; ) {
					c = substr(S, P, 1)
					if (c == "\"") { P++; break }
					if (c == "\\") P += 2
					else if (c == "$") dollar()
					else if (c == "`") { P++; D++; scan("`"); D-- }
					else P++
				}
			} else if (c == "$") {
				quoted[D] = quoted[D] || substr(S, P + 1, 1) != ""
				word[D] = word[D] "$"
				dollar()
			} else if (c == "`") {
				P++; D++; scan("`"); D--
				quoted[D] = 1
			} else if (c == "#" && word[D] == "" && !quoted[D]) {
				e = index(substr(S, P), "\n")
				P = e ? P + e - 1 : N + 1
			} else if (c == "\n") {
				separator(); P++
				if (pending[D] != "") skip_heredoc()
			} else if (c == ";" || c == "|" || c == "&") {
				if (c == "&" && substr(S, P + 1, 1) == ">") { endword(); skipfile[D] = 1; P += 2; continue }
				separator(); P++
			} else if (c == "(") {
				if (substr(S, P + 1, 1) == "(") { skip_arith(); separator(); continue }
				if (word[D] ~ /=$/) { skip_arith(); word[D] = ""; quoted[D] = 0; separator(); continue } # an array
				if (atcmd[D] && word[D] != "" && !quoted[D]) print "F " word[D]
				word[D] = ""; quoted[D] = 0
				separator(); P++
			} else if (c == ")") {
				if (atcmd[D]) { word[D] = ""; quoted[D] = 0 } # a case pattern
				separator(); P++
			} else if (c == "<" || c == ">") {
				if (word[D] ~ /^[0-9]*$/ && !quoted[D]) word[D] = ""
				endword()
				if (substr(S, P, 3) == "<<<") { P += 3; skipfile[D] = 1; continue }
				if (substr(S, P, 2) == "<<") { P += 2; heredoc(); continue }
				P++
				if (substr(S, P, 1) ~ /[>&|]/) P++
				skipfile[D] = 1
			} else if (c == " " || c == "\t") {
				endword(); P++
			} else {
				word[D] = word[D] c; P++
			}
		}
		endword()
	}
	' "$1"
}

# go_commands prints what a Go file execs: literal command names and
# absolute /bin and /usr/bin paths.
go_commands() {
	grep -oE 'exec\.(LookPath|Command)\("[^"]+"|exec\.CommandContext\([^,()]+, "[^"]+"|lookPath\(t, "[^"]+"' "$1" |
		sed -E 's/.*"([^"]+)"$/\1/'
	grep -oE '(^|["=!` ])(/usr)?/s?bin/[A-Za-z0-9_.+-]+' "$1" | sed -E 's/^[^/]//'
}

# owner sets owned to the package that installed path, trying the other
# side of Debian's merged /usr and the target of a symlink (alternatives)
# too, or fails.
declare -A owner_cache
owner() {
	local path=$1 p out
	if [ -z "${owner_cache[$path]+set}" ]; then
		owner_cache[$path]=
		for p in "$path" "${path#/usr}" "/usr$path" "$(readlink -f "$path" 2>/dev/null)"; do
			[ -n "$p" ] || continue
			out=$(dpkg -S "$p" 2>/dev/null | grep -v '^diversion' | head -n 1) || true
			if [ -n "$out" ]; then
				out=${out%%: *}
				out=${out%%,*}
				owner_cache[$path]=${out%%:*}
				break
			fi
		done
	fi
	owned=${owner_cache[$path]}
	[ -n "$owned" ]
}

declare -A baseline_cache
baseline() { # the package is essential or of required priority
	local pkg=$1
	if [ -z "${baseline_cache[$pkg]:-}" ]; then
		baseline_cache[$pkg]=$(dpkg-query -W -f='${Essential} ${Priority}' "$pkg" 2>/dev/null || true)
	fi
	case ${baseline_cache[$pkg]} in "yes "* | *" required") return 0 ;; esac
	return 1
}

# Names that are ours or bash's, not a package's.
declare -A own
for w in $(compgen -b) $(compgen -k) go; do own[$w]=1; done
for dir in $(grep -rl --include='*.go' '^package main$' cmd internal tools | xargs -n 1 dirname | sort -u); do
	own[$(basename "$dir")]=1
done

# check_command FILE SCRIPTS ITEM: ITEM, a command or file that FILE uses
# for SCRIPTS, must come from a package the list gives to each of SCRIPTS.
check_command() {
	local file=$1 users=$2 cmd=$3 path pkg user
	path=$cmd
	if [ "${cmd#/}" = "$cmd" ]; then
		path=$(command -v "$cmd" 2>/dev/null || true)
		[ "${path#/}" != "$path" ] || path=
	elif [ ! -e "$cmd" ]; then
		path=
	fi
	if [ -n "$path" ]; then
		if ! owner "$path"; then
			problem "$file uses $cmd ($path), which no Debian package installed: add the package that provides it to $list"
			return
		fi
		pkg=$owned
		baseline "$pkg" && [ -z "${provider[$cmd]:-}" ] && return
	else
		pkg=${provider[$cmd]:-}
		case $cmd in */bin/*) [ -n "$pkg" ] || pkg=${provider[$(basename "$cmd")]:-} ;; esac
		if [ -z "$pkg" ]; then
			problem "$file uses $cmd, which is not installed and which no package of $list provides: add it there"
			return
		fi
	fi
	if [ -z "$users" ]; then # a script of its own, that no listed script runs
		[ -n "${pkg_users[$pkg]:-}" ] || problem "$file uses $cmd, from package $pkg, which $list does not list"
		return
	fi
	for user in $users; do
		case ${pkg_users[$pkg]:-} in
		*",$user,"*) ;;
		"") problem "$file uses $cmd, from package $pkg, which $list does not list (for $user)" ;;
		*) problem "$file uses $cmd, from package $pkg, which $list does not give to $user" ;;
		esac
	done
}

# 1. What the code runs.
checked=0
for file in scripts/*.sh; do
	users=$(script_users "$file" | sort -u | tr '\n' ' ')
	mapfile -t lexed < <(script_commands "$file")
	declare -A funcs=()
	for line in "${lexed[@]}"; do
		[ "${line%% *}" = F ] && funcs[${line#F }]=1
	done
	for line in "${lexed[@]}"; do
		[ "${line%% *}" = C ] || continue
		cmd=${line#C }
		[[ $cmd =~ ^(/[A-Za-z0-9_./+-]+|[A-Za-z_][A-Za-z0-9_.+-]*)$ ]] || continue
		[ -z "${own[$cmd]:-}" ] && [ -z "${funcs[$cmd]:-}" ] || continue
		check_command "$file" "$users" "$cmd"
		checked=$((checked + 1))
	done
	unset funcs
	# Files of packages the script reads, such as protoc's include files.
	for path in $(sed 's/^[[:space:]]*#.*//' "$file" | grep -oE '(^|[ "=])/(usr|etc|opt|bin|sbin|lib)/[A-Za-z0-9_./+-]+' |
		sed -E 's/^[^/]//' | sort -u); do
		check_command "$file" "$users" "$path"
		checked=$((checked + 1))
	done
done
while read -r file; do
	users=$(go_users "$file")
	for cmd in $(go_commands "$file" | sort -u); do
		[ -z "${own[$cmd]:-}" ] || continue
		check_command "$file" "$users" "$cmd"
		checked=$((checked + 1))
	done
done < <(find . -name '*.go' -not -path './proto/*' -not -name '*_darwin.go' -not -name '*_windows.go' -printf '%P\n' | sort)

if [ ${#problems[@]} -gt 0 ]; then
	printf 'check-deps.sh: %s\n' "${problems[@]}" | sort -u >&2
	exit 1
fi
echo "check-deps.sh: $list covers the $checked commands and files the scripts and Go code use"

# 2. What SCRIPT needs, installed.
for script in "$@"; do
	scripts/deps.sh "$script"
	for pkg in "${!pkg_users[@]}"; do
		case ${pkg_users[$pkg]} in *",$script,"*) ;; *) continue ;; esac
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
			problem "$pkg is not installed after scripts/deps.sh $script"
			continue
		fi
		for item in "${!provider[@]}"; do
			[ "${provider[$item]}" = "$pkg" ] || continue
			path=$item
			[ "${item#/}" != "$item" ] || path=$(command -v "$item" 2>/dev/null || true)
			if [ -z "$path" ] || [ ! -e "$path" ]; then
				problem "$pkg is installed but $item is missing: fix \"provides\" in $list"
			elif owner "$path" && [ "$owned" != "$pkg" ]; then
				problem "$item comes from package $owned, not $pkg: fix $list"
			fi
		done
	done
done
if [ ${#problems[@]} -gt 0 ]; then
	printf 'check-deps.sh: %s\n' "${problems[@]}" | sort -u >&2
	exit 1
fi
echo "check-deps.sh: every package for $* is installed"

#!/usr/bin/env bash
# A first look at authd on one machine, with nothing outside it: a local test
# OpenID provider (devidp), the daemon (authd run), a browser login with authc,
# then the daemon's status and the token's decoded claims.
#
# Usage: scripts/demo.sh [--headless] [--keep]
#
#   --headless  log the demo user in with headless Chromium (the browserdriver
#               of internal/e2e) instead of your browser; the default when
#               there is no display ($DISPLAY and $WAYLAND_DISPLAY empty)
#   --keep      keep the temporary directory (config, logs, screenshot)
#
# Runs on a fresh Debian machine as root or with sudo (it installs Chromium
# with apt when missing) with Go 1.26. Everything it starts listens on
# 127.0.0.1 or a Unix socket in a temporary directory, and everything it
# starts is stopped on exit. The keyring is the encrypted file backend in that
# directory: the demo never touches your real keyring or authd.
set -euo pipefail
cd "$(dirname "$0")/.."

headless=0
keep=0
for arg in "$@"; do
	case $arg in
	--headless) headless=1 ;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*)
		echo "demo.sh: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ $headless -eq 0 ]; then
	echo "No display (\$DISPLAY and \$WAYLAND_DISPLAY are empty): using headless Chromium."
	headless=1
fi

started=$SECONDS
step=0
bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
section() {
	step=$((step + 1))
	printf '\n%s== %d. %s%s  (%ds)\n' "$bold" "$step" "$*" "$plain" $((SECONDS - started))
}

# Deadline-bounded wait: wait_for SECONDS DESCRIPTION COMMAND...
wait_for() {
	local limit=$1 what=$2
	shift 2
	local end=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $end ]; then
			echo "demo.sh: $what did not happen within ${limit}s" >&2
			return 1
		fi
		sleep 0.1
	done
}

work=$(mktemp -d -t authd-demo.XXXXXX)
pids=()
cleanup() {
	local status=$?
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	# authc does not wait for its browser: let a still running driver finish.
	for _ in $(seq 100); do
		compgen -G "$work/browser/*.running" >/dev/null || break
		sleep 0.1
	done
	if [ $keep -eq 1 ]; then
		echo "Kept $work"
	else
		rm -rf "$work"
	fi
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section "Installing what the demo needs (only what is missing)"
scripts/deps.sh demo
if ! command -v go >/dev/null; then
	echo "demo.sh: Go is not installed: get Go 1.26 from https://go.dev/dl/ and run the demo again" >&2
	exit 1
fi
echo "ok: $(go version), $(chromium --version 2>/dev/null || echo chromium)"

section "Building authd, authc, devidp and browserdriver"
echo "building authd (first build takes about a minute)..."
mkdir -p "$work/bin"
# go build -v names each package it compiles: count them, on one line that
# is rewritten on a terminal, one line per 50 otherwise; anything else (a
# compile error) passes through.
go build -v -o "$work/bin/" ./cmd/authd ./cmd/authc ./tools/devidp ./tools/browserdriver 2>&1 |
	awk -v tty="$([ -t 1 ] && echo 1)" '
		function compiled() { return "    compiled " n " package" (n == 1 ? "" : "s") }
		/^[^ \t:]+$/ {
			n++
			if (tty) printf "\r%s", compiled()
			else if (n % 50 == 0) print compiled()
			fflush()
			next
		}
		{ if (tty && n) printf "\n"; print; fflush() }
		END {
			if (tty && n) printf "\r"
			print (n ? compiled() : "    nothing to compile (cached)")
		}'
export PATH="$work/bin:$PATH"
echo "into $work/bin"

section "Starting a local test OpenID provider (devidp)"
devidp -addr 127.0.0.1:0 >"$work/devidp.log" 2>&1 &
pids+=($!)
wait_for 30 "devidp printing its issuer" grep -q '^issuer:' "$work/devidp.log"
issuer=$(awk '/^issuer:/ {print $2; exit}' "$work/devidp.log")
sed 's/^/    /' "$work/devidp.log"

section "Writing a demo profile"
# A private world for the demo: its own config, runtime dir (the socket) and
# encrypted file keyring, whatever the caller's environment says.
unset AUTHD_SOCKET AUTHD_KEYRING_PASSPHRASE
export XDG_RUNTIME_DIR="$work/run" XDG_CONFIG_HOME="$work/config"
export AUTHD_CONFIG="$XDG_CONFIG_HOME/authd/config.toml"
mkdir -p -m 0700 "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME/authd"
(umask 077 && head -c 32 /dev/urandom | base64 >"$work/passphrase")
cat >"$AUTHD_CONFIG" <<EOF
default_profile = "demo"

[keyring]
backend = "file"                 # encrypted files; the OS keyring on a desktop
file_dir = "$work/keyring"
passphrase_file = "$work/passphrase"

[profiles.demo]
issuer = "$issuer"
client_id = "authd-cli"          # devidp's public client: PKCE, no secret
scopes = ["openid", "profile", "email", "offline_access"]
EOF
echo "$AUTHD_CONFIG:"
sed 's/^/    /' "$AUTHD_CONFIG"

section "Starting the daemon (authd run)"
authd run >"$work/authd.log" 2>&1 &
pids+=($!)
if ! wait_for 30 "authd answering 'authc status'" authc status; then
	cat "$work/authd.log" >&2
	exit 1
fi
echo "authd serves $XDG_RUNTIME_DIR/authd/authd.sock (log: $work/authd.log)"

section "Logging in (authc login -p demo)"
if [ $headless -eq 1 ]; then
	echo "Headless Chromium signs in as alice / alice-password on devidp's page."
	export BROWSER="$work/bin/browserdriver" AUTHD_DRIVER_OUT="$work/browser"
	mkdir -p "$AUTHD_DRIVER_OUT"
	authc login -p demo
	wait_for 60 "the browser driver finishing" bash -c '! compgen -G "$0/*.running"' "$AUTHD_DRIVER_OUT"
	shot=$(compgen -G "$AUTHD_DRIVER_OUT/login-*.png" | head -n 1 || true)
	if [ -n "$shot" ]; then
		echo "The browser's last page: $shot$([ $keep -eq 1 ] || echo ' (removed on exit; --keep keeps it)')"
	fi
else
	echo "Your browser opens devidp's sign-in page. Sign in as:"
	echo
	echo "    user:     alice"
	echo "    password: alice-password"
	echo
	authc login -p demo
fi

section "What the daemon knows (authc status)"
authc status

section "The access token's claims (authc inspect -p demo)"
echo "Tools get the token itself with 'authc token -p demo'; here it is decoded:"
authc inspect -p demo

section "Done in $((SECONDS - started))s; stopping devidp and authd"

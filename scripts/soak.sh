#!/usr/bin/env bash
# Soaks authd: 1000 clients call GetToken in a loop across 4 profiles for
# DURATION (default 10m) while profiles are logged in and out, refreshed
# by force and the config reloaded, against a provider whose token
# endpoint fails 5% of the requests and leaves 1% unanswered, with one
# 'authd run --replace' half-way (tools/soak). It prints the calls made,
# those failed (by injected faults, by the soak's own logouts, and
# otherwise: must be 0), the provider's requests per refresh (must be 1)
# and the daemon's goroutines, threads, open fds and RSS at the start and end of its
# run (must be flat), and exits 1 when a check fails.
#
# Usage: scripts/soak.sh [--race] [--keep] [DURATION]
#
#   --race  build authd and the soak with the race detector (CI runs
#           'scripts/soak.sh --race 1m'); a race makes the daemon exit 66
#   --keep  keep the work directory (config, keyring, authd's log)
#
# Everything runs on this machine, on 127.0.0.1 and Unix sockets in a
# temporary directory; Linux only (it reads /proc).
set -euo pipefail
cd "$(dirname "$0")/.."

race=()
soak=()
duration=10m
for arg in "$@"; do
	case $arg in
	--race) race=(-race) ;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	-*)
		echo "soak.sh: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	*) duration=$arg ;;
	esac
done

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build "${race[@]}" -o "$bin/authd" ./cmd/authd
go build "${race[@]}" -o "$bin/soak" ./tools/soak
if [[ -n ${keep:-} ]]; then
	soak+=(--work "$bin/work")
	trap - EXIT
	echo "soak.sh: keeping $bin"
fi
# halt_on_error=0: a race is reported in authd's log and fails the soak
# through the daemon's exit status, without cutting the run short.
GORACE="halt_on_error=0 atexit_sleep_ms=0" "$bin/soak" --authd "$bin/authd" --duration "$duration" ${race:+--race} "${soak[@]}"

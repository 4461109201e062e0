#!/usr/bin/env bash
# Measures authd and prints one table: authc start-up against floors,
# in-process GetToken against a plain gRPC echo service, a refresh storm,
# the daemon's memory, and isolation between profiles (tools/bench).
#
# Usage: scripts/bench.sh [--write] [--quick] [--keep]
#
#   --write  also write the table, the command and the machine into
#            BENCHMARKS.md (only its generated block; the rest is kept)
#   --quick  a smoke run of every section in about a minute; its figures
#            are not comparable
#   --keep   keep the work directory (configs, daemon logs, hyperfine JSON)
#
# Builds authd, authc, the bench and its floors as releases are built
# (CGO_ENABLED=0, -trimpath, -ldflags "-s -w"), installs hyperfine from
# Debian when missing, and runs everything on this machine: the test
# provider and proxies on 127.0.0.1, the daemons and echo servers on Unix
# sockets in a temporary directory. Everything it starts is stopped on exit.
# The full run takes about five minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
for arg in "$@"; do
	case $arg in
	--write) args+=(--write BENCHMARKS.md) ;;
	--quick | --keep) args+=("$arg") ;;
	-h | --help)
		sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*)
		echo "bench.sh: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done

command -v hyperfine >/dev/null || scripts/deps.sh bench

bin=$(mktemp -d -t authd-bench-bin.XXXXXX)
trap 'rm -rf "$bin"' EXIT
echo "building into $bin" >&2
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/" \
	./cmd/authd ./cmd/authc ./tools/bench ./tools/bench/floor/hello ./tools/bench/floor/rawclient

"$bin/bench" --bin "$bin" --command "scripts/bench.sh $*" "${args[@]}"

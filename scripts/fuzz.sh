#!/usr/bin/env bash
# Runs every fuzz target of the repository for DURATION each (default 1m):
#
#	scripts/fuzz.sh [DURATION]
#
# go test fuzzes one target per run, so targets run one at a time. They are
# found with 'go test -list', so a new FuzzX anywhere is picked up. A target
# that fails leaves the input in its package's testdata/fuzz/FuzzX/ (commit
# it with the fix: it becomes a regression test); the script goes on with
# the others and fails at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-1m}

# go test -list prints a package's matching names, then "ok  <package>".
list=$(go test -list '^Fuzz' ./...)
targets=()
names=()
while read -r first second _; do
	case $first in
	Fuzz*) names+=("$first") ;;
	ok)
		for name in "${names[@]}"; do
			targets+=("$second $name")
		done
		names=()
		;;
	*) names=() ;;
	esac
done <<<"$list"
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets found" >&2
	exit 1
fi

failed=()
for target in "${targets[@]}"; do
	read -r pkg name <<<"$target"
	echo "-- $name ($pkg, $duration)"
	# A new input is minimised for at most 2s, not go's default minute. go
	# can still end a run that is minimising when -fuzztime runs out with
	# "context deadline exceeded" and no failing input: that is the tool's
	# clock, not a crash, and is reported but not counted.
	out=$(mktemp)
	if go test -run '^$' -fuzz "^$name\$" -fuzztime "$duration" -fuzzminimizetime 2s "$pkg" 2>&1 | tee "$out"; [ "${PIPESTATUS[0]}" -ne 0 ]; then
		if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
			echo "fuzz.sh: $name stopped while minimising at the time limit (no failing input); not a failure"
		else
			failed+=("$name ($pkg)")
		fi
	fi
	rm -f "$out"
done

echo "fuzz.sh: ${#targets[@]} targets, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi

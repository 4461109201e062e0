#!/usr/bin/env bash
# Runs the tests of the Python package authd: makes a virtual environment
# with Debian's python3 and its packages (pytest, requests, httpx, nbclient,
# ipykernel), installs the package into it offline, as a user would, and
# runs pytest against the real daemon, the test provider and headless
# Chromium, the notebook test included. The tests build authd, authc, the
# browser driver and tools/pyharness with go build (set AUTHD_TEST_BIN to a
# directory that has them to skip that).
#
#	python/run-tests.sh [PYTEST-ARGS...]
#	python/run-tests.sh --bench     (how long authd.token() takes; a table)
#
# Nothing here needs the network: scripts/test.sh runs it in a network
# namespace that has only loopback.
set -euo pipefail
cd "$(dirname "$0")"

python=${AUTHD_PYTHON:-/usr/bin/python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/authd-python.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$python" -m venv --system-site-packages "$work/venv"
# A copy, so that the build leaves nothing in the checkout.
mkdir "$work/src"
cp -R pyproject.toml src "$work/src/"
"$work/venv/bin/python" -m pip install --quiet --no-index --no-build-isolation \
	--disable-pip-version-check --no-warn-script-location "$work/src"

export PYTHONPYCACHEPREFIX="$work/pycache"
if [ "${1:-}" = --bench ]; then
	PYTHONPATH=tests "$work/venv/bin/python" tests/bench_token.py
else
	"$work/venv/bin/python" -m pytest -p no:cacheprovider -ra "$@"
fi

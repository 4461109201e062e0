#!/usr/bin/env bash
# Runs every check of authd on a fresh machine: installs what the tests need,
# then go vet, go build and go vet for darwin and windows, the generated-code
# check, and all tests with -race, inside a network namespace that has only
# loopback (the provider, the daemon and Chromium talk over 127.0.0.1;
# nothing can leave the machine), on a private D-Bus session with
# gnome-keyring for the Secret Service tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Checks that scripts/packages.txt covers every command the scripts and
# tests run, then installs the packages it lists for test.
scripts/check-deps.sh test

echo "== go vet"
go vet ./...

echo "== cross-builds"
for goos in darwin windows; do
	GOOS=$goos go build ./...
	GOOS=$goos go vet ./...
done

echo "== generated code"
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
cp -r proto "$before/"
scripts/gen.sh
if ! diff -r "$before/proto" proto >/dev/null; then
	diff -r "$before/proto" proto | head -20
	echo "proto/: the generated code did not match broker.proto; scripts/gen.sh has regenerated it: commit it" >&2
	exit 1
fi

echo "== build (network still up for modules)"
go test -race -count=1 -run '^$' ./... >/dev/null

echo "== kubectl for the kubectl tests (Debian's kubernetes-client, unpacked, not installed)"
AUTHD_TEST_KUBECTL=$(scripts/kubectl.sh)
export AUTHD_TEST_KUBECTL

# Each test binary runs in a session keyring of its own (keyctl session -):
# the keyctl backend stages items in the session keyring under their plain
# names, and test packages running at once must not meet there (without
# one, every process of the user shares the default session keyring).
echo "== tests (-race, loopback only)"
export DBUS_SESSION_BUS_ADDRESS=disabled:
unshare --net -- bash -c '
	ip link set lo up
	GOPROXY=off GOFLAGS=-mod=mod exec scripts/with-secret-service.sh \
		go test -race -count=1 -timeout 15m -exec "keyctl session -" "$@" ./...
' test "$@"

echo "== python (loopback only)"
unshare --net -- bash -c '
	ip link set lo up
	GOPROXY=off GOFLAGS=-mod=mod exec python/run-tests.sh
'

echo "== soak (1 minute, -race, loopback only)"
unshare --net -- bash -c 'ip link set lo up; GOPROXY=off GOFLAGS=-mod=mod exec scripts/soak.sh --race 1m'

echo "== fuzz (brief)"
unshare --net -- bash -c '
	ip link set lo up
	GOPROXY=off GOFLAGS=-mod=mod exec scripts/fuzz.sh 5s
'

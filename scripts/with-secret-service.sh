#!/usr/bin/env bash
# Usage: scripts/with-secret-service.sh COMMAND [ARG...]
#
# Runs COMMAND on a private D-Bus session bus with gnome-keyring's Secret
# Service, its "login" collection present and unlocked, so that the Secret
# Service tests can run on a headless machine or in CI:
#
#   scripts/with-secret-service.sh go test -race -run SecretService ./internal/store/
#
# The keyring lives in a temporary directory removed on exit, with a throwaway
# password exported to COMMAND as AUTHD_TEST_SECRET_SERVICE_PASSWORD (the
# tests use it to unlock the collection again after locking it). COMMAND keeps
# the caller's HOME, and with it the Go build and module caches. The bus
# starts no service on demand, so nothing runs with the caller's HOME behind
# our back. Needs dbus-run-session (dbus), dbus-send and gnome-keyring-daemon;
# not dbus-x11.
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: $0 COMMAND [ARG...]" >&2
	exit 2
fi
for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
	if ! command -v "$tool" >/dev/null; then
		echo "$0: $tool not found: install dbus and gnome-keyring" >&2
		exit 1
	fi
done

state=$(mktemp -d "${TMPDIR:-/tmp}/authd-secret-service.XXXXXX")
trap 'rm -rf "$state"' EXIT
mkdir -m 0700 "$state/home" "$state/data" "$state/runtime"

# A session bus like the standard one, minus the service directories: no
# activation of org.freedesktop.secrets (or dconf, or a prompter) with the
# real HOME if something asks before our daemon is up.
cat >"$state/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$state/runtime</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF

status=0
AUTHD_SECRET_SERVICE_STATE=$state dbus-run-session --config-file="$state/bus.conf" -- bash -c '
set -euo pipefail
state=$AUTHD_SECRET_SERVICE_STATE
unset AUTHD_SECRET_SERVICE_STATE
daemon_pid=
stop_daemon() {
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
}
trap stop_daemon EXIT

# Only protects the temporary keyring; the tests need it to unlock it again.
password=authd-test-password
export AUTHD_TEST_SECRET_SERVICE_PASSWORD=$password

# --unlock reads the login password on stdin and creates the "login"
# collection with it when there is none. gnome-keyring writes under $HOME,
# $XDG_DATA_HOME and $XDG_RUNTIME_DIR: point them at the temporary directory.
printf %s "$password" | env HOME="$state/home" XDG_DATA_HOME="$state/data" \
	XDG_RUNTIME_DIR="$state/runtime" XDG_CACHE_HOME="$state/home/.cache" \
	XDG_CONFIG_HOME="$state/home/.config" \
	gnome-keyring-daemon --foreground --unlock --components=secrets >"$state/daemon.log" 2>&1 &
daemon_pid=$!

login_locked() {
	dbus-send --session --print-reply --dest=org.freedesktop.secrets \
		/org/freedesktop/secrets/collection/login \
		org.freedesktop.DBus.Properties.Get \
		string:org.freedesktop.Secret.Collection string:Locked 2>/dev/null |
		sed -n "s/.*boolean //p"
}
ready=
for _ in $(seq 100); do
	if [ "$(login_locked)" = false ]; then
		ready=yes
		break
	fi
	if ! kill -0 "$daemon_pid" 2>/dev/null; then
		break
	fi
	sleep 0.1
done
if [ -z "$ready" ]; then
	echo "with-secret-service: gnome-keyring did not provide an unlocked \"login\" collection:" >&2
	cat "$state/daemon.log" >&2
	exit 1
fi

set +e
"$@"
' with-secret-service "$@" || status=$?
exit "$status"

#!/usr/bin/env bash
# Fetches a real upstream kubectl for the kubectl tests of authd and prints
# its path:
#
#	export AUTHD_TEST_KUBECTL=$(scripts/kubectl.sh)
#
# Debian's kubernetes-client package (kubectl 1.20, which speaks the
# client.authentication.k8s.io/v1beta1 exec plugin protocol) cannot be
# installed beside the package that owns /usr/bin/kubectl on some machines
# (a cloud SDK's wrapper), so the script downloads the .deb with apt-get
# download, unpacks it with dpkg-deb -x into a cache directory, and checks
# that the binary runs. Nothing is installed; a second run only checks.
#
# The version is pinned (KUBERNETES_CLIENT_VERSION overrides the pin;
# 'apt-cache policy kubernetes-client' lists what the sources offer). The
# cache is ${XDG_CACHE_HOME:-~/.cache}/authd-test/. Needs the network on
# the first run only.
set -euo pipefail

version=${KUBERNETES_CLIENT_VERSION:-1.20.5+really1.20.2-1.1+deb12u1}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/authd-test
dest=$cache/kubernetes-client_$version
kubectl=$dest/usr/bin/kubectl

if [ ! -x "$kubectl" ]; then
	mkdir -p "$cache"
	# A machine whose package lists were never fetched knows no candidate.
	if ! apt-cache show "kubernetes-client=$version" >/dev/null 2>&1; then
		sudo=
		[ "$(id -u)" -ne 0 ] && sudo=sudo
		$sudo apt-get update -qq >&2
	fi
	work=$(mktemp -d "$cache/download.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	# apt-get download writes into the current directory. As root it
	# warns that the _apt user cannot write there: harmless.
	if ! (cd "$work" && apt-get download -q "kubernetes-client=$version" >&2); then
		echo "kubectl.sh: apt-get download kubernetes-client=$version failed; 'apt-cache policy kubernetes-client' shows the versions on offer (set KUBERNETES_CLIENT_VERSION), 'apt-get update' refreshes them" >&2
		exit 1
	fi
	debs=("$work"/kubernetes-client_*.deb)
	if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then
		echo "kubectl.sh: apt-get download left no single kubernetes-client .deb in $work" >&2
		exit 1
	fi
	dpkg-deb -x "${debs[0]}" "$work/root"
	if [ ! -x "$work/root/usr/bin/kubectl" ]; then
		echo "kubectl.sh: ${debs[0]} has no usr/bin/kubectl" >&2
		exit 1
	fi
	# Into place in one rename, so that an interrupted run leaves no
	# half-unpacked tree that a later run would trust.
	rm -rf "$dest"
	mv "$work/root" "$dest"
fi

if ! out=$("$kubectl" version --client 2>&1); then
	echo "kubectl.sh: $kubectl does not run: $out" >&2
	exit 1
fi
echo "kubectl.sh: $out" >&2
echo "$kubectl"

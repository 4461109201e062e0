#!/usr/bin/env bash
# Installs the Debian packages a script of authd needs, only those missing,
# from the one list scripts/packages.txt, and fails naming any package that
# is still not installed afterwards.
#
# Usage: scripts/deps.sh NAME...
#
# A NAME is a script of the list's "needed by" column (test, demo, gen,
# bench: all its packages) or a package of the list.
set -euo pipefail
list="$(dirname "$0")/packages.txt"

wanted=()
for name in "$@"; do
	found=$(awk -v name="$name" '
		/^[[:space:]]*(#|$)/ { next }
		$1 == name || index("," $2 ",", "," name ",") { print $1 }
	' "$list")
	if [ -z "$found" ]; then
		echo "deps.sh: $name is neither a script nor a package of $list: add it there" >&2
		exit 2
	fi
	read -r -d '' -a pkgs <<<"$found" || true
	wanted+=("${pkgs[@]}")
done

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=()
for pkg in "${wanted[@]}"; do
	installed "$pkg" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for pkg in "${missing[@]}"; do
	if ! installed "$pkg"; then
		echo "deps.sh: apt-get did not install $pkg (dpkg-query: $(dpkg-query -W -f='${Status}' "$pkg" 2>&1))" >&2
		exit 1
	fi
done

#!/bin/sh
# mk/deps.sh - installs the Debian packages Refute needs that are missing.
# Does nothing (and needs no root) when everything is already there.
set -eu

PACKAGES="build-essential pkg-config libnng-dev libxxhash-dev libsqlite3-dev
libcunit1-dev libsodium-dev libopenblas-dev clang python3
libprotobuf-c-dev protobuf-c-compiler gnuplot-nox b3sum python3-numpy"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "deps: installing$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing

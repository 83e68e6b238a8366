#!/usr/bin/env bash
# Builds the Debian package from the tree (CPack DEB, rules in packaging/):
# the umstore program, /etc/umstore/umstore.conf, the systemd unit and the
# man pages, installed under /usr. Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${UMSTORE_BUILD_DIR:-build}
scripts/build.sh umstore >&2
(cd "$build" && cpack -G DEB >&2)
ls "$PWD/$build"/umstore_*.deb

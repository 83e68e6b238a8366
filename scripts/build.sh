#!/usr/bin/env bash
# Configures and builds umstore into ./build (or $UMSTORE_BUILD_DIR).
# Arguments name targets to build (default: everything, tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${UMSTORE_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${UMSTORE_CMAKE_ARGS:-} >/dev/null
if [ $# -gt 0 ]; then
  cmake --build "$build" -j"$(nproc)" --target "$@"
else
  cmake --build "$build" -j"$(nproc)"
fi

#!/usr/bin/env bash
# The README's test command: installs what it needs, builds from scratch
# warnings-as-errors, fuzzes the codecs for a bounded time, and runs every
# test through CTest (last, so its summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export UMSTORE_CMAKE_ARGS="-DUMSTORE_WERROR=ON ${UMSTORE_CMAKE_ARGS:-}"
scripts/build.sh
# Codecs fuzz targets (clang, ASan + UBSan), 20 s each; UMSTORE_SKIP_FUZZ=1 skips them.
[ "${UMSTORE_SKIP_FUZZ:-0}" = 1 ] || FUZZ_SECONDS="${FUZZ_SECONDS:-20}" scripts/fuzz.sh
ctest --test-dir "${UMSTORE_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" "$@"

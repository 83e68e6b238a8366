#!/usr/bin/env bash
# The README's test command: installs what it needs, builds from scratch
# warnings-as-errors, runs the parsers' unit tests under ASan + UBSan, fuzzes
# the parsers and codecs for a bounded time, and runs every
# test through CTest (last, so its summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export UMSTORE_CMAKE_ARGS="-DUMSTORE_WERROR=ON ${UMSTORE_CMAKE_ARGS:-}"
scripts/build.sh
# The parsing libraries' unit tests again, built with ASan + UBSan in
# build-asan (about 3 minutes on two cores, cold); UMSTORE_SKIP_ASAN=1 skips them.
asan_tests="test_common test_mime test_dns test_net"
if [ "${UMSTORE_SKIP_ASAN:-0}" != 1 ]; then
  UMSTORE_BUILD_DIR=build-asan UMSTORE_CMAKE_ARGS="$UMSTORE_CMAKE_ARGS -DUMSTORE_SANITIZE=address,undefined" \
    scripts/build.sh $asan_tests
  ctest --test-dir build-asan -R "^(${asan_tests// /|})\$" --output-on-failure -j"$(nproc)"
fi
# Fuzz targets (clang, ASan + UBSan), 20 s each; UMSTORE_SKIP_FUZZ=1 skips them.
[ "${UMSTORE_SKIP_FUZZ:-0}" = 1 ] || FUZZ_SECONDS="${FUZZ_SECONDS:-20}" scripts/fuzz.sh
ctest --test-dir "${UMSTORE_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" "$@"

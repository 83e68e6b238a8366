#!/usr/bin/env bash
# Builds the libFuzzer targets (codecs, MIME, ENUM fields, protocol parsers) (clang, ASan + UBSan) in build-fuzz and
# runs each for a bounded time, starting from fuzz/seeds/<target>. Exits
# non-zero on the first crash, leak or sanitizer report; the reproducer is
# left in build-fuzz/artifacts/. FUZZ_SECONDS sets the time per target.
# FUZZ_SEED (default 1) fixes libFuzzer's random choices, so a commit's run
# is repeatable: CI judges the commit, not the luck of the draw. FUZZ_SEED=0
# draws a new seed each run, for fuzzing longer to find new inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"  # 14 targets: about 7 minutes in all
seed="${FUZZ_SEED:-1}"
build="${UMSTORE_FUZZ_BUILD_DIR:-build-fuzz}"
CXX=clang++ cmake -S fuzz -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
mkdir -p "$build/artifacts"
for target in decode_audio decode_raw_audio inspect_tiff convert_fax parse_message enum_fields \
    imap_command imap_search body_structure smtp_command sip_message media_packets form_upload http_request; do
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  echo "fuzzing $target for ${seconds}s" >&2
  # The corpus grows in build-fuzz; the seeds in the tree stay as committed.
  if ! "$build/fuzz_$target" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=20 -seed="$seed" \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "$corpus" "fuzz/seeds/$target" \
      >"$build/$target.log" 2>&1; then
    tail -n 60 "$build/$target.log" >&2
    echo "fuzz: $target found a crash; reproducer in $build/artifacts/" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$build/$target.log" | sed "s/^/$target /" >&2
done
echo "fuzz: no crashes" >&2

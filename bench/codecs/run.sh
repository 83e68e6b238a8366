#!/usr/bin/env bash
# Builds and runs the codecs benchmark: umstore in-process (both cores)
# against ffmpeg (voice) and tiffcp + tiff2pdf (fax), one process per file,
# two at a time. Needs sox, ffmpeg, libtiff-tools (bench/install-bench-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${UMSTORE_BENCH_BUILD_DIR:-build-bench-codecs}"
cmake -S bench/codecs -B "$build" >/dev/null
cmake --build "$build" -j2 >/dev/null
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# 60 s voicemails: 8 kHz 16-bit PCM (what most gateways write) and 16 kHz (needs resampling).
sox samples/voicemail.wav samples/voicemail.wav samples/voicemail.wav samples/voicemail.wav "$work/voice-8k.wav" trim 0 60
sox "$work/voice-8k.wav" -r 16000 "$work/voice-16k.wav"
# A 10-page fine-resolution fax as spandsp receives it: T.4 2-D (MR), FillOrder 1.
tiffcp -c g3:2d samples/fax.tif samples/fax.tif samples/fax.tif samples/fax.tif samples/fax.tif "$work/fax-10.tif"
"$build/bench_codecs" "$work" "${BENCH_FILES:-40}"

#!/usr/bin/env bash
# Transcription throughput through the real server: real-time factor per
# voicemail and voicemails per minute on this machine's cores while ingest
# runs. Needs festival (scripts/install-deps.sh) and a built umstore.
# usage: bench/recognition/run.sh [--umstore BUILD/app/umstore] [recognition_bench.py options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec nice python3 "$here/recognition_bench.py" "$@"

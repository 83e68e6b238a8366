#!/usr/bin/env bash
# End-to-end gateway ingest (HTTP and spool -> visible over IMAP) against the
# classic script pipeline (ffmpeg, MIME script, sendmail, Postfix, Dovecot
# LMTP and IMAP). Needs root and bench/install-bench-deps.sh.
# usage: bench/ingest/run.sh [--umstore BUILD/app/umstore] [ingest_bench.py options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec nice python3 "$here/ingest_bench.py" "$@"

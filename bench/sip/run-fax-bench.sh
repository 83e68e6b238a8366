#!/usr/bin/env bash
# Several faxes at once into `umstore serve`: FAXES copies of sip_fax_sender
# (tests/sip/fax_call.hpp: spandsp's T.30 calling terminal behind a SIP
# gateway) each send a PAGES-page fine-resolution TIFF, over G.711 audio
# (T.30 modems in RTP, 14.4 kbit/s V.17) or over T.38 after the gateway's
# re-INVITE (UDPTL with redundancy). Reports faxes and pages delivered,
# pages per minute for all faxes together, seconds per fax, and the server's
# CPU time per page.
#
#   bench/sip/run-fax-bench.sh [FAXES] [g711|t38] [PAGES]       (defaults 8 t38 4)
#   UMSTORE=build/app/umstore FAX_SENDER=build/tests/sip/sip_fax_sender bench/sip/run-fax-bench.sh 8 g711
set -euo pipefail
FAXES=${1:-8}
MODE=${2:-t38}
PAGES=${3:-4}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
UMSTORE=${UMSTORE:-$ROOT/build/app/umstore}
FAX_SENDER=${FAX_SENDER:-$ROOT/build/tests/sip/sip_fax_sender}
"$ROOT/bench/install-bench-deps.sh"
WORK=$(mktemp -d /tmp/umstore-fax-bench.XXXXXX)
trap 'kill $SERVER_PID 2>/dev/null || true; wait $SERVER_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

source "$ROOT/bench/sip/umstore-for-bench.sh"
start_umstore_for_bench $((FAXES + 10))
SIP_PORT=${SIP##*:}

# PAGES pages: the 2-page sample repeated.
files=()
for _ in $(seq $(( (PAGES + 1) / 2 ))); do files+=("$ROOT/samples/fax.tif"); done
tiffcp "${files[@]}" "$WORK/all.tif"
if [ $((PAGES % 2)) -eq 1 ]; then tiffcp "$WORK/all.tif,0-$((PAGES - 1))" "$WORK/fax.tif"; else mv "$WORK/all.tif" "$WORK/fax.tif"; fi

flag=""
[ "$MODE" = t38 ] && flag="--t38"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
BEFORE=$(cpu_ticks)
START=$(date +%s.%N)
pids=()
for i in $(seq "$FAXES"); do
  "$FAX_SENDER" --port "$SIP_PORT" --tiff "$WORK/fax.tif" --from "+1555020$(printf %04d "$i")" \
    --call-id "fax-bench-$i@127.0.0.1" $flag > "$WORK/sender-$i.json" 2> "$WORK/sender-$i.err" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
for _ in $(seq 100); do
  [ "$(grep -c 'fax of .* delivered\|failed before any page' "$WORK/serve.log" || true)" -ge "$FAXES" ] && break
  sleep 0.2
done
AFTER=$(cpu_ticks)
END=$(date +%s.%N)
HZ=$(getconf CLK_TCK)
python3 - "$WORK" "$FAXES" "$PAGES" "$MODE" "$BEFORE" "$AFTER" "$HZ" "$START" "$END" <<'PY'
import json, re, sys, glob
work, faxes, pages, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
before, after, hz, start, end = map(float, sys.argv[5:])
senders = [json.loads(open(f).read() or '{}') for f in glob.glob(work + '/sender-*.json')]
ok = sum(1 for s in senders if s.get('result') == 'OK')
log = open(work + '/serve.log').read()
delivered = [int(m.group(1)) for m in re.finditer(r'fax of (\d+) page\(s\) for .* delivered', log)]
lost = sum(int(m.group(1)) for m in re.finditer(r'recovered from redundancy \d+, lost (\d+)', log))
wall = end - start
cpu = (after - before) / hz
total = sum(delivered)
print(f"{mode}: {faxes} faxes of {pages} pages at once; sender T.30 OK {ok}/{faxes}; delivered {len(delivered)} faxes, "
      f"{total}/{faxes * pages} pages" + (f"; UDPTL packets lost {lost}" if mode == 't38' else ''))
print(f"{wall:.1f} s wall for all: {total / wall * 60:.1f} pages/minute together, "
      f"{total / wall * 60 / faxes:.1f} per line")
print(f"server CPU {cpu:.2f} s: {cpu / max(1, total) * 1000:.0f} ms per page")
PY

#!/usr/bin/env bash
# Simultaneous G.711 voicemail calls into `umstore serve` on this machine:
# sipp places CALLS calls (all up at once), each plays SECONDS of PCMU RTP and
# hangs up. Reports calls answered, RTP packets lost or late (from the
# server's per-call log lines), messages delivered, and the server's CPU
# time per call (signalling, RTP, recording, fsync, VPIM composition).
#
#   bench/sip/run-sip-bench.sh [CALLS] [SECONDS]     (defaults 200 10)
#   UMSTORE=build/app/umstore bench/sip/run-sip-bench.sh 200 10
#   SIP_BENCH_SERVER=/tmp/sip_bench_server bench/sip/run-sip-bench.sh 200 10   (endpoint alone)
set -euo pipefail
CALLS=${1:-200}
SECONDS_PER_CALL=${2:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
UMSTORE=${UMSTORE:-$ROOT/build/app/umstore}
"$ROOT/bench/install-bench-deps.sh"
WORK=$(mktemp -d /tmp/umstore-sip-bench.XXXXXX)
trap 'kill $SERVER_PID 2>/dev/null || true; wait $SERVER_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

if [ -n "${SIP_BENCH_SERVER:-}" ]; then
  # The SIP endpoint alone (bench/sip/sip_bench_server.cpp, see its header).
  mkdir -p "$WORK/data"
  "$SIP_BENCH_SERVER" "$WORK/data" > "$WORK/cpu.out" 2> "$WORK/serve.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/data/port" ] && break; sleep 0.1; done
  SIP=127.0.0.1:$(cat "$WORK/data/port")
else
  source "$ROOT/bench/sip/umstore-for-bench.sh"
  start_umstore_for_bench $((CALLS + 10))
fi

# SECONDS of a 440 Hz tone as PCMU RTP in a pcap (what sipp's play_pcap_audio replays).
python3 - "$WORK/audio.pcap" "$SECONDS_PER_CALL" <<'PY'
import math, struct, sys
def ulaw(s):
    s = max(-32635, min(32635, s)); sign = 0x80 if s < 0 else 0; s = abs(s) + 132
    exp = 7
    while exp > 0 and not (s & (0x4000 >> (7 - exp))): exp -= 1
    return ~(sign | (exp << 4) | ((s >> (exp + 3)) & 0x0f)) & 0xff
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(int(float(sys.argv[2]) * 50)):
        payload = bytes(ulaw(int(12000 * math.sin(2 * math.pi * 440 * (i * 160 + n) / 8000))) for n in range(160))
        rtp = struct.pack('!BBHII', 0x80, 0, (1000 + i) & 0xffff, 8000 + 160 * i, 0x1234) + payload
        udp = struct.pack('!HHHH', 40000, 40002, 8 + len(rtp), 0) + rtp
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b'\x7f\0\0\x01', b'\x7f\0\0\x01') + udp
        frame = b'\0' * 12 + b'\x08\x00' + ip
        f.write(struct.pack('<IIII', i // 50, (i % 50) * 20000, len(frame), len(frame)) + frame)
PY

# A request in the call's dialog (after the 200 to the INVITE), without the
# blank line that ends it: METHOD CSEQ.
in_dialog() {
  cat <<SIP
$1 sip:+15550100@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Bench [call_number]" <sip:+1555[call_number]@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:+15550100@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: $2 $1
Content-Length: 0
SIP
}

cat > "$WORK/call.xml" <<XML
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="umstore bench">
  <send retrans="500"><![CDATA[
INVITE sip:+15550100@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Bench [call_number]" <sip:+1555[call_number]@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:+15550100@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
$(in_dialog ACK 1)

  ]]></send>
  <pause milliseconds="2500"/>
  <nop><action><exec play_pcap_audio="$WORK/audio.pcap"/></action></nop>
  <pause milliseconds="$((SECONDS_PER_CALL * 1000 + 500))"/>
  <send retrans="500"><![CDATA[
$(in_dialog BYE 2)

  ]]></send>
  <recv response="200"/>
</scenario>
XML

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
BEFORE=$(cpu_ticks)
START=$(date +%s.%N)
# All calls within about a second, so they overlap for the whole recording.
(cd "$WORK" && sipp "$SIP" -sf call.xml -m "$CALLS" -l "$CALLS" -r "$CALLS" -i 127.0.0.1 -mi 127.0.0.1 \
   -timeout $((SECONDS_PER_CALL + 60))s -nostdin -trace_stat > sipp.out 2>&1 < /dev/null) || true
for _ in $(seq 600); do
  [ "$(grep -c 'voicemail .* delivered\|ended (' "$WORK/serve.log" || true)" -ge $((2 * CALLS)) ] && break
  sleep 0.2
done
sleep 2
AFTER=$(cpu_ticks)
END=$(date +%s.%N)
HZ=$(getconf CLK_TCK)
python3 - "$WORK/serve.log" "$CALLS" "$SECONDS_PER_CALL" "$BEFORE" "$AFTER" "$HZ" "$START" "$END" <<'PY'
import re, sys
log, calls, secs, before, after, hz, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), *map(float, sys.argv[4:])
ended = [l for l in open(log) if ' ended (' in l]
lost = sum(int(m.group(1)) for l in ended if (m := re.search(r'(\d+) RTP packets lost', l)))
late = sum(int(m.group(1)) for l in ended if (m := re.search(r'(\d+) late', l)))
durs = [float(m.group(1)) for l in ended if (m := re.search(r': ([\d.]+) s recorded', l))]
short = sum(1 for d in durs if abs(d - secs) > 0.1 * secs)
cpu = (after - before) / hz
print(f"calls placed {calls}, recorded {len(ended)}, recording length off by >10%: {short}")
print(f"RTP packets lost {lost}, late/duplicate {late} (of {int(calls * secs * 50)} sent)")
print(f"server CPU {cpu:.1f} s over {end - start:.1f} s wall: {cpu / max(1, len(ended)) * 1000:.0f} ms per {secs:.0f} s call, "
      f"{100 * cpu / max(1, len(ended)) / secs:.2f}% of a core per simultaneous call")
PY

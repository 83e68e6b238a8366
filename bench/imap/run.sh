#!/usr/bin/env bash
# IMAP benchmark: umstore against Dovecot (Debian's dovecot-imapd, set up as
# /work/shared/notes/performance-anchors.md describes: Maildir, passwd-file
# with a plain password, ssl = no, one imap process per session) over the
# same 40 messages (20 voicemails, 20 faxes composed by umstore), in one run.
#   1. command mix (fetches, STORE, SEARCH, SORT, THREAD, a QRESYNC resync),
#      every session logs in and out, at each of CLIENTS clients
#   2. the same mix with sessions that stay logged in
#   3. APPEND latency and rate, APPEND_CLIENTS clients, into a mailbox of its own
#   4. SORT (DATE) of a mailbox of SORT_MESSAGES synthetic messages (dropped
#      into both Maildirs before the servers first see the folder)
#   5. memory per idle connection (LOGIN, SELECT, IDLE), IDLE_CONNECTIONS each
#      (PSS growth of all the server's processes; the server's CPU use while idle)
#   6. umstore alone with SCALE_CONNECTIONS idle connections (the 10,000 goal;
#      RSS growth and CPU use while idle)
# Needs: dovecot-imapd (bench/install-bench-deps.sh), root (Dovecot drops to
# "nobody" for the mail processes). Env: UMSTORE_BENCH_BUILD_DIR (default
# build-bench-imap), CLIENTS ("10 100"), SECONDS_PER_RUN (10), APPEND_CLIENTS
# (10), SORT_MESSAGES (100000, 0 to skip), IDLE_CONNECTIONS (500),
# SCALE_CONNECTIONS (10000, 0 to skip).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build="${UMSTORE_BENCH_BUILD_DIR:-build-bench-imap}"
clients_list="${CLIENTS:-10 100}"
append_clients="${APPEND_CLIENTS:-10}"
sort_n="${SORT_MESSAGES:-100000}"
seconds="${SECONDS_PER_RUN:-10}"
idle_n="${IDLE_CONNECTIONS:-500}"
scale_n="${SCALE_CONNECTIONS:-10000}"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [ ! -x "$build/app/umstore" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j2 --target umstore >/dev/null
fi
umstore="$root/$build/app/umstore"
work=$(mktemp -d /tmp/umstore-bench-imap.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/dovecot/run/master.pid" ] && kill "$(cat "$work/dovecot/run/master.pid")" 2>/dev/null || true
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP_BENCH_LOGS:-}" ] && trap 'tail -n 5 "$work/umstore.log" "$work/dovecot/dovecot.log"; cleanup' EXIT
g++ -O2 -std=c++20 -pthread bench/imap/imap_load.cpp -o "$work/imap_load"

user=+15550100
pass=bench-password
# --- the messages: one voicemail and one fax through umstore's own pipeline, 20 copies each
export UMSTORE_DATA_DIR="$work/umstore"
echo "$pass" | "$umstore" mailbox add "$user" --name "Bench User" --password-stdin >/dev/null
"$umstore" ingest voice --to "$user" --from +15550123 --caller-name "Bench Caller" samples/voicemail.wav >/dev/null
"$umstore" ingest fax --to "$user" --from +15550124 samples/fax.tif >/dev/null
inbox_cur=$(dirname "$(find "$work/umstore/mail" -path '*/cur/*' -type f | head -1)")
mkdir -p "$work/messages"
n=0
for f in "$inbox_cur"/*; do cp "$f" "$work/messages/proto$n"; n=$((n + 1)); done
rm -f "$inbox_cur"/*
# (the UID list still names the two originals: a fresh mailbox is simpler)
"$umstore" mailbox remove "$user" >/dev/null
rm -rf "$work/umstore/mail"
echo "$pass" | "$umstore" mailbox add "$user" --name "Bench User" --password-stdin >/dev/null
mkdir -p "$work/dovecot/home/Maildir/"{cur,new,tmp} "$work/dovecot/home/Maildir/.Sort/"{cur,new,tmp}
# Every client comes from 127.0.0.1, as with Dovecot's raised per-user-and-address limit below.
cat >"$work/umstore.conf" <<CONF
[limits]
imap_connections_per_address = 19999
password_queue = 1000
CONF
"$umstore" serve --config "$work/umstore.conf" --data-dir "$work/umstore" --imap 127.0.0.1:0 --smtp 127.0.0.1:0 --http 127.0.0.1:0 2>"$work/umstore.log" &
umstore_pid=$!
pids+=("$umstore_pid")
for _ in $(seq 50); do [ -f "$work/umstore/run/server.json" ] && break; sleep 0.2; done
umstore_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["imap"].rsplit(":",1)[1])' "$work/umstore/run/server.json")
# Deliver the copies through IMAP APPEND (the store assigns UIDs) and copy the same files to Dovecot.
python3 - "$umstore_port" "$user" "$pass" "$work/messages" "$work/dovecot/home/Maildir/cur" <<'PY'
import imaplib, os, shutil, sys
port, user, password, src, dovecot_cur = sys.argv[1:]
m = imaplib.IMAP4("127.0.0.1", int(port)); m.login(user, password)
protos = sorted(os.listdir(src))
for i in range(20):
    for p in protos:
        data = open(os.path.join(src, p), "rb").read()
        m.append("INBOX", None, None, data)
        shutil.copy(os.path.join(src, p), os.path.join(dovecot_cur, "%d.bench%d_%s,S=%d:2," % (1700000000 + i, i, p, len(data))))
m.create("Sort")
m.logout()
PY
# The SORT mailbox: SORT_MESSAGES small messages with dates, subjects and
# senders spread out, written straight into both Maildirs (umstore picks up
# files dropped into new/ and gives them UIDs when the folder is next read).
if [ "$sort_n" -gt 0 ]; then
  sort_new=$(find "$work/umstore/mail" -type d -path '*Sort*/new' | head -1)
  [ -n "$sort_new" ] || { echo "no Maildir folder for Sort under $work/umstore/mail" >&2; exit 1; }
  python3 - "$sort_n" "$sort_new" "$work/dovecot/home/Maildir/.Sort/cur" <<'PY'
import email.utils, os, random, sys
n, umstore_new, dovecot_cur = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rnd = random.Random(1)
words = "voicemail fax callback meeting invoice order delivery account reminder report".split()
for i in range(n):
    date = email.utils.formatdate(1600000000 + rnd.randrange(100_000_000), localtime=False)
    subject = rnd.choice(["", "Re: ", "Fwd: "]) + " ".join(rnd.choice(words) for _ in range(3)) + " %d" % rnd.randrange(1000)
    sender = "caller%d@example.org" % rnd.randrange(5000)
    data = ("From: %s\r\nTo: +15550100@example.org\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <s%d@bench>\r\n\r\n"
            "Message %d of the sort mailbox.\r\n" % (sender, subject, date, i, i)).encode()
    name = "%d.sort%d.bench" % (1700000000 + i, i)
    with open(os.path.join(umstore_new, name), "wb") as f: f.write(data)
    with open(os.path.join(dovecot_cur, "%s,S=%d:2," % (name, len(data))), "wb") as f: f.write(data)
PY
fi
mkdir -p "$work/dovecot/run" "$work/dovecot/state"
chown -R nobody:nogroup "$work/dovecot/home"
echo "$user:{PLAIN}$pass:65534:65534::$work/dovecot/home::" >"$work/dovecot/users"
dovecot_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/dovecot/dovecot.conf" <<CONF
base_dir = $work/dovecot/run
state_dir = $work/dovecot/state
log_path = $work/dovecot/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
auth_username_chars =
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = username_format=%u $work/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $work/dovecot/users
}
default_process_limit = 5000
default_client_limit = 10000
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $dovecot_port
  }
  process_min_avail = 2
}
service imap {
  process_limit = 5000
}
protocol imap {
  mail_max_userip_connections = 20000  # default 10: every idle connection is the same user and address
}
service anvil {
  client_limit = 12000
}
CONF
dovecot -c "$work/dovecot/dovecot.conf"
sleep 1

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# PSS: shared pages (libraries, Dovecot's mapped index files) split among the
# processes that map them, so summing Dovecot's processes does not count them
# once per process as summing RSS would.
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
dovecot_pss_kb() {  # every process of this Dovecot instance (master, login, auth, imap...)
  local master total=0
  master=$(cat "$work/dovecot/run/master.pid")
  for p in $master $(pgrep -P "$master"); do total=$((total + $(pss_kb "$p" 2>/dev/null || echo 0))); done
  echo "$total"
}
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b if b else 0))" "$1" "$2"; }
ops() { sed -n 's/.*ops_per_s=\([0-9]*\).*/\1/p' <<<"$1"; }

echo "IMAP benchmark: ${seconds}s per run, 40 messages (voicemail + fax), 2 cores shared"
for clients in $clients_list; do
  for mode in relogin stay; do
    sync; sleep 1
    u=$("$work/imap_load" mix "$umstore_port" "$user" "$pass" "$clients" "$seconds" "$mode" || true)
    sync; sleep 1
    d=$("$work/imap_load" mix "$dovecot_port" "$user" "$pass" "$clients" "$seconds" "$mode" || true)
    printf '%-8s %3s clients  umstore %7s cmd/s   dovecot %7s cmd/s   ratio %s   (umstore: %s | dovecot: %s)\n' \
      "$mode" "$clients" "$(ops "$u")" "$(ops "$d")" "$(ratio "$(ops "$u")" "$(ops "$d")")" "$u" "$d"
  done
done

p50() { sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$1"; }
sync; sleep 1
u=$("$work/imap_load" append "$umstore_port" "$user" "$pass" "$append_clients" "$seconds" Appended || true)
sync; sleep 1
d=$("$work/imap_load" append "$dovecot_port" "$user" "$pass" "$append_clients" "$seconds" Appended || true)
printf 'append   %3s clients  umstore p50 %s ms, %s/s   dovecot p50 %s ms, %s/s   (umstore: %s | dovecot: %s)\n' \
  "$append_clients" "$(p50 "$u")" "$(ops "$u")" "$(p50 "$d")" "$(ops "$d")" "$u" "$d"

if [ "$sort_n" -gt 0 ]; then
  sync; sleep 1
  u=$("$work/imap_load" sort "$umstore_port" "$user" "$pass" Sort 5 || true)
  d=$("$work/imap_load" sort "$dovecot_port" "$user" "$pass" Sort 5 || true)
  printf 'sort     %s messages  (umstore: %s | dovecot: %s)\n' "$sort_n" "$u" "$d"
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system, in clock ticks
idle_test() {  # name port rss-function connections [server-pid] -> prints KB per connection
  local before after fifo pid ticks
  fifo="$work/idle.$1.fifo"; mkfifo "$fifo"
  before=$($3)
  (exec 3<>"$fifo"; "$work/imap_load" idle "$2" "$user" "$pass" "$4" <&3 >"$work/idle.$1.out" 2>&1) &
  pid=$!
  for _ in $(seq 1200); do
    grep -q ready "$work/idle.$1.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  sleep 2
  after=$($3)
  if [ -n "${5:-}" ]; then  # the server's CPU use while every connection sits in IDLE
    ticks=$(cpu_ticks "$5"); sleep 10; ticks=$(($(cpu_ticks "$5") - ticks))
    echo "  $1: server CPU while idle: $ticks ticks in 10 s ($(python3 -c "import os,sys; print('%.2f' % (100 * int(sys.argv[1]) / os.sysconf('SC_CLK_TCK') / 10))" "$ticks")% of one core)" >&2
  fi
  echo done 1<>"$fifo"; wait "$pid" || true  # 1<>: no hang when the client has already gone
  python3 -c "import sys; print('%.1f' % ((int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3])))" "$before" "$after" "$4"
  echo "  $1: $(cat "$work/idle.$1.out") memory ${before} KB -> ${after} KB" >&2
}
umstore_rss() { rss_kb "$umstore_pid"; }
umstore_pss() { pss_kb "$umstore_pid"; }
u_kb=$(idle_test umstore "$umstore_port" umstore_pss "$idle_n" "$umstore_pid")
d_kb=$(idle_test dovecot "$dovecot_port" dovecot_pss_kb "$idle_n")
printf 'idle     umstore %7s KB/conn   dovecot %7s KB/conn (PSS)   dovecot/umstore %s   (%s connections in IDLE)\n' \
  "$u_kb" "$d_kb" "$(ratio "$d_kb" "$u_kb")" "$idle_n"
if [ "$scale_n" -gt 0 ]; then
  s_kb=$(idle_test umstore-scale "$umstore_port" umstore_rss "$scale_n" "$umstore_pid")
  printf 'scale    umstore %7s KB/conn with %s connections in IDLE (server RSS growth)\n' "$s_kb" "$scale_n"
fi

#!/usr/bin/env bash
# The README's run command: installs what is needed, builds, creates a demo
# data directory with two mailboxes, starts `umstore serve` on 127.0.0.1
# (SMTP 2525, IMAP 1143, HTTP 8025) and ingests the sample voicemail and fax.
# Ctrl-C stops the server; the next run reuses the data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh umstore
umstore="$PWD/${UMSTORE_BUILD_DIR:-build}/app/umstore"
data="${UMSTORE_DEMO_DIR:-$PWD/demo-data}"
passwords="$data/demo-passwords.txt"
fresh=0

if [ ! -f "$passwords" ]; then
  fresh=1
  mkdir -p "$data"
  : > "$passwords.tmp"
  for entry in "+15550100:Alice Example" "+15550101:Bob Example"; do
    number=${entry%%:*}
    name=${entry#*:}
    out=$("$umstore" --data-dir "$data" mailbox add "$number" --name "$name")
    echo "$out" | sed -n 's/^password for \([^:]*\): \(.*\)$/\1 \2/p' >> "$passwords.tmp"
  done
  mv "$passwords.tmp" "$passwords"
fi

"$umstore" serve --data-dir "$data" --domain vm.example.net \
  --smtp 127.0.0.1:2525 --imap 127.0.0.1:1143 --http 127.0.0.1:8025 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM
for _ in $(seq 100); do
  [ -f "$data/run/server.json" ] && break
  kill -0 $server 2>/dev/null || { echo "umstore serve failed to start" >&2; exit 1; }
  sleep 0.1
done

if [ $fresh = 1 ]; then
  "$umstore" --data-dir "$data" ingest voice --to +15550100 --from +15550123 \
    --caller-name "Carol Caller" samples/voicemail.wav
  "$umstore" --data-dir "$data" ingest fax --to +15550100 --from +15550199 samples/fax.tif
fi

pw=$(awk '$1=="+15550100"{print $2}' "$passwords")
cat <<MSG

umstore is running (data in $data). Demo mailboxes and passwords:
$(sed 's/^/  /' "$passwords")

Read the sample voicemail and fax over IMAP, for example:
  curl -s --user '+15550100:$pw' 'imap://127.0.0.1:1143/INBOX' -X 'FETCH 1:* BODYSTRUCTURE'
or point Thunderbird/mutt at IMAP 127.0.0.1 port 1143 (no TLS or STARTTLS),
user +15550100. Ctrl-C stops the server.
MSG
wait $server

#!/usr/bin/env bash
# The README's run command: installs what is needed, builds, creates a demo
# data directory with two mailboxes and a config (with a gateway token for
# the HTTP API), starts `umstore serve` on 127.0.0.1 (SMTP 2525, IMAP 1143,
# HTTP 8025), ingests the sample voicemail and fax, and prints the commands
# to try once the server answers /readyz. Ctrl-C stops the server; the next
# run reuses the data directory, its passwords and token.
# UMSTORE_DEMO_DIR: the data directory (default ./demo-data).
# UMSTORE_DEMO_PREBUILT=1: skip installing and building (tests/e2e's README
# walk runs this on the build CTest just made).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${UMSTORE_DEMO_PREBUILT:-0}" != 1 ]; then
  scripts/install-deps.sh
  scripts/build.sh umstore
fi
bin=$(realpath "${UMSTORE_BUILD_DIR:-build}")/app
umstore="$bin/umstore"
data="${UMSTORE_DEMO_DIR:-$PWD/demo-data}"
config="$data/umstore.conf"
passwords="$data/demo-passwords.txt"
fresh=0
mkdir -p "$data"

if [ ! -f "$config" ]; then
  token=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
  cat > "$config.tmp" <<CONF
; Written by scripts/demo.sh (umstore.conf(5) lists every key).
[umstore]
data_dir = $data
domain = vm.example.net

[listen]
smtp = 127.0.0.1:2525
imap = 127.0.0.1:1143
http = 127.0.0.1:8025

[gateways]
demo = $token                    ; bearer token for the HTTP API
CONF
  mv "$config.tmp" "$config"
fi
token=$(awk '$1=="demo"{print $3}' "$config")

if [ ! -f "$passwords" ]; then
  fresh=1
  : > "$passwords.tmp"
  for entry in "+15550100:Alice Example" "+15550101:Bob Example"; do
    number=${entry%%:*}
    name=${entry#*:}
    out=$("$umstore" --config "$config" mailbox add "$number" --name "$name")
    echo "$out" | sed -n 's/^password for \([^:]*\): \(.*\)$/\1 \2/p' >> "$passwords.tmp"
  done
  mv "$passwords.tmp" "$passwords"
fi

"$umstore" serve --config "$config" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM
# Ready means this server's run file (a killed server's may be left over:
# its pid is not ours) and an answer from /readyz, which comes only once
# every listener runs.
ready=0
for _ in $(seq 300); do
  kill -0 $server 2>/dev/null || { echo "umstore serve failed to start (see above)" >&2; exit 1; }
  if grep -q "\"pid\": $server[,}]" "$data/run/server.json" 2>/dev/null &&
     curl -sf -o /dev/null http://127.0.0.1:8025/readyz; then
    ready=1
    break
  fi
  sleep 0.1
done
[ $ready = 1 ] || { echo "umstore serve did not become ready within 30 s" >&2; kill -TERM $server; exit 1; }

if [ $fresh = 1 ]; then
  "$umstore" --config "$config" ingest voice --to +15550100 --from +15550123 \
    --caller-name "Carol Caller" samples/voicemail.wav
  "$umstore" --config "$config" ingest fax --to +15550100 --from +15550199 samples/fax.tif
fi

pw=$(awk '$1=="+15550100"{print $2}' "$passwords")
cat <<MSG

umstore is running (data in $data, config $config).
Demo mailboxes and passwords:
$(sed 's/^/  /' "$passwords")

In another shell, this makes the README's examples work as written:
  cd $PWD
  export PATH="$bin:\$PATH" UMSTORE_DATA_DIR="$data" PASSWORD='$pw' TOKEN='$token'

Then, for example:
  curl -s --user "+15550100:\$PASSWORD" 'imap://127.0.0.1:1143/INBOX' -X 'FETCH 1:* BODYSTRUCTURE'
  curl --fail-with-body -H "Authorization: Bearer \$TOKEN" -F file=@samples/voicemail.wav -F to=+15550100 -F from=+15550123 http://127.0.0.1:8025/v1/voicemail
  curl --fail-with-body -H "Authorization: Bearer \$TOKEN" --data-binary @samples/fax.tif -H 'X-Umstore-To: +15550100' http://127.0.0.1:8025/v1/fax
  umstore mailbox list
or point Thunderbird/mutt at IMAP 127.0.0.1 port 1143 (no TLS or STARTTLS),
user +15550100. Ctrl-C stops the server.
MSG
wait $server

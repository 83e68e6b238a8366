# Sourced by the SIP benchmarks: starts `umstore serve` in $WORK with SIP on a
# free 127.0.0.1 port that accepts $1 simultaneous calls and mailbox
# +15550100; sets SERVER_PID and SIP (host:port). Needs ROOT, UMSTORE, WORK.
start_umstore_for_bench() {
  # Only SIP is configured: the other listeners take free ports from the command line.
  cat > "$WORK/umstore.ini" <<INI
[sip]
listen = 127.0.0.1:0
gateways = 127.0.0.1
max_calls = $1
INI
  local common=(--config "$WORK/umstore.ini" --data-dir "$WORK/data")
  echo x | "$UMSTORE" mailbox add +15550100 --name Bench --password-stdin "${common[@]}" >/dev/null
  "$UMSTORE" serve "${common[@]}" --domain vm.example.net --smtp 127.0.0.1:0 --imap 127.0.0.1:0 --http 127.0.0.1:0 \
    2> "$WORK/serve.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/data/run/server.json" ] && break; sleep 0.1; done
  SIP=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sip'])" "$WORK/data/run/server.json")
}

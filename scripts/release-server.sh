# Sourced by the load scripts: `start_release_server [VAR=value ...]` builds and starts the
# release server on the embedded defaults (sim + a temporary SQLite file, live venues off,
# JSON logs) on a free port, with the given extra PAPERTWAP_* settings; sets $work, $pid,
# $addr and $token (the demo user's bearer token) and stops everything on exit. Add pids to
# $extra_pids to have them stopped too. `server_address` is shared with .ci/server.sh.
extra_pids=""

# `server_address LOG`: wait (30 s at most) for the server's JSON start-up line in LOG and
# set $addr to the address it listens on; prints the log and fails if it never comes.
server_address() {
  addr=""
  for _ in $(seq 1 150); do
    addr=$(grep -o '"address":"[^"]*"' "$1" | head -1 | cut -d'"' -f4 || true)
    [ -n "$addr" ] && return 0
    sleep 0.2
  done
  echo "server did not start"; cat "$1"; return 1
}

start_release_server() {
  cargo build --release --bin papertwap-server -p papertwap-server >/dev/null
  work=$(mktemp -d)
  env PAPERTWAP_SERVER__BIND=127.0.0.1:0 \
    PAPERTWAP_STORE__URL="sqlite://$work/load.db" \
    PAPERTWAP_EXCHANGES__BINANCE__ENABLED=false \
    PAPERTWAP_EXCHANGES__KRAKEN__ENABLED=false \
    PAPERTWAP_EXCHANGES__BYBIT__ENABLED=false \
    PAPERTWAP_EXCHANGES__OKX__ENABLED=false \
    PAPERTWAP_EXCHANGES__COINBASE__ENABLED=false \
    PAPERTWAP_EXCHANGES__BITSTAMP__ENABLED=false \
    PAPERTWAP_LOG__FORMAT=json \
    PAPERTWAP_LOG__LEVEL="${PAPERTWAP_LOG__LEVEL:-warn,papertwap_server=info}" \
    "$@" target/release/papertwap-server > "$work/server.log" 2>&1 &
  pid=$!
  trap 'kill $extra_pids $pid 2>/dev/null || true; rm -rf "$work"' EXIT
  server_address "$work/server.log" || exit 1
  token=$(curl -s "http://$addr/token" -d 'username=premium&password=CryptoTWAPpremium' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
}

# `submit_load_order DURATION_SECS`: the demo user's TWAP `load-1` on sim BTC-USDT, for
# GET /orders/load-1 loads.
submit_load_order() {
  curl -s -o /dev/null -w '%{http_code}\n' "http://$addr/orders/twap" -H "Authorization: Bearer $token" \
    -H 'content-type: application/json' \
    -d "{\"token_id\":\"load-1\",\"exchange\":\"sim\",\"symbol\":\"BTC-USDT\",\"side\":\"buy\",\"quantity\":\"1\",\"duration_secs\":$1,\"interval_secs\":10}"
}

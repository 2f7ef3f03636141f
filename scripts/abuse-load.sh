#!/usr/bin/env bash
# Abuse load (DESIGN §11, issue 8/8): well-behaved clients' latency while abusive clients
# attack — slow heads, slow chunked bodies, oversized bodies and request lines, WebSocket
# subscription floods, login floods. Prints p50/p99 per phase and the p99 ratio to the
# baseline (the bar: within +20 %, i.e. ratio <= 1.20).
#
#   scripts/abuse-load.sh [secs_per_phase=15] [rate=2000] [phases=all]
#
# Starts the release server on the embedded defaults (sim + a temporary SQLite file) with the
# per-user limit on order routes raised so the well-behaved load (GET /orders/{id}) is never
# limited; every other limit stays at its default, so the login flood meets the per-IP login
# limit and the WebSocket flood the market-data limit (a /ws upgrade counts as one request).
# Then logs in, submits one TWAP and runs `abuse-load` (tools/src/bin/abuse-load.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
rate=${2:-2000}
phases=${3:-slow-heads,slow-bodies,big-bodies,big-lines,ws-flood,login-flood}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --bin papertwap-server -p papertwap-server >/dev/null
cargo build --release -p papertwap-tools --bin abuse-load >/dev/null
work=$(mktemp -d)
PAPERTWAP_SERVER__BIND=127.0.0.1:0 \
PAPERTWAP_STORE__URL="sqlite://$work/load.db" \
PAPERTWAP_EXCHANGES__BINANCE__ENABLED=false \
PAPERTWAP_EXCHANGES__KRAKEN__ENABLED=false \
PAPERTWAP_LIMITS__PREMIUM__ORDERS_PER_MINUTE=100000000 \
PAPERTWAP_FEED__MAX_CONNECTIONS_PER_USER=1000 \
PAPERTWAP_LOG__FORMAT=json \
PAPERTWAP_LOG__LEVEL="${PAPERTWAP_LOG__LEVEL:-warn,papertwap_server=info}" \
  target/release/papertwap-server > "$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
addr=""
for _ in $(seq 1 100); do
  addr=$(grep -o '"address":"[^"]*"' "$work/server.log" | head -1 | cut -d'"' -f4 || true)
  [ -n "$addr" ] && break
  sleep 0.2
done
[ -n "$addr" ] || { cat "$work/server.log"; exit 1; }
token=$(curl -s "http://$addr/token" -d 'username=premium&password=CryptoTWAPpremium' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s -o /dev/null "http://$addr/orders/twap" -H "Authorization: Bearer $token" \
  -H 'content-type: application/json' \
  -d '{"token_id":"load-1","exchange":"sim","symbol":"BTC-USDT","side":"buy","quantity":"1","duration_secs":3600,"interval_secs":10}'
target/release/abuse-load --addr "$addr" --token "$token" --secs "$secs" --rate "$rate" --phases "$phases" --server-pid "$pid"
echo "server peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MB"}')"

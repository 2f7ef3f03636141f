#!/usr/bin/env bash
# REST load (DESIGN §10): authenticated GET /orders/{token_id} on loopback with wrk.
#
#   scripts/rest-load.sh [duration_secs=30] [connections=64] [threads=2]
#
# Starts the release server on the embedded defaults (sim + a temporary SQLite file), logs
# in as the demo user, submits one TWAP, then drives GET /orders/{token_id} with the bearer
# token and prints wrk's figures (requests/s, latency percentiles). The per-user rate limit
# is raised for the run so that the server's own cost is measured (the limiter still runs
# on every request). Successful requests are not access-logged during the run (log level
# `warn,papertwap_server=info`); `PAPERTWAP_LOG__LEVEL=info scripts/rest-load.sh` measures
# with one JSON access-log line per request. Needs `wrk` (Debian: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30}
conns=${2:-64}
threads=${3:-2}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }
cargo build --release --bin papertwap-server >/dev/null
work=$(mktemp -d)
PAPERTWAP_SERVER__BIND=127.0.0.1:0 \
PAPERTWAP_STORE__URL="sqlite://$work/load.db" \
PAPERTWAP_EXCHANGES__BINANCE__ENABLED=false \
PAPERTWAP_EXCHANGES__KRAKEN__ENABLED=false \
PAPERTWAP_LIMITS__PREMIUM__PER_MINUTE=100000000 \
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
curl -s -o /dev/null -w '%{http_code}\n' "http://$addr/orders/twap" -H "Authorization: Bearer $token" \
  -H 'content-type: application/json' \
  -d '{"token_id":"load-1","exchange":"sim","symbol":"BTC-USDT","side":"buy","quantity":"1","duration_secs":600,"interval_secs":10}'
echo "GET http://$addr/orders/load-1 for ${duration}s, $conns connections, $threads threads"
wrk -t"$threads" -c"$conns" -d"${duration}s" --latency -H "Authorization: Bearer $token" "http://$addr/orders/load-1"

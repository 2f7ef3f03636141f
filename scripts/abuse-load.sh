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
cargo build --release -p papertwap-tools --bin abuse-load >/dev/null
# shellcheck source=scripts/release-server.sh
. scripts/release-server.sh
start_release_server PAPERTWAP_LIMITS__PREMIUM__ORDERS_PER_MINUTE=100000000 \
  PAPERTWAP_FEED__MAX_CONNECTIONS_PER_USER=1000
submit_load_order 3600 >/dev/null
target/release/abuse-load --addr "$addr" --token "$token" --secs "$secs" --rate "$rate" --phases "$phases" --server-pid "$pid"
echo "server peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MB"}')"

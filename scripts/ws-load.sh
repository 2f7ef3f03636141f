#!/usr/bin/env bash
# WebSocket fan-out (DESIGN §10): N authenticated connections, each subscribed to the sim
# BTC-USDT top-10 book at 1 s; reports delivery lag p50/p99 from each frame's `ts`, frames
# missed, the server's CPU time per frame delivered and its peak RSS.
#
#   scripts/ws-load.sh [connections=5000] [seconds=30]
#
# Raises the open-file limit for both processes; lifts the per-user connection limit for
# the run (all connections use the demo user's token).
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-5000}
secs=${2:-30}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release -p papertwap-tools --bin ws-load >/dev/null
# shellcheck source=scripts/release-server.sh
. scripts/release-server.sh
start_release_server PAPERTWAP_FEED__MAX_CONNECTIONS_PER_USER=10000 \
  PAPERTWAP_LIMITS__PREMIUM__MARKET_PER_MINUTE=100000000
( while kill -0 $pid 2>/dev/null && [ -d "$work" ]; do
    awk '/VmRSS/{print $2}' /proc/$pid/status >> "$work/rss" 2>/dev/null || true
    sleep 0.5
  done ) &
extra_pids=$!
target/release/ws-load --url "ws://$addr/ws" --token "$token" --connections "$conns" --seconds "$secs" \
  --server-pid "$pid"
peak=$(sort -n "$work/rss" | tail -1)
echo "server peak RSS: $((peak / 1024)) MB"

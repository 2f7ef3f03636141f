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
# shellcheck source=scripts/release-server.sh
. scripts/release-server.sh
start_release_server PAPERTWAP_LIMITS__PREMIUM__PER_MINUTE=100000000
submit_load_order 600
echo "GET http://$addr/orders/load-1 for ${duration}s, $conns connections, $threads threads"
wrk -t"$threads" -c"$conns" -d"${duration}s" --latency -H "Authorization: Bearer $token" "http://$addr/orders/load-1"

#!/usr/bin/env bash
# Reproduce every figure of docs/PERFORMANCE.md on this machine (release builds; several
# minutes). Each step prints its own figures; run a step alone with its command from the doc.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== order book (criterion)";            cargo bench -p model --bench book
echo "== Binance parse + apply (criterion)"; cargo bench -p binance --bench parse_apply
echo "== Kraken parse + apply (criterion)";  cargo bench -p kraken --bench parse_apply
echo "== OKX parse + apply (criterion)";     cargo bench -p okx --bench parse_apply
echo "== Bybit parse + apply (criterion)";   cargo bench -p bybit --bench parse_apply
echo "== Coinbase parse + apply (criterion)"; cargo bench -p coinbase --bench parse_apply
echo "== Bitstamp parse + apply (criterion)"; cargo bench -p bitstamp --bench parse_apply
echo "== engine scale";                       cargo run --release -q -p papertwap-tools --bin engine-load -- --orders 10000 --slices 30
echo "== memory: 10 000 orders on 100 books"; cargo run --release -q -p papertwap-tools --bin engine-load -- --orders 10000 --slices 30 --books 100
echo "== REST side by side (one core each)";  scripts/rest-compare.sh 10 16 3
echo "== REST GET /orders/{token_id}";        scripts/rest-load.sh 20 64 2
echo "== WebSocket fan-out";                  scripts/ws-load.sh 5000 20
echo "== abuse: others' p99 beside each abuse"; scripts/abuse-load.sh 15 2000 none,slow-heads,slow-bodies,big-bodies,big-lines,ws-flood,login-flood
echo "== crash loop (100 cycles)";            PAPERTWAP_CRASH_CYCLES=100 cargo test -q -p papertwap-server --test it -- crash
echo "== tapes: write, read, size, recorder vs ingest (criterion)"; cargo bench -p tape --bench tape
echo "== recorder end to end, side by side";  cargo run --release -q -p papertwap-tools --bin record-load -- --books 200 --interval-ms 5 --secs 10 --rounds 9 --paired
echo "== recorder on a live venue's path";    cargo run --release -q -p papertwap-tools --bin record-load -- --venue binance --books 100 --interval-ms 10 --secs 10 --rounds 9 --paired
cargo run --release -q -p papertwap-tools --bin record-load -- --venue binance --books 200 --interval-ms 5 --secs 20 --rounds 9 --paired
echo "== what-if of a 1 h order (criterion)"; cargo bench -p replay --bench whatif
echo "== what-if reproduction (120 orders)";  cargo test -q -p e2e --test it -- lab_whatif
echo "== sim realism (5-minute ranges, holes)"; cargo test -q -p sim -- five_minute --nocapture
echo "== engine scale on PostgreSQL, alone and as a cluster instance"
scripts/with-postgres.sh sh -c 'cargo run --release -q -p papertwap-tools --bin engine-load -- --orders 10000 --slices 30 --store "$PAPERTWAP_PG_URL"'
scripts/with-postgres.sh sh -c 'cargo run --release -q -p papertwap-tools --bin engine-load -- --orders 10000 --slices 30 --cluster --store "$PAPERTWAP_PG_URL"'
echo "== scale-out chaos (3 instances, 180 s)"; PAPERTWAP_CHAOS_SECS=180 cargo test -q -p papertwap-server --test it -- cluster --nocapture

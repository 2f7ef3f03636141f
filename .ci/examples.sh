#!/usr/bin/env bash
# The SDK examples end to end against a freshly started server on sim (issue 6/8): the
# auth → submit → monitor flow, streaming books, a batch. (The CLI runs end to end in the
# test suite: bins/cli/tests/cli.rs.)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/server.sh
. .ci/server.sh
start_server
cargo run -q -p examples --example auth_submit_monitor -- "http://$addr"
cargo run -q -p examples --example stream_books -- "http://$addr" sim ETH-USDT 3
cargo run -q -p examples --example batch_orders -- "http://$addr"

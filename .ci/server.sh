# Sourced by the CI scripts: `start_server [VAR=value ...]` runs the debug server on the
# embedded defaults (sim + a temporary SQLite file; live venues off unless the arguments turn
# them on) on a free port with generous rate limits, sets $addr, $server_pid and $server_work (its
# folder), and stops it on exit.
# shellcheck source=scripts/release-server.sh
. scripts/release-server.sh

start_server() {
  local work
  work=$(mktemp -d)
  local server=target/debug/papertwap-server
  [ -x "$server" ] || cargo build -q --bin papertwap-server
  PAPERTWAP_SERVER__BIND=127.0.0.1:0 \
  PAPERTWAP_STORE__URL="sqlite://$work/ci.db" \
  PAPERTWAP_EXCHANGES__BINANCE__ENABLED=false \
  PAPERTWAP_EXCHANGES__KRAKEN__ENABLED=false \
  PAPERTWAP_EXCHANGES__BYBIT__ENABLED=false \
  PAPERTWAP_EXCHANGES__OKX__ENABLED=false \
  PAPERTWAP_EXCHANGES__COINBASE__ENABLED=false \
  PAPERTWAP_EXCHANGES__BITSTAMP__ENABLED=false \
  PAPERTWAP_LIMITS__ANONYMOUS__PER_MINUTE=1000000 \
  PAPERTWAP_LIMITS__BASIC__PER_MINUTE=1000000 \
  PAPERTWAP_LIMITS__PREMIUM__PER_MINUTE=1000000 \
  PAPERTWAP_LIMITS__TOKEN_PER_IP_PER_MINUTE=1000000 \
  PAPERTWAP_LIMITS__TOKEN_PER_USERNAME_PER_MINUTE=1000000 \
  PAPERTWAP_LOG__FORMAT=json \
    env "$@" "$server" > "$work/server.log" 2>&1 &
  server_pid=$!
  server_work=$work
  trap "kill $server_pid 2>/dev/null || true; rm -rf '$work'" EXIT
  server_address "$work/server.log"
}

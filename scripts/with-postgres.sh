#!/usr/bin/env bash
# Run a command beside a throwaway PostgreSQL: a new cluster in a temporary folder on a free
# loopback port (as the `postgres` user when run as root; fsync on, as a real server), one
# empty database `papertwap`, its URL in PAPERTWAP_PG_URL; stopped and removed afterwards.
#   scripts/with-postgres.sh sh -c 'cargo run --release -p papertwap-tools --bin engine-load -- --store "$PAPERTWAP_PG_URL"'
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "no PostgreSQL here: apt-get install postgresql" >&2; exit 1; }
dir=$(mktemp -d /tmp/papertwap-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; as_owner=(runuser -u postgres --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
"$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE papertwap"
export PAPERTWAP_PG_URL="postgres://postgres@127.0.0.1:$port/papertwap"
"$@"

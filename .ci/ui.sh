#!/usr/bin/env bash
# The dashboard in a real browser (issue 7/8): Debian's chromium driven by playwright-core
# (npm, installed locally from the lock file; it never downloads a browser) against a fresh
# server on sim. Screenshots land in ci-artifacts/ui/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  echo "/usr/bin/chromium is missing: apt-get install chromium"; exit 1
fi
(cd ui-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
# The six live venues are mocks on loopback speaking their real protocols (the server cannot
# reach the internet here); the sim runs beside them.
cargo build -q -p e2e --bin mock-venues
venues=$(mktemp -d)
target/debug/mock-venues "$venues/env" 600 &
mocks_pid=$!
for _ in $(seq 1 150); do [ -s "$venues/env" ] && break; sleep 0.2; done
[ -s "$venues/env" ] || { echo "mock-venues did not start"; exit 1; }
# shellcheck source=.ci/server.sh
. .ci/server.sh
mapfile -t venue_env < "$venues/env"
start_server "${venue_env[@]}"
trap 'kill $server_pid $mocks_pid 2>/dev/null || true; rm -rf "$venues" "$server_work"' EXIT
mkdir -p ci-artifacts/ui
PAPERTWAP_URL="http://$addr" ARTIFACTS="$PWD/ci-artifacts/ui" timeout 240 node ui-tests/dashboard.test.mjs

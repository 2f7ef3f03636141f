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
# shellcheck source=.ci/server.sh
. .ci/server.sh
start_server
mkdir -p ci-artifacts/ui
PAPERTWAP_URL="http://$addr" ARTIFACTS="$PWD/ci-artifacts/ui" timeout 240 node ui-tests/dashboard.test.mjs

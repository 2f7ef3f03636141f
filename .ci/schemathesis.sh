#!/usr/bin/env bash
# Property-based API testing (DESIGN §11): start the server on the embedded defaults (sim +
# a temporary SQLite file), log in as the demo user and run schemathesis against
# /openapi.json with every default check, >= 100 examples per operation. Fails on any
# failure. Expects the debug server binary built (the test step builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.ci/venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'schemathesis==4.32.5'
fi
# shellcheck source=.ci/server.sh
. .ci/server.sh
start_server
token=$(python3 - "$addr" <<'PY'
import json, sys, urllib.parse, urllib.request
body = urllib.parse.urlencode({"username": "premium", "password": "CryptoTWAPpremium"}).encode()
with urllib.request.urlopen(f"http://{sys.argv[1]}/token", data=body) as r:
    print(json.load(r)["access_token"])
PY
)
"$venv/bin/schemathesis" --config-file .ci/schemathesis.toml run "http://$addr/openapi.json" \
  --header "Authorization: Bearer $token" --max-examples 100 --seed 20261121 --no-color

#!/usr/bin/env bash
# The Python SDK (python/, issue 2/8) as a user gets it: a fresh venv, `pip install` of the
# package with its dev extra (from the package registry only), ruff (lint + format), mypy
# --strict, pytest against real servers it starts itself (the debug server binary: built
# here if the test step did not), then the README's two Python examples against a fresh
# server.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/py-venv
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
"$venv/bin/pip" install -q --disable-pip-version-check './python[dev]'
[ -x target/debug/papertwap-server ] || cargo build -q --bin papertwap-server
(
  cd python
  "../$venv/bin/ruff" check .
  "../$venv/bin/ruff" format --check .
  "../$venv/bin/mypy"
  "../$venv/bin/pytest" -q -p no:cacheprovider
)
# shellcheck source=.ci/server.sh
. .ci/server.sh
start_server
out=$(mktemp -d)
"$venv/bin/python" python/examples/auth_submit_monitor.py "http://$addr"
"$venv/bin/python" python/examples/two_twaps.py "http://$addr" --duration 12 --out "$out/twap_comparison.png"
test -s "$out/twap_comparison.png"
mkdir -p ci-artifacts/python && cp "$out/twap_comparison.png" ci-artifacts/python/

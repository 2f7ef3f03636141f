#!/usr/bin/env bash
# The request path side by side (DESIGN §20): our server, a bare actix-web handler doing only
# the JWT check (tools/src/bin/bare-jwt.rs) and a FastAPI + PyJWT equivalent
# (scripts/peers/fastapi_peer.py), each pinned to CPU 0 in turn, loaded by wrk pinned to
# CPU 1, in one run.
#
#   scripts/rest-compare.sh [secs=10] [connections=16] [runs=3]
#
# For each target it reports requests/s, latency p50/p99 and the server's CPU per request
# (utime+stime of the whole process from /proc, divided by the requests served). Our server
# also runs its market feed and engine in the background: their idle CPU over an equal
# window is measured too and subtracted ("net"). Targets:
#   ours  GET /orders/{token_id}  an open order (JWT, rate limit, engine memory read, JSON)
#   ours  GET /                   the fixed cost of any request through our middleware
#   bare  GET /orders/{token_id}  actix-web + the JWT check only
#   fastapi GET /orders/{token_id} FastAPI + PyJWT, one uvicorn worker
# Needs wrk and taskset (Debian: apt-get install wrk util-linux) and python3-venv; installs
# FastAPI, uvicorn and PyJWT from PyPI into target/peer-venv. Every loop is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
runs=${3:-3}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }
command -v taskset >/dev/null || { echo "taskset is needed: apt-get install util-linux"; exit 1; }

venv=target/peer-venv
if [ ! -x "$venv/bin/uvicorn" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check fastapi uvicorn pyjwt
fi
cargo build --release -q --bin papertwap-server -p papertwap-server
cargo build --release -q -p papertwap-tools --bin bare-jwt

work=$(mktemp -d)
pids=""
trap 'kill $pids 2>/dev/null || true; rm -rf "$work"' EXIT
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
tick=$(getconf CLK_TCK)

# `wait_listen LOG PATTERN`: the address a server prints on start (30 s at most).
wait_listen() {
  for _ in $(seq 1 150); do
    a=$(grep -o "$2" "$1" | head -1 || true)
    [ -n "$a" ] && { echo "$a"; return 0; }
    sleep 0.2
  done
  echo "a peer did not start:" >&2; cat "$1" >&2; return 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# `measure NAME PID URL TOKEN`: one wrk run; prints `name req_s p50 p99 cpu_us_per_req requests`.
measure() {
  local name=$1 pid=$2 url=$3 token=$4
  taskset -c 1 wrk -t1 -c"$conns" -d2s -H "Authorization: Bearer $token" "$url" >/dev/null
  local c0 c1 out reqs rps p50 p99
  c0=$(cpu_ticks "$pid")
  out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token" "$url")
  c1=$(cpu_ticks "$pid")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  if echo "$out" | grep -q 'Non-2xx'; then echo "$name: non-2xx answers:"; echo "$out"; exit 1; fi
  echo "$name $rps $p50 $p99 $(( (c1 - c0) * 1000000 / tick / reqs )) $reqs $(( c1 - c0 ))"
}

# Our server, on the embedded defaults (sim + SQLite), pinned to CPU 0; limits raised so the
# server's own cost is measured (the limiter still runs on every request).
env PAPERTWAP_SERVER__BIND=127.0.0.1:0 PAPERTWAP_STORE__URL="sqlite://$work/load.db" \
  PAPERTWAP_EXCHANGES__BINANCE__ENABLED=false PAPERTWAP_EXCHANGES__KRAKEN__ENABLED=false PAPERTWAP_EXCHANGES__BYBIT__ENABLED=false PAPERTWAP_EXCHANGES__OKX__ENABLED=false PAPERTWAP_EXCHANGES__COINBASE__ENABLED=false PAPERTWAP_EXCHANGES__BITSTAMP__ENABLED=false \
  PAPERTWAP_LOG__FORMAT=json PAPERTWAP_LOG__LEVEL=warn,papertwap_server=info \
  PAPERTWAP_LIMITS__PREMIUM__PER_MINUTE=100000000 PAPERTWAP_LIMITS__ANONYMOUS__PER_MINUTE=100000000 \
  taskset -c 0 target/release/papertwap-server > "$work/ours.log" 2>&1 &
ours=$!; pids="$pids $ours"
addr=$(wait_listen "$work/ours.log" '"address":"[^"]*"' | cut -d'"' -f4)
token=$(curl -s "http://$addr/token" -d 'username=premium&password=CryptoTWAPpremium' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s -o /dev/null -w '' "http://$addr/orders/twap" -H "Authorization: Bearer $token" \
  -H 'content-type: application/json' \
  -d '{"token_id":"load-1","exchange":"sim","symbol":"BTC-USDT","side":"buy","quantity":"1","duration_secs":3600,"interval_secs":60}'

BARE_JWT_SECRET=$secret taskset -c 0 target/release/bare-jwt 127.0.0.1:0 > "$work/bare.log" 2>&1 &
bare=$!; pids="$pids $bare"
bare_addr=$(wait_listen "$work/bare.log" 'listening on [0-9.:]*' | cut -d' ' -f3)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
JWT_SECRET=$secret taskset -c 0 "$venv/bin/uvicorn" --app-dir scripts/peers fastapi_peer:app \
  --host 127.0.0.1 --port "$port" --workers 1 --no-access-log --log-level warning > "$work/fastapi.log" 2>&1 &
fast=$!; pids="$pids $fast"
for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$port/docs" && break; sleep 0.2; done
peer_token=$("$venv/bin/python" -c "import jwt,time,sys; print(jwt.encode({'sub':'premium','exp':int(time.time())+3600}, sys.argv[1], algorithm='HS256'))" "$secret")

echo "one core each (CPU 0), wrk on CPU 1, ${secs}s × $runs runs, $conns connections"
results="$work/results"
for r in $(seq 1 "$runs"); do
  c0=$(cpu_ticks "$ours"); sleep "$secs"; c1=$(cpu_ticks "$ours")
  echo "idle $(( c1 - c0 ))" >> "$results"
  measure ours-order "$ours" "http://$addr/orders/load-1" "$token" >> "$results"
  measure ours-root "$ours" "http://$addr/" "$token" >> "$results"
  measure bare "$bare" "http://$bare_addr/orders/load-1" "$peer_token" >> "$results"
  measure fastapi "$fast" "http://127.0.0.1:$port/orders/load-1" "$peer_token" >> "$results"
  echo "run $r done"
done

python3 - "$results" "$tick" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
tick = int(sys.argv[2])
idle = statistics.median(int(r[1]) for r in rows if r[0] == "idle")
by = {}
for r in rows:
    if r[0] != "idle":
        by.setdefault(r[0], []).append(r)
med = lambda xs: statistics.median(xs)
def cpu_net(r):
    reqs, ticks = int(r[5]), int(r[6])
    return max(ticks - idle, 0) * 1e6 / tick / reqs
print(f"\nbackground CPU of our server while idle: {idle} ticks per window (subtracted as 'net')\n")
print("| target | req/s (median) | p50 | p99 | CPU/request raw | CPU/request net |")
print("|---|---|---|---|---|---|")
summary = {}
for name in ["ours-order", "ours-root", "bare", "fastapi"]:
    rs = by.get(name, [])
    if not rs:
        continue
    rps = med(float(r[1]) for r in rs)
    raw = med(int(r[4]) for r in rs)
    net = med(cpu_net(r) for r in rs) if name.startswith("ours") else raw
    summary[name] = (rps, raw, net)
    mid = sorted(rs, key=lambda r: float(r[1]))[len(rs) // 2]  # the median run's latencies
    print(f"| {name} | {rps:,.0f} | {mid[2]} | {mid[3]} | {raw} µs | {net:.1f} µs |")
if {"ours-order", "bare", "fastapi"} <= summary.keys():
    o, b, f = summary["ours-order"], summary["bare"], summary["fastapi"]
    print(f"\nGET /orders/{{token_id}}: {o[2] / b[2]:.2f}× the bare handler's CPU per request (bar ≤ 2×), "
          f"{o[0] / f[0]:.1f}× FastAPI's requests/s (bar ≥ 10×)")
if "ours-root" in summary:
    print(f"GET / through our middleware: {summary['ours-root'][2]:.1f} µs of CPU per request (bar ≤ 20 µs)")
PY

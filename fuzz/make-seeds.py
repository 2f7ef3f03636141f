#!/usr/bin/env python3
"""Write the seed corpus (fuzz/corpus/<target>/seed-*) from the captured exchange fixtures
in crates/*/tests/fixtures and a few hand-written requests. Run from anywhere:
    python3 fuzz/make-seeds.py
The seeds are committed; cargo test replays them (crates/fuzzing/tests/corpus.rs)."""
import json, pathlib, struct

root = pathlib.Path(__file__).resolve().parent
bx = root.parent / "crates/binance/tests/fixtures"
kx = root.parent / "crates/kraken/tests/fixtures"

def seed(target, name, data):
    d = root / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / f"seed-{name}").write_bytes(data)

def compact(path):
    return json.dumps(json.loads(path.read_text()), separators=(",", ":"))

# Binance WS frames: captured depth events and the control frames.
seed("binance_frame", "raw-depth", compact(bx / "ws_depth_update_btcusdt_raw_stream.json"))
seed("binance_frame", "combined-depth", compact(bx / "ws_diff_depth_btcusdt_combined_2025.json"))
seed("binance_frame", "partial-depth20", compact(bx / "ws_depth20_flmusdt_combined_stream.json"))
for i, m in enumerate(json.loads((bx / "ws_diff_depth_nknusdt_sequence.json").read_text())[:3]):
    seed("binance_frame", f"nkn-{i}", json.dumps(m, separators=(",", ":")))
seed("binance_frame", "ack", '{"result":null,"id":1}')
seed("binance_frame", "error", '{"code":2,"msg":"Invalid request: unknown variant"}')
seed("binance_frame", "shutdown", '{"stream":"btcusdt@depth@100ms","data":{"e":"serverShutdown","E":1700000000000}}')

# Binance REST: first byte 0 snapshot, 1 exchangeInfo, 2 klines.
seed("binance_rest", "snapshot", b"\x00" + compact(bx / "rest_depth_btcusdt_limit10.json").encode())
seed("binance_rest", "exchange-info", b"\x01" + compact(bx / "rest_exchange_info_2021_trimmed.json").encode())
seed("binance_rest", "klines", b"\x02" + compact(bx / "rest_klines_btcusdt_1m.json").encode())

# Binance sync: 17-byte ops (kind, then two ids or two small offsets).
def op(kind, a, b):
    return bytes([kind]) + struct.pack("<QQ", a, b)
seed("binance_sync", "reference", op(0, 0, 0) + op(2, 3, 1) + op(1, 0, 0) + op(0, 1, 2) + op(4, 0, 0))
seed("binance_sync", "raw-ids", op(0x80, 990, 998) + op(0x81, 1000, 0) + op(0x80, 999, 1003) + op(0x80, 1004, 1006))
seed("binance_sync", "gap", op(0x80, 10, 20) + op(0x81, 15, 0) + op(0x80, 21, 25) + op(0x80, 30, 31))

# Kraken WS v2: first byte = price_dp + 9 * qty_dp.
seed("kraken_frame", "docs-guide", bytes([1 + 9 * 8]) + compact(kx / "ws_v2_book_snapshot_btcusd_docs_checksum_guide.json").encode())
seed("kraken_frame", "depth25", bytes([1 + 9 * 8]) + compact(kx / "ws_v2_book_snapshot_btcusdt_depth25.json").encode())
seed("kraken_frame", "update", bytes([1 + 9 * 8]) + json.dumps({"channel": "book", "type": "update", "data": [
    {"symbol": "BTC/USD", "bids": [{"price": 45283.5, "qty": 0.1}], "asks": [{"price": 45285.2, "qty": 0.0}],
     "checksum": 2431937015, "timestamp": "2023-10-06T17:35:55.440295Z"}]}, separators=(",", ":")).encode())
seed("kraken_frame", "heartbeat", b"\x00" + b'{"channel":"heartbeat"}')
seed("kraken_frame", "subscribed", b"\x00" + b'{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2023-10-06T17:35:55.440295Z","time_out":"2023-10-06T17:35:55.440295Z"}')
seed("kraken_frame", "refused", b"\x00" + b'{"error":"Currency pair not supported XXX/YYY","method":"subscribe","success":false,"symbol":"XXX/YYY","time_in":"2023-10-06T17:35:55.440295Z","time_out":"2023-10-06T17:35:55.440295Z"}')

# Kraken REST: first byte even = AssetPairs, odd = OHLC (byte/2 picks the interval).
seed("kraken_rest", "asset-pairs", b"\x00" + compact(kx / "rest_asset_pairs_xbtusdt_2025.json").encode())
seed("kraken_rest", "asset-pairs-2021", b"\x00" + compact(kx / "rest_asset_pairs_2021_trimmed.json").encode())
seed("kraken_rest", "ohlc", b"\x01" + compact(kx / "rest_ohlc_xbtusdt_1m_trimmed.json").encode())
seed("kraken_rest", "error", b"\x01" + b'{"error":["EQuery:Unknown asset pair"]}')

# TWAP bodies.
seed("twap_request", "object", json.dumps({"token_id": "t-1", "exchange": "sim", "symbol": "BTC-USDT", "side": "buy",
    "quantity": "0.5", "limit_price": "70000", "duration_secs": 600, "interval_secs": 60}))
seed("twap_request", "slices", json.dumps({"token_id": "t-2", "exchange": "sim", "symbol": "BTCUSDT", "side": "sell",
    "quantity": "1.23457", "duration_secs": 3600, "slices": 7, "catch_up": "next"}))
seed("twap_request", "legacy", json.dumps({"token_id": "t-3", "exchange": "sim", "symbol": "BTC-USDT", "order_type": "buy",
    "quantity": 2, "price": 65000.5, "start_time": "2026-11-21T12:00:00Z", "end_time": "2026-11-21T13:00:00Z", "interval": 10}))
seed("twap_request", "batch", json.dumps([{"token_id": "b-1", "exchange": "sim", "symbol": "BTC-USDT", "side": "buy",
    "quantity": "0.00003", "duration_secs": 3, "interval_secs": 1}, {"token_id": "b-2", "exchange": "binance",
    "symbol": "ETH-USDT", "side": "sell", "quantity": "3", "duration_secs": 60, "slices": 60}]))

# WebSocket client messages, tokens and times.
for name, text in [
    ("auth", '{"op":"auth","token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwcmVtaXVtIn0.c2lnbmF0dXJl"}'),
    ("subscribe-book", '{"op":"subscribe","channel":"book","exchange":"sim","symbol":"BTC-USDT","depth":10,"interval_ms":1000}'),
    ("subscribe-consolidated", '{"op":"subscribe","channel":"consolidated","symbol":"BTC-USDT","depth":5}'),
    ("subscribe-orders", '{"op":"subscribe","channel":"orders"}'),
    ("unsubscribe", '{"op":"unsubscribe","channel":"book","exchange":"kraken","symbol":"XBT/USD"}'),
    ("ping", '{"op":"ping"}'),
    ("millis", "1795262400000"),
    ("rfc3339", "2026-11-21T12:00:00.123456789+01:00"),
    ("jwt-none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwidWlkIjoxLCJ0aWVyIjoicHJlbWl1bSIsImlhdCI6MSwiZXhwIjo5OTk5OTk5OTk5fQ."),
]:
    seed("ws_message", name, text)

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

# POST /orders bodies: every strategy, a route, latency.
seed("order_request", "vwap", json.dumps({"token_id": "v-1", "strategy": "vwap", "exchange": "sim",
    "symbol": "BTC-USDT", "side": "buy", "quantity": "2.4", "duration_secs": 86400, "interval_secs": 3600,
    "profile_days": 7}))
seed("order_request", "pov", json.dumps({"strategy": "pov", "exchange": "sim", "symbol": "BTC-USDT",
    "side": "sell", "quantity": "1", "duration_secs": 600, "interval_secs": 10, "participation": "0.1",
    "max_slice_qty": "0.2", "catch_up": "next"}))
seed("order_request", "jitter-best", json.dumps([{"token_id": "j-1", "strategy": "twap", "exchange": "best",
    "symbol": "BTC-USDT", "side": "buy", "quantity": "0.5", "duration_secs": 60, "slices": 12,
    "jitter": {"seed": 7, "time_pct": 50, "size_pct": 50}, "latency_ms": 250}]))

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

# Second-stage venues: frames (first byte 80 = price and quantity scales of 8 decimals).
ox = root.parent / "crates/okx/tests/fixtures"
yx = root.parent / "crates/bybit/tests/fixtures"
cx = root.parent / "crates/coinbase/tests/fixtures"
sx = root.parent / "crates/bitstamp/tests/fixtures"
S8 = b"\x50"
for i, m in enumerate(json.loads((ox / "ws_books_uni_usd_swap_sequence.json").read_text())[:3]):
    seed("okx_frame", f"uni-{i}", S8 + json.dumps(m, separators=(",", ":")).encode())
seed("okx_frame", "books5", S8 + compact(ox / "ws_books5_doge_usdt.json").encode())
seed("okx_frame", "trades", S8 + b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3"}]}')
seed("okx_frame", "notice", S8 + b'{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade.","connId":"a4d3ae55"}')
for i, m in enumerate(json.loads((yx / "ws_orderbook200_btcusdt_spot_ack_snapshot_delta.json").read_text())):
    seed("bybit_frame", f"ob200-{i}", S8 + json.dumps(m, separators=(",", ":")).encode())
seed("bybit_frame", "trade", S8 + b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}')
seed("coinbase_frame", "l2-snapshot", S8 + compact(cx / "ws_level2_l2_data_snapshot_docs.json").encode())
seed("coinbase_frame", "l2-update", S8 + b'{"channel":"l2_data","client_id":"","timestamp":"2026-07-01T12:00:00.512000000Z","sequence_num":4,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"offer","event_time":"2026-07-01T12:00:00.511000Z","price_level":"67000.01","new_quantity":"0"},{"side":"bid","event_time":"2026-07-01T12:00:00.511000Z","price_level":"67003.33","new_quantity":"0.5"}]}]}')
seed("coinbase_frame", "trades", S8 + b'{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":7,"events":[{"type":"update","trades":[{"trade_id":"12346","product_id":"BTC-USD","price":"21921.74","size":"0.002","side":"SELL","time":"2023-02-09T20:19:35.396Z"},{"trade_id":"12345","product_id":"BTC-USD","price":"21921.73","size":"0.5","side":"BUY","time":"2023-02-09T20:19:35.100Z"}]}]}')
seed("coinbase_frame", "heartbeat", S8 + b'{"channel":"heartbeats","client_id":"","timestamp":"2026-07-01T12:00:02.000123Z","sequence_num":3,"events":[{"current_time":"2026-07-01 12:00:01.999456 +0000 UTC m=+3600.1","heartbeat_counter":3601}]}')
seed("coinbase_frame", "error", S8 + b'{"type":"error","message":"failure to subscribe"}')
for i, m in enumerate(json.loads((sx / "ws_diff_order_book_ethusd_sequence.json").read_text())[:4]):
    seed("bitstamp_frame", f"diff-{i}", S8 + json.dumps(m, separators=(",", ":")).encode())
seed("bitstamp_frame", "trade", S8 + b'{"data":{"id":350134321,"timestamp":"1782907201","amount":0.012,"amount_str":"0.01200000","price":67000.5,"price_str":"67000.50","type":1,"microtimestamp":"1782907201023000","buy_order_id":1,"sell_order_id":2},"channel":"live_trades_btcusd","event":"trade"}')
seed("bitstamp_frame", "reconnect", S8 + b'{"event":"bts:request_reconnect","channel":"","data":""}')

# Their REST bodies: the first byte % 10 picks venue and route, / 16 the candle interval.
bts_book = json.loads((sx / "rest_order_book_ethusd.json").read_text())
bts_book["bids"], bts_book["asks"] = bts_book["bids"][:20], bts_book["asks"][:20]
for sel, name, body in [
    (0, "okx-instruments", '{"code":"0","msg":"","data":[{"instType":"SPOT","instId":"BTC-USDT","baseCcy":"BTC","quoteCcy":"USDT","tickSz":"0.1","lotSz":"0.00000001","minSz":"0.00001","state":"live"}]}'),
    (1, "okx-candles", '{"code":"0","msg":"","data":[["1597026383085","3.721","3.743","3.677","3.708","8422410","22698348.04828491","12698348.04828491","0"],["1597026323085","3.731","3.799","3.494","3.72","24912403","67632347.24399722","37632347.24399722","1"]]}'),
    (2, "okx-book", '{"code":"0","msg":"","data":[{"asks":[["41006.8","0.60038921","0","1"]],"bids":[["41006.3","0.30178218","0","2"]],"ts":"1629966436396","seqId":3053}]}'),
    (3, "bybit-instruments", '{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[{"symbol":"BTCUSDT","baseCoin":"BTC","quoteCoin":"USDT","status":"Trading","lotSizeFilter":{"basePrecision":"0.000001","minOrderQty":"0.000011","minOrderAmt":"5"},"priceFilter":{"tickSize":"0.1"}}]},"retExtInfo":{},"time":1}'),
    (4, "bybit-kline", '{"retCode":0,"retMsg":"OK","result":{"category":"spot","symbol":"BTCUSDT","list":[["1782907260000","67020.5","67031","67001.2","67005","3.21","215123.44"]]},"retExtInfo":{},"time":1}'),
    (5, "coinbase-products", compact(cx / "rest_products_list.json")),
    (6, "coinbase-candles", compact(cx / "rest_candles_btc_usd.json")),
    (7, "bitstamp-pairs", '[{"name":"BTC/USD","url_symbol":"btcusd","base_decimals":8,"counter_decimals":0,"minimum_order":"10.0 USD","trading":"Enabled","description":"Bitcoin / U.S. dollar"}]'),
    (8, "bitstamp-ohlc", '{"data":{"pair":"BTC/USD","ohlc":[{"timestamp":"1782907200","open":"67000.00","high":"67050.00","low":"66990.00","close":"67020.50","volume":"12.34567000"}]}}'),
    (9, "bitstamp-book", json.dumps(bts_book, separators=(",", ":"))),
]:
    seed("venue_rest", name, bytes([sel]) + body.encode())

# Bitstamp's splice: ops of 9 bytes (tag % 4 == 0 places, else a diff; a signed step).
seed("bitstamp_splice", "steps", bytes([3]) + b"".join(bytes([t, lo, hi]) + b"\0" * 6 for t, lo, hi in [(1, 10, 0), (1, 10, 0), (0, 0, 0), (1, 5, 0), (1, 0xf6, 0xff), (0, 20, 0)]))

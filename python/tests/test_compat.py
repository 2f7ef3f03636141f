"""``papertwap.compat.TradingClient``: a script written for the original client runs."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from conftest import Server, eventually, unique

from papertwap import Client
from papertwap.compat import TradingClient, start_websocket_listener


def test_the_original_script_runs(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    # The original example, with this server's URL and sim instead of the live venue.
    client = TradingClient(server.url, "crytobrodu59")  # its x-token: replaced by a login
    exchanges = client.fetch_exchanges()
    assert "sim" in [e["id"] for e in exchanges]
    trading_pairs = client.fetch_trading_pairs("sim")
    assert "BTCUSDT" in [p["exchange_symbol"] for p in trading_pairs]
    klines = client.fetch_klines("sim", "BTCUSDT", interval="1m", limit=10)
    assert len(klines) == 10 and isinstance(klines[0]["close"], str)

    token_id = unique("order1")
    order_data = {
        "token_id": token_id,
        "exchange": "sim",
        "symbol": "BTCUSDT",
        "quantity": 0.01,
        "price": 1000000,
        "order_type": "buy",
    }
    response = client.submit_twap_order(order_data, execution_time=2, interval=1)
    assert response["token_id"] == token_id
    assert response["symbol"] == "BTC-USDT"

    status = eventually(
        "the order filled",
        30,
        lambda: (s := client.get_order_status(token_id))["status"] == "filled" and s,
    )
    assert status["filled_quantity"] == "0.01"
    assert len(status["slices"]) == 2

    # Errors are printed and returned as their body, as the original did.
    missing = client.get_order_status("no-such-order")
    assert missing["status"] == 404 and missing["code"] == "order_not_found"
    assert "Error 404" in capsys.readouterr().err


def test_listener_variant(server: Server) -> None:
    client = TradingClient(server.url, exchange="sim")
    thread = threading.Thread(
        target=client.start_websocket_listener, args=("BTCUSDT",), kwargs={"max_updates": 2}
    )
    thread.start()
    prices = eventually("a top of book", 30, lambda: client.latest_prices.get("BTCUSDT"))
    assert float(prices["bid_price"]) < float(prices["ask_price"])
    thread.join(timeout=30)
    assert not thread.is_alive()

    # The listener-driven submit: a buy on the client's exchange at the last ask seen, with
    # the lower-cased symbol as token_id.
    answer = client.submit_twap_order(
        symbol="BTCUSDT", quantity="0.01", execution_time=60, interval=30
    )
    assert answer["token_id"] == "btcusdt"
    assert answer["side"] == "buy" and answer["exchange"] == "sim"
    assert Decimal(answer["limit_price"]) == Decimal(client.latest_prices["BTCUSDT"]["ask_price"])
    assert client.submit_twap_order(symbol="ETHUSDT") is None  # no market data seen for it
    with Client(server.url) as typed:
        typed.login("premium", "CryptoTWAPpremium")
        typed.cancel("btcusdt")


def test_module_level_listener_spelling(server: Server) -> None:
    client = TradingClient(server.url, exchange="sim")
    done = threading.Event()

    def listen() -> None:
        client.start_websocket_listener("ETHUSDT", max_updates=1)
        done.set()

    threading.Thread(target=listen, daemon=True).start()
    eventually("a top of book", 30, done.is_set)
    assert "ETHUSDT" in client.latest_prices
    assert callable(start_websocket_listener)

"""The synchronous client against a real server: every endpoint, the errors, the session."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from conftest import PASSWORD, USER, Server, unique

from papertwap import (
    ApiError,
    BookState,
    Client,
    ConnectionStatus,
    NotLoggedIn,
    OrderStatus,
    Side,
    Timeout,
    TransportError,
    twap,
)


def test_market_data(client: Client) -> None:
    info = client.root()
    assert info.name == "papertwap"
    assert info.openapi == "/openapi.json"
    health = client.health()
    assert any(e.id == "sim" for e in health.exchanges)
    assert "papertwap_" in client.metrics()

    exchanges = {e.id: e for e in client.exchanges()}
    assert exchanges["sim"].status == ConnectionStatus.CONNECTED
    assert exchanges["binance"].status == ConnectionStatus.DISABLED

    pairs = client.pairs("sim", quote="USDT")
    assert pairs and all(p.quote == "USDT" for p in pairs)
    btc = next(p for p in pairs if p.symbol == "BTC-USDT")
    assert isinstance(btc.price_tick, Decimal) and btc.price_tick > 0

    klines = client.klines("sim", "BTC-USDT", interval="1m", limit=5)
    assert len(klines) == 5
    assert klines == sorted(klines, key=lambda k: k.open_time)
    assert all(k.low <= k.open <= k.high and k.low <= k.close <= k.high for k in klines)
    # A window given as aware datetimes (naive ones are UTC) and as Unix milliseconds.
    end = klines[-2].open_time  # closed candles only: the last one is still moving
    start = end - timedelta(minutes=2)
    windowed = client.klines("sim", "BTC-USDT", "1m", 10, start=start, end=end)
    assert windowed and all(start <= k.open_time <= end for k in windowed)
    naive = client.klines("sim", "BTC-USDT", "1m", 10, start=start.replace(tzinfo=None), end=end)
    assert [k.open_time for k in naive] == [k.open_time for k in windowed]
    ms = client.klines("sim", "BTC-USDT", "1m", 10, start=int(start.timestamp() * 1000), end=end)
    assert [k.open_time for k in ms] == [k.open_time for k in windowed]

    book = client.order_book("sim", "btcusdt", depth=3)  # a native spelling resolves
    assert book.symbol == "BTC-USDT"
    assert book.health.state == BookState.LIVE
    assert len(book.bids) == 3 and len(book.asks) == 3
    assert book.best_bid is not None and book.best_ask is not None
    assert book.best_bid[0] < book.best_ask[0]
    assert book.mid == (book.best_bid[0] + book.best_ask[0]) / 2

    merged = client.consolidated_book("BTC-USDT", depth=2)
    assert set(merged.exchanges) == {"sim"}
    price, total, per_venue = merged.bids[0]
    assert per_venue == {"sim": total} and price > 0


def test_errors_are_api_errors(client: Client) -> None:
    with pytest.raises(ApiError) as e:
        client.klines("sim", "BTC-USDT", interval="7m")
    assert e.value.status == 400
    assert e.value.code == "invalid_interval"
    assert e.value.detail
    assert e.value.request_id

    with pytest.raises(ApiError) as e:
        client.order_book("nowhere", "BTC-USDT")
    assert (e.value.status, e.value.code) == (404, "unknown_exchange")

    with pytest.raises(ApiError) as e:
        client.order("does-not-exist")
    assert (e.value.status, e.value.code) == (404, "order_not_found")


def test_submit_follow_and_cancel(client: Client) -> None:
    token_id = unique("sync")
    order = client.submit_twap(
        token_id, "sim", "BTC-USDT", "buy", "0.02", duration_secs=2, interval_secs=1
    )
    assert order.token_id == token_id
    assert order.side == Side.BUY
    assert order.quantity == Decimal("0.02")
    assert order.status.is_open

    # The same token_id and body again: the original order (idempotent submission).
    again = client.submit(
        twap(token_id, "sim", "BTC-USDT", "buy", "0.02", duration_secs=2, interval_secs=1)
    )
    assert again.created_at == order.created_at
    # A different body under the same token_id: 409.
    with pytest.raises(ApiError) as e:
        client.submit_twap(
            token_id, "sim", "BTC-USDT", "sell", "0.02", duration_secs=2, interval_secs=1
        )
    assert e.value.status == 409

    done = client.wait_for_final(token_id, poll=0.2, timeout=30)
    assert done.status == OrderStatus.FILLED
    assert done.filled_quantity == Decimal("0.02")
    assert done.slices is not None and len(done.slices) == done.slices_total
    assert sum(s.filled_quantity for s in done.slices) == done.filled_quantity
    assert done.analytics.arrival_mid is not None

    listed = client.orders("closed", token_id=token_id)
    assert [o.token_id for o in listed] == [token_id]
    assert listed[0].slices is None

    with pytest.raises(ApiError) as e:
        client.cancel(token_id)
    assert e.value.status == 409

    long_id = unique("sync-cancel")
    client.submit_twap(long_id, "sim", "ETH-USDT", "sell", "0.5", duration_secs=600, slices=10)
    assert long_id in [o.token_id for o in client.orders("open", exchange="sim")]
    cancelled = client.cancel(long_id)
    assert cancelled.status == OrderStatus.CANCELLED
    assert client.cancel(long_id).status == OrderStatus.CANCELLED  # again: 200


def test_batch_and_original_spellings(client: Client) -> None:
    a, b = unique("batch"), unique("batch")
    got = client.submit_batch(
        [
            twap(a, "sim", "BTC-USDT", "buy", "0.01", duration_secs=60, interval_secs=30),
            {"token_id": b, "exchange": "sim", "symbol": "ETH-USDT", "side": "sell",
             "quantity": "0.1", "duration_secs": 60, "interval_secs": 30},
        ]
    )  # fmt: skip
    assert [o.token_id for o in got] == [a, b]
    # The original design's body: order_type, price, query parameters.
    c = unique("orig")
    orig = client.submit(
        {"token_id": c, "exchange": "sim", "symbol": "BTCUSDT", "quantity": "0.01",
         "price": "1000000", "order_type": "buy"},
        execution_time=120, interval=60,
    )  # fmt: skip
    assert orig.duration_secs == 120 and orig.interval_secs == 60
    assert orig.limit_price == Decimal("1000000")
    for t in (a, b, c):
        client.cancel(t)


def test_times_and_money_go_out_exactly() -> None:
    req = twap(
        "t", "sim", "BTC-USDT", "buy", Decimal("0.00001"),
        limit_price="70000.10", start_time=datetime(2030, 1, 1), end_time=datetime(2030, 1, 1, 1),
    )  # fmt: skip
    body = req.to_json()
    assert body["quantity"] == "0.00001"  # not 1E-5
    assert body["limit_price"] == "70000.10"
    assert body["start_time"] == "2030-01-01T00:00:00Z"  # naive is UTC
    assert "duration_secs" not in body
    with pytest.raises(TypeError):
        twap("t", "sim", "BTC-USDT", "buy", 0.1)  # type: ignore[arg-type]


def test_start_and_end_time_window(client: Client) -> None:
    token_id = unique("window")
    start = datetime.now(timezone.utc) + timedelta(hours=1)
    order = client.submit_twap(
        token_id, "sim", "BTC-USDT", "buy", "0.01",
        start_time=start, end_time=start + timedelta(minutes=10), interval_secs=60,
    )  # fmt: skip
    assert order.status == OrderStatus.PENDING
    assert order.slices_total == 10
    client.cancel(token_id)


def test_session_renews_itself(server: Server) -> None:
    with Client(server.url) as c:
        with pytest.raises(NotLoggedIn):
            c.orders()
        # A bad token with no credentials: the server's 401 comes through.
        c.set_token("not-a-jwt")
        with pytest.raises(ApiError) as e:
            c.orders()
        assert e.value.status == 401
        # With credentials, a refused token is replaced by a fresh login once.
        c.login(USER, PASSWORD)
        good = c.token
        c.set_token("not-a-jwt")
        c.orders()
        assert c.token not in (None, "not-a-jwt") and c.token is not None
        assert good is not None
        with pytest.raises(ApiError) as e:
            c.login(USER, "wrong")
        assert e.value.status == 401


def test_wait_for_final_times_out(client: Client) -> None:
    token_id = unique("slow")
    client.submit_twap(token_id, "sim", "BTC-USDT", "buy", "0.01", duration_secs=600, slices=2)
    with pytest.raises(Timeout):
        client.wait_for_final(token_id, poll=0.1, timeout=0.3)
    client.cancel(token_id)


def test_unreachable_server_is_a_transport_error() -> None:
    from papertwap import RetryPolicy

    with (
        Client("http://127.0.0.1:9", retry=RetryPolicy(max_retries=1, backoff=0.01)) as c,
        pytest.raises(TransportError),
    ):
        c.exchanges()
    with pytest.raises(ValueError, match="must start with http"):
        Client("localhost:8000")

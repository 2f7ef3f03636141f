"""The asyncio client against a real server, and ``to_frame()`` on what it returns."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pandas as pd
import pytest
from conftest import PASSWORD, USER, Server, unique

from papertwap import ApiError, AsyncClient, OrderStatus, Trade, TradesFrame, to_frame, twap
from papertwap.frames import fills_frame


def test_async_client_end_to_end(server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(server.url) as c:
            assert (await c.root()).name == "papertwap"
            assert (await c.health()).exchanges
            assert "papertwap_" in await c.metrics()
            assert next(e.id for e in await c.exchanges())
            assert await c.pairs("sim")
            book, merged, klines = await asyncio.gather(
                c.order_book("sim", "BTC-USDT", 2),
                c.consolidated_book("BTC-USDT", 2),
                c.klines("sim", "BTC-USDT", "5m", 3),
            )
            assert len(book.bids) == 2 and merged.bids and len(klines) == 3

            await c.login(USER, PASSWORD)
            a, b = unique("async"), unique("async")
            batch = await c.submit_batch(
                [
                    twap(a, "sim", "BTC-USDT", "buy", "0.02", duration_secs=2, interval_secs=1),
                    twap(b, "sim", "ETH-USDT", "sell", "0.2", duration_secs=600, slices=3),
                ]
            )
            assert [o.token_id for o in batch] == [a, b]
            done = await c.wait_for_final(a, poll=0.2, timeout=30)
            assert done.status == OrderStatus.FILLED
            assert (await c.order(a)).slices_done == 2
            assert b in [o.token_id for o in await c.orders("open")]
            assert (await c.cancel(b)).status == OrderStatus.CANCELLED
            with pytest.raises(ApiError) as e:
                await c.submit_twap(
                    unique("bad"), "sim", "BTC-USDT", "hold", "1", slices=1, duration_secs=1
                )
            assert e.value.code == "invalid_side"

    asyncio.run(asyncio.wait_for(main(), 60))


def test_frames_of_real_results(server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(server.url) as c:
            await c.login(USER, PASSWORD)
            token_id = unique("frames")
            await c.submit_twap(
                token_id, "sim", "BTC-USDT", "buy", "0.3", duration_secs=2, interval_secs=1
            )
            order = await c.wait_for_final(token_id, poll=0.2, timeout=30)
            klines = await c.klines("sim", "BTC-USDT", "1m", 5)
            book = await c.order_book("sim", "BTC-USDT", 3)
            orders = await c.orders(token_id=token_id)

        slices = to_frame(order)
        assert list(slices.index) == [0, 1]
        assert slices["filled_quantity"].sum() == pytest.approx(0.3)
        assert str(slices["executed_at"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(
            slices["executed_at"].dtype
        )
        fills = to_frame(order, "fills")
        assert order.slices is not None
        assert len(fills) == sum(len(s.fills) for s in order.slices)
        assert fills["quantity"].sum() == pytest.approx(0.3)
        # exact=True keeps every digit.
        exact = fills_frame(order, exact=True)
        assert sum(exact["quantity"]) == Decimal("0.3")
        assert sum(exact["notional"]) == order.notional

        k = to_frame(klines)
        assert len(k) == 5 and k.index.name == "open_time"
        assert (k["high"] >= k["low"]).all()
        b = to_frame(book)
        assert list(b["side"]) == ["bid"] * 3 + ["ask"] * 3
        o = to_frame(orders)
        assert o.loc[token_id, "status"] == "filled"
        assert isinstance(o, pd.DataFrame)
        with pytest.raises(TypeError):
            to_frame([])
        with pytest.raises(ValueError, match="no slices"):
            to_frame(orders[0])  # a listed order carries no slices

    asyncio.run(asyncio.wait_for(main(), 60))


def test_trades_over_rest_and_the_stream(server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(server.url) as c:
            await c.login(USER, PASSWORD)
            async with c.stream() as s:
                sub = await s.subscribe_trades("sim", "btcusdt")
                assert (sub.symbol, sub.interval_ms) == ("BTC-USDT", 100)
                live: list[Trade] = []
                while len(live) < 10:
                    msg = await s.next(timeout=10)
                    if isinstance(msg, TradesFrame):
                        assert msg.symbol == "BTC-USDT"
                        live.extend(msg.trades)
            ids = [int(t.trade_id) for t in live]
            assert ids == sorted(set(ids)), "in order, each once"
            recent = await c.trades("sim", "BTC-USDT", limit=1000)
            assert {t.trade_id for t in live} <= {t.trade_id for t in recent}
            windowed = await c.trades("sim", "BTC-USDT", limit=1000, end=live[0].exchange_ts)
            assert all(t.exchange_ts <= live[0].exchange_ts for t in windowed)

        frame = to_frame(recent)
        assert list(frame.columns[:3]) == ["price", "qty", "taker_side"]
        assert frame.index.name == "exchange_ts"
        assert set(frame["taker_side"]) <= {"buy", "sell"}
        exact = to_frame(recent, exact=True)
        assert exact["notional"].iloc[0] == recent[0].price * recent[0].qty

    asyncio.run(asyncio.wait_for(main(), 60))

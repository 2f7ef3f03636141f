"""VWAP, POV, jitter and the preview through the Python SDK against a real server."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from conftest import PASSWORD, USER, Server, unique

from papertwap import (
    ApiError,
    AsyncClient,
    Client,
    EstimateMethod,
    OrderStatus,
    Strategy,
    order,
    to_frame,
)


def test_a_pov_order_and_its_cost_analysis(client: Client) -> None:
    tid = unique("pov")
    sent = client.submit_order(
        order(
            "pov",
            tid,
            "sim",
            "BTC-USDT",
            "buy",
            "5",
            duration_secs=6,
            interval_secs=1,
            participation="0.2",
            max_slice_qty="1",
        )
    )
    assert sent.strategy == Strategy.POV
    assert sent.participation == Decimal("0.2")
    assert sent.max_slice_qty == Decimal("1")
    done = client.wait_for_final(tid, poll=0.2, timeout=60)
    assert done.status == OrderStatus.EXPIRED
    assert done.slices is not None and all(s.market_volume is not None for s in done.slices)
    a = done.analytics
    assert a.participation_rate is not None
    shortfall = a.implementation_shortfall
    assert shortfall is not None
    assert sum(shortfall.parts().values()) == shortfall.total
    assert shortfall.execution_cost == shortfall.spread_cost + shortfall.impact_cost
    slices = to_frame(done, "slices")
    assert {"market_volume", "markout_1s", "markout_60s"} <= set(slices.columns)
    assert (slices["market_volume"] >= 0).all()
    orders = to_frame([done])
    assert orders.loc[tid, "strategy"] == "pov"
    assert float(orders.loc[tid, "participation_rate"]) > 0  # type: ignore[arg-type]


def test_a_vwap_order_keeps_the_profile_the_preview_showed(client: Client) -> None:
    tid = unique("vwap")
    body = order("vwap", tid, "sim", "ETH-USDT", "sell", "0.3", duration_secs=3, interval_secs=1)
    preview = client.preview(body)
    assert preview.strategy == Strategy.VWAP
    assert preview.volume_profile is not None and len(preview.volume_profile) == 3
    assert sum(preview.volume_profile) == 1
    assert [e.method for e in preview.estimates] == [
        EstimateMethod.BOOK_WALK,
        EstimateMethod.SQUARE_ROOT_LAW,
    ]
    with pytest.raises(ApiError) as missing:
        client.order(tid)
    assert missing.value.status == 404, "a preview stores nothing"
    sent = client.submit_order(body)
    assert sent.profile_days == 7
    assert sent.volume_profile is not None and len(sent.volume_profile) == 3
    done = client.wait_for_final(tid, poll=0.2, timeout=60)
    assert done.status == OrderStatus.FILLED


def test_strategy_mistakes_are_named(client: Client) -> None:
    with pytest.raises(ApiError) as e:
        client.submit_order(
            order(
                "pov",
                unique("x"),
                "sim",
                "BTC-USDT",
                "buy",
                "1",
                duration_secs=60,
                interval_secs=10,
                participation="0.9",
            )
        )
    assert (e.value.status, e.value.code) == (400, "invalid_participation")
    with pytest.raises(ApiError) as e:
        client.submit_order(
            {
                "token_id": unique("x"),
                "strategy": "twap",
                "exchange": "sim",
                "symbol": "BTC-USDT",
                "side": "buy",
                "quantity": "1",
                "duration_secs": 60,
                "interval_secs": 10,
                "jitter": {"seed": 3, "time_pct": 70},
            }
        )
    assert e.value.code == "invalid_jitter"
    with pytest.raises(TypeError):
        order("pov", "x", "sim", "BTC-USDT", "buy", "1", participation=0.1)  # type: ignore[arg-type]


def test_the_async_client_previews_and_submits(server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(server.url) as c:
            await c.login(USER, PASSWORD)
            body = order(
                Strategy.TWAP,
                None,
                "sim",
                "BTC-USDT",
                "buy",
                "0.02",
                duration_secs=4,
                interval_secs=1,
                jitter={"seed": 5, "time_pct": 40, "size_pct": 40},
            )
            p = await c.preview(body)
            assert len(p.schedule) == 4
            assert p.totals.quantity == Decimal("0.02")
            with pytest.raises(ApiError) as e:
                await c.submit_order(body)
            assert e.value.code == "invalid_token_id", "POST /orders needs a token_id"

    asyncio.run(asyncio.wait_for(main(), 60))

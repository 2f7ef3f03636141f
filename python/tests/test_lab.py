"""The lab through the SDK against a real server: a what-if reproduces a finished order and
changes one, a backtest runs variants side by side and is kept; both become DataFrames."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from conftest import PASSWORD, USER, Server

import papertwap
from papertwap import ApiError, AsyncClient, BacktestRequest, Client, WhatIfRequest
from papertwap import order as build


def finished(client: Client, token_id: str) -> papertwap.Order:
    client.submit_order(
        build("twap", token_id, "sim", "BTC-USDT", "buy", "0.2", duration_secs=3, interval_secs=1)
    )
    return client.wait_for_final(token_id, poll=0.2, timeout=60)


def test_whatif_reproduces_and_changes(client: Client) -> None:
    o = finished(client, "py-lab-1")
    same = client.whatif("py-lab-1")
    assert same.simulated and same.reproduces_original
    assert [s.fills for s in same.order.slices or []] == [s.fills for s in o.slices or []]
    one = client.whatif("py-lab-1", WhatIfRequest(slices=1, limit_price=None))
    assert one.overrides.model_fields_set == {"slices", "limit_price"}
    assert len(one.order.slices or []) == 1
    assert one.order.quantity == o.quantity
    df = one.to_frame()
    assert len(df) == 1 and "filled_quantity" in df.columns
    assert len(papertwap.to_frame(same)) == 3
    with pytest.raises(ApiError) as e:
        client.whatif("py-lab-1", {"duration_secs": 7200})
    assert e.value.code == "not_recorded"
    with pytest.raises(ApiError) as e:
        client.whatif("py-lab-1", {"interval": 2})
    assert e.value.status == 400 and "interval" in e.value.detail


def test_backtest_side_by_side_and_kept(client: Client) -> None:
    o = finished(client, "py-lab-2")
    req = BacktestRequest(
        exchange="sim",
        symbol="BTC-USDT",
        side="sell",
        quantity=Decimal("0.3"),
        start_time=o.start_time,
        duration_secs=2,
        interval_secs=1,
        variants=[WhatIfRequest(interval_secs=2), WhatIfRequest(catch_up="none")],
    )
    bt = client.backtest(req)
    assert bt.id.startswith("bt-") and len(bt.results) == 3
    assert [len(r.order.slices or []) for r in bt.results] == [2, 1, 2]
    assert bt.request.variants[0].interval_secs == 2
    df = bt.to_frame()
    assert list(df.index) == [0, 1, 2] and df.index.name == "run"
    assert json.loads(df["variant"][1]) == {"interval_secs": 2}
    assert "shortfall_bps" in df.columns
    assert papertwap.to_frame(bt).equals(df)
    assert client.backtest_by_id(bt.id) == bt
    assert bt.id in [b.id for b in client.backtests(limit=5)]
    with pytest.raises(ApiError) as e:
        client.backtest_by_id("bt-missing")
    assert e.value.status == 404


def test_async_lab(server: Server, client: Client) -> None:
    finished(client, "py-lab-3")

    async def main() -> None:
        async with AsyncClient(server.url) as c:
            await c.login(USER, PASSWORD)
            w = await c.whatif("py-lab-3", {})
            assert w.reproduces_original
            mine = await c.backtests(limit=100)
            assert all(b.id.startswith("bt-") for b in mine)

    asyncio.run(asyncio.wait_for(main(), 60))

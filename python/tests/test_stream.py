"""The ``/ws`` stream against a real server: typed frames, resubscription after the socket is
dropped, no order update lost across the drop, and the token renewed on the open socket."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from decimal import Decimal as D
from typing import Any

import pytest
from conftest import PASSWORD, USER, Proxy, Server, unique

from papertwap import (
    ApiError,
    AsyncClient,
    Authenticated,
    BookFrame,
    Channel,
    ErrorFrame,
    OrderFrame,
    OrderStatus,
    Pong,
    Subscribed,
    models,
)
from papertwap.stream import OrderTracker


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_books_orders_and_errors(server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(server.url) as c:
            await c.login(USER, PASSWORD)
            async with c.stream() as s:
                sub = await s.subscribe_book("sim", "ethusdt", depth=3, interval_ms=200)
                assert (sub.channel, sub.symbol, sub.depth) == (Channel.BOOK, "ETH-USDT", 3)
                with pytest.raises(ApiError) as e:
                    await s.subscribe_book("sim", "ETH-USDT", depth=0)
                assert e.value.code == "invalid_depth"
                await s.ping()
                kinds: set[type[Any]] = set()
                while not {BookFrame, Pong, Authenticated} <= kinds:
                    msg = await s.next(timeout=10)
                    kinds.add(type(msg))
                    if isinstance(msg, BookFrame):
                        assert msg.symbol == "ETH-USDT" and len(msg.bids) == 3
                gone = await s.unsubscribe(sub)
                assert gone.channel == Channel.BOOK
                assert s.subscriptions == []

    run(main())


def test_no_order_update_is_lost_when_the_socket_drops(server: Server) -> None:
    """The WS kill test: the connection is cut mid-order and new connections are refused for
    2.5 s (several slices run meanwhile); every slice still arrives exactly once, in order,
    and the final state too."""

    async def main() -> None:
        proxy = Proxy(server.url)
        await proxy.start()
        try:
            async with AsyncClient(proxy.url) as c:
                await c.login(USER, PASSWORD)
                async with c.stream() as s:
                    await s.subscribe_orders()
                    await s.subscribe_book("sim", "BTC-USDT", depth=1, interval_ms=500)
                    token_id = unique("kill")
                    order = await c.submit_twap(
                        token_id, "sim", "BTC-USDT", "buy", "0.08",
                        duration_secs=8, interval_secs=1,
                    )  # fmt: skip
                    slices: list[int] = []
                    resynced = 0
                    books_after = 0
                    final = None
                    cut = False
                    while final is None or books_after == 0:
                        msg = await s.next(timeout=20)
                        if isinstance(msg, BookFrame) and cut:
                            books_after += 1
                        if not isinstance(msg, OrderFrame) or msg.order.token_id != token_id:
                            continue
                        if msg.slice is not None:
                            slices.append(msg.slice.index)
                            resynced += msg.resynced
                        if msg.order.status.is_final:
                            final = msg.order
                        if len(slices) == 2 and not cut:
                            cut = True
                            proxy.refusing = True
                            assert proxy.sever() > 0
                            await asyncio.sleep(2.5)
                            proxy.refusing = False
            assert final is not None and final.status == OrderStatus.FILLED
            assert slices == list(range(order.slices_total)), "each slice once, in order"
            assert resynced >= 2, "slices ran while the socket was down"
            assert s.reconnects >= 1
            assert books_after > 0, "the book subscription came back too"
        finally:
            await proxy.stop()

    run(main())


def test_token_is_renewed_on_the_open_socket(tight_server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(tight_server.url) as c:
            await c.login(USER, PASSWORD)
            # 60 s tokens, renewed 58 s before expiry: within about 2 s.
            async with c.stream(renew_before=58) as s:
                await s.subscribe_orders()
                seen: list[datetime] = []
                while len(seen) < 2:
                    msg = await s.next(timeout=15)
                    if isinstance(msg, Authenticated):
                        seen.append(msg.expires_at)
                assert seen[1] > seen[0]
                assert s.reconnects == 0

    run(main())


def test_a_refused_login_ends_the_stream(server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(server.url) as c:
            c.set_token("not-a-jwt")
            with pytest.raises(ApiError) as e:
                async with c.stream() as s:
                    await s.subscribe_orders()
            assert e.value.status == 401

    run(main())


def _order(token_id: str, status: str, done: int) -> models.Order:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return models.Order(
        token_id=token_id, exchange="sim", symbol="BTC-USDT", side=models.Side.BUY,
        quantity=D(1), catch_up=models.CatchUp.SPREAD, status=OrderStatus(status),
        created_at=now, start_time=now, end_time=now, duration_secs=2, interval_secs=1,
        interval_ms=1000, slices_total=2, slices_done=done, slices_skipped=0,
        filled_quantity=D(0), fill_ratio=D(0), notional=D(0), fees=D(0),
        analytics=models.Analytics(spread_cost=D(0), skipped_by_reason={}),
    )  # fmt: skip


def _slice(i: int) -> models.Slice:
    t = datetime(2026, 1, 1, 0, 0, i, tzinfo=timezone.utc)
    return models.Slice(
        index=i, scheduled_at=t, executed_at=t, target_quantity=D(1), filled_quantity=D(1),
        fee=D(0), fills=[],
    )  # fmt: skip


def test_tracker_delivers_each_slice_once() -> None:
    tracker = OrderTracker(since=datetime(2025, 1, 1, tzinfo=timezone.utc))
    first = OrderFrame(order=_order("a", "working", 1), slice=_slice(0))
    assert tracker.live(first) is first
    assert tracker.live(first) is None  # a repeat
    detail = _order("a", "filled", 2).model_copy(update={"slices": [_slice(0), _slice(1)]})
    assert not tracker.is_current(detail)
    missed = tracker.missed(detail)
    assert [(f.slice.index if f.slice else None, f.resynced) for f in missed] == [
        (1, True), (None, True),
    ]  # fmt: skip
    assert all(f.order.slices is None for f in missed)
    # The live frames that were in flight arrive afterwards: dropped.
    assert tracker.live(OrderFrame(order=_order("a", "filled", 2), slice=_slice(1))) is None
    assert tracker.is_current(_order("a", "filled", 2))
    assert tracker.followed_open() == []


def test_unknown_frames_are_kept_raw() -> None:
    msg = models.parse_frame('{"type":"trade","price":"1"}')
    assert isinstance(msg, models.UnknownFrame) and msg.type == "trade"
    assert isinstance(models.parse_frame('{"type":"subscribed","channel":"orders"}'), Subscribed)
    err = models.parse_frame('{"type":"error","code":"x","detail":"y"}')
    assert isinstance(err, ErrorFrame)
    with pytest.raises(ValueError, match="not a papertwap frame"):
        models.parse_frame("[1]")

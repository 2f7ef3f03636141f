"""The ``/ws`` stream: typed messages, reconnect with backoff, resubscription, re-authentication
before the token expires, and no order update lost across a reconnect.

How no order update is lost: the ``orders`` channel is resubscribed first after a reconnect
and, once the server confirms it (every later update reaches the new socket), the stream
re-reads over REST the orders that may have changed while it was away (the open ones, the
ones it followed, and those created since the connection dropped). Every slice it has not
delivered yet is delivered then, in order, as an :class:`~papertwap.models.OrderFrame` with
``resynced=True`` carrying the order's current state, followed by one frame with the order's
state when that changed. Live frames that repeat what was already delivered are dropped, so
each slice arrives exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Optional, Union

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from . import _core
from .errors import ApiError, DecodeError, NotLoggedIn, TransportError
from .models import (
    Authenticated,
    ErrorFrame,
    Order,
    OrderFrame,
    ServerMessage,
    Subscribed,
    UnknownFrame,
    Unsubscribed,
    parse_frame,
)

if TYPE_CHECKING:
    from .aio import AsyncClient

Message = Union[ServerMessage, UnknownFrame]
"""What iterating a :class:`Stream` yields."""

_log = logging.getLogger("papertwap.stream")

_SKEW = timedelta(seconds=5)
"""Tolerance between the client's and the server's clocks when choosing what to re-read."""


@dataclass
class _Seen:
    last: Order
    slices: set[int]


class OrderTracker:
    """What the stream has delivered per order; decides what is new, live or recovered."""

    def __init__(self, since: datetime, capacity: int = 10_000) -> None:
        self.since = since
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        self._capacity = capacity

    def _remember(self, order: Order) -> _Seen:
        seen = self._seen.get(order.token_id)
        if seen is None:
            seen = self._seen[order.token_id] = _Seen(order, set())
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(order.token_id)
        return seen

    def live(self, frame: OrderFrame) -> Optional[OrderFrame]:
        """A frame from the socket, or ``None`` when it repeats what was delivered."""
        seen = self._seen.get(frame.order.token_id)
        if seen is not None:
            if frame.slice is not None and frame.slice.index in seen.slices:
                return None
            if frame.slice is None and frame.order == seen.last:
                return None
        seen = self._remember(frame.order)
        seen.last = frame.order
        if frame.slice is not None:
            seen.slices.add(frame.slice.index)
        return frame

    def followed_open(self) -> list[str]:
        """Orders delivered as open: they may have changed while the socket was away."""
        return [t for t, s in self._seen.items() if not s.last.status.is_final]

    def is_current(self, order: Order) -> bool:
        """True when ``order`` (from a listing) shows nothing the stream has not delivered."""
        seen = self._seen.get(order.token_id)
        if seen is None:
            return order.status.is_final and order.created_at < self.since
        last = seen.last
        return (
            last.status == order.status
            and last.slices_done == order.slices_done
            and last.slices_skipped == order.slices_skipped
        )

    def missed(self, detail: Order) -> list[OrderFrame]:
        """The frames an order's full state (with slices) shows that were not delivered."""
        seen = self._seen.get(detail.token_id)
        order = detail.model_copy(update={"slices": None})
        frames = []
        for s in sorted(detail.slices or [], key=lambda s: s.index):
            if seen is not None and s.index in seen.slices:
                continue
            if seen is None and s.executed_at < self.since - _SKEW:
                continue
            frames.append(OrderFrame(order=order, slice=s, resynced=True))
        changed = seen is None or seen.last.status != order.status
        if (changed or not frames) and (seen is None or seen.last != order):
            frames.append(OrderFrame(order=order, slice=None, resynced=True))
        seen = self._remember(order)
        seen.last = order
        seen.slices.update(f.slice.index for f in frames if f.slice is not None)
        return frames


class Stream:
    """A live ``/ws`` connection (from :meth:`AsyncClient.stream` or :meth:`Client.stream`).

    ::

        async with client.stream() as stream:
            await stream.subscribe_orders()
            await stream.subscribe_book("sim", "BTC-USDT", depth=5)
            async for msg in stream:
                match msg:
                    case BookFrame(): ...
                    case OrderFrame(order=o, slice=s): ...

    Subscriptions survive reconnects (backoff 0.25 s doubling to ``backoff_max``); the token
    is renewed on the open socket before it expires (with the client's credentials). Iteration
    ends only after :meth:`close`; it raises :class:`~papertwap.ApiError` when the server
    refuses to authenticate a reconnect (401/403) and :class:`~papertwap.TransportError`
    after ``give_up_after`` seconds without a connection (never, by default). The token is
    renewed ``renew_before`` seconds before it expires (default: 30 s or a tenth of its
    lifetime, whichever is longer).
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        owns_client: bool = False,
        backoff_max: float = 10.0,
        give_up_after: Optional[float] = None,
        renew_before: Optional[float] = None,
    ) -> None:
        self._client = client
        self._owns_client = owns_client
        self.backoff_max = backoff_max
        self.give_up_after = give_up_after
        self.renew_before = renew_before
        self._ws: Optional[ClientConnection] = None
        self._subs: list[dict[str, Any]] = []
        self._pending: deque[Message] = deque()
        self._tracker: Optional[OrderTracker] = None
        self._lost_at: Optional[datetime] = None
        self._closed = False
        self._reauth: Optional[asyncio.Task[None]] = None
        self.reconnects = 0
        """How many times the connection was re-established."""
        self.resynced = 0
        """How many order frames were recovered over REST after reconnects."""

    # ----- connection -------------------------------------------------------------------

    async def __aenter__(self) -> Stream:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the socket now (iteration and subscriptions open it when needed)."""
        if self._ws is None:
            self._ws = await self._open()

    async def close(self) -> None:
        """Close the socket; iteration ends after the messages already received."""
        self._closed = True
        if self._reauth is not None:
            self._reauth.cancel()
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._owns_client:
            await self._client.aclose()

    @property
    def subscriptions(self) -> list[dict[str, Any]]:
        """The active subscriptions, as the server normalized them."""
        return [dict(s) for s in self._subs]

    async def _open(self) -> ClientConnection:
        token = await self._client._fresh_token()
        if token is None:
            raise NotLoggedIn("log in first: client.login(username, password)")
        url = _core.ws_url(self._client.base_url)
        try:
            return await connect(
                url,
                additional_headers={"authorization": f"Bearer {token}"},
                open_timeout=10,
                max_size=4 * 1024 * 1024,
            )
        except InvalidStatus as e:
            raise _refused(e) from e
        except (OSError, asyncio.TimeoutError, WebSocketException) as e:
            raise TransportError(f"{url}: {e!r}") from e

    def _lost(self) -> None:
        if self._ws is not None and self._lost_at is None:
            self._lost_at = datetime.now(timezone.utc)
        self._ws = None
        if self._reauth is not None:
            self._reauth.cancel()
            self._reauth = None

    async def _reconnect(self) -> None:
        backoff = 0.25
        started = time.monotonic()
        while not self._closed:
            wait = backoff
            try:
                self._ws = await self._open()
                await self._resubscribe()
            except ApiError as e:
                if e.status in (401, 403):
                    await self._drop()
                    raise
                _log.info("reconnect refused: %s", e)
                if e.retry_after is not None:
                    wait = e.retry_after
                await self._drop()
            except (TransportError, ConnectionClosed) as e:
                _log.info("reconnect failed: %r", e)
                await self._drop()
            else:
                self.reconnects += 1
                self._lost_at = None
                return
            if self.give_up_after is not None and time.monotonic() - started > self.give_up_after:
                raise TransportError(f"no connection to the server for {self.give_up_after} s")
            await asyncio.sleep(wait)
            backoff = min(backoff * 2, self.backoff_max)

    async def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    async def _resubscribe(self) -> None:
        # The orders channel first: once confirmed, every update reaches this socket, so the
        # REST re-read that follows cannot leave a gap.
        wanted = sorted(self._subs, key=lambda s: s["channel"] != "orders")
        self._subs = []
        try:
            for sub in wanted:
                try:
                    await self._request({"op": "subscribe", **sub}, Subscribed)
                except ApiError as e:  # refused now (say, a pair was delisted): reported, dropped
                    self._pending.append(ErrorFrame(code=e.code, detail=e.detail))
                    continue
                if sub["channel"] == "orders":
                    await self._resync_orders()
        except BaseException:
            self._subs = wanted
            raise

    async def _resync_orders(self) -> None:
        tracker = self._tracker
        lost_at = self._lost_at
        if tracker is None:
            return
        client = self._client
        candidates: dict[str, Order] = {
            o.token_id: o for o in await client.orders("open", limit=500)
        }
        if lost_at is not None:
            offset = 0
            while offset < 5_000:
                page = await client.orders("all", limit=100, offset=offset)
                for o in page:
                    candidates.setdefault(o.token_id, o)
                if len(page) < 100 or page[-1].created_at < lost_at - _SKEW:
                    break
                offset += 100
        for token_id in tracker.followed_open():
            if token_id not in candidates:
                try:
                    candidates[token_id] = await client.order(token_id)
                except ApiError as e:
                    if e.status != 404:
                        raise
        for o in sorted(candidates.values(), key=lambda o: o.created_at):
            if tracker.is_current(o):
                continue
            detail = o if o.slices is not None else await client.order(o.token_id)
            frames = tracker.missed(detail)
            self.resynced += len(frames)
            self._pending.extend(frames)

    # ----- messages ---------------------------------------------------------------------

    def _accept(self, raw: Union[str, bytes]) -> Optional[Message]:
        try:
            msg = parse_frame(raw)
        except (ValueError, ValidationError) as e:
            raise DecodeError(f"{e}: {str(raw)[:120]}") from e
        if isinstance(msg, OrderFrame) and self._tracker is not None:
            return self._tracker.live(msg)
        if isinstance(msg, Authenticated):
            self._schedule_reauth(msg.expires_at)
        return msg

    async def _recv(self) -> Optional[Message]:
        """One frame from the socket (``None`` if it was a duplicate); reconnects on loss."""
        if self._ws is None:
            await self._reconnect()
            return None
        try:
            raw = await self._ws.recv()
        except ConnectionClosed:
            if self._closed:
                raise
            _log.info("connection lost; reconnecting")
            self._lost()
            return None
        return self._accept(raw)

    async def _request(self, body: dict[str, Any], answer: type[Any]) -> Any:
        """Send a subscribe/unsubscribe and wait for its answer, keeping other frames."""
        ws = self._ws
        if ws is None:
            raise ConnectionClosed(None, None)
        await ws.send(json.dumps(body))
        while True:
            msg = self._accept(await ws.recv())
            if isinstance(msg, answer):
                if isinstance(msg, Subscribed):
                    sub = msg.model_dump(mode="json", exclude={"type"}, exclude_none=True)
                    if sub not in self._subs:
                        self._subs.append(sub)
                return msg
            if isinstance(msg, ErrorFrame):
                raise ApiError(400, msg.code, msg.detail)
            if msg is not None:
                self._pending.append(msg)

    async def _call(self, body: dict[str, Any], answer: type[Any]) -> Any:
        while True:
            if self._closed:
                raise TransportError("the stream is closed")
            if self._ws is None:
                await self._reconnect()
            try:
                return await self._request(body, answer)
            except ConnectionClosed:
                self._lost()

    async def subscribe_book(
        self, exchange: str, symbol: str, depth: int = 10, interval_ms: int = 1000
    ) -> Subscribed:
        """Book frames of one exchange's book every ``interval_ms`` (any symbol spelling)."""
        body = {
            "op": "subscribe",
            "channel": "book",
            "exchange": exchange,
            "symbol": symbol,
            "depth": depth,
            "interval_ms": interval_ms,
        }
        got: Subscribed = await self._call(body, Subscribed)
        return got

    async def subscribe_consolidated(
        self, symbol: str, depth: int = 10, interval_ms: int = 1000
    ) -> Subscribed:
        """Consolidated frames: one book merged across every exchange listing ``symbol``."""
        body = {
            "op": "subscribe",
            "channel": "consolidated",
            "symbol": symbol,
            "depth": depth,
            "interval_ms": interval_ms,
        }
        got: Subscribed = await self._call(body, Subscribed)
        return got

    async def subscribe_trades(
        self, exchange: str, symbol: str, interval_ms: Optional[int] = None
    ) -> Subscribed:
        """Public trades of one book as they print, batched every ``interval_ms`` (server
        default 100). Only trades from now on: the history is ``client.trades()``."""
        body: dict[str, Any] = {
            "op": "subscribe",
            "channel": "trades",
            "exchange": exchange,
            "symbol": symbol,
        }
        if interval_ms is not None:
            body["interval_ms"] = interval_ms
        got: Subscribed = await self._call(body, Subscribed)
        return got

    async def subscribe_orders(self) -> Subscribed:
        """Your order updates; none is lost across a reconnect (see the module doc)."""
        if self._tracker is None:
            self._tracker = OrderTracker(datetime.now(timezone.utc))
        got: Subscribed = await self._call({"op": "subscribe", "channel": "orders"}, Subscribed)
        return got

    async def unsubscribe(self, subscription: Union[Subscribed, dict[str, Any]]) -> Unsubscribed:
        """Stop a subscription (give the ``Subscribed`` answer, or its fields)."""
        sub = (
            subscription.model_dump(mode="json", exclude={"type"}, exclude_none=True)
            if isinstance(subscription, Subscribed)
            else dict(subscription)
        )
        body: dict[str, Any] = {
            "op": "unsubscribe",
            **{k: sub[k] for k in ("channel", "exchange", "symbol") if k in sub},
        }
        got: Unsubscribed = await self._call(body, Unsubscribed)
        self._subs = [
            s
            for s in self._subs
            if any(s.get(k) != body.get(k) for k in ("channel", "exchange", "symbol"))
        ]
        if body["channel"] == "orders":
            self._tracker = None
        return got

    async def ping(self) -> None:
        """Send ``{"op":"ping"}``; the ``Pong`` arrives in the iteration."""
        if self._ws is not None:
            await self._ws.send(json.dumps({"op": "ping"}))

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> Message:
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._closed:
                raise StopAsyncIteration
            try:
                msg = await self._recv()
            except ConnectionClosed:
                raise StopAsyncIteration from None
            if msg is not None:
                return msg

    async def next(self, timeout: Optional[float] = None) -> Message:
        """The next message, waiting at most ``timeout`` seconds (:class:`TimeoutError`)."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    # ----- token renewal on the open socket ---------------------------------------------

    def _schedule_reauth(self, expires_at: datetime) -> None:
        if self._reauth is not None:
            self._reauth.cancel()
        self._reauth = asyncio.get_running_loop().create_task(self._renew(expires_at))

    async def _renew(self, expires_at: datetime) -> None:
        left = (expires_at - datetime.now(timezone.utc)).total_seconds()
        margin = self.renew_before if self.renew_before is not None else max(30.0, left / 10)
        await asyncio.sleep(max(0.0, left - margin))
        ws = self._ws
        try:
            token = await self._client._fresh_token(force=True)
            if token is not None and ws is not None and ws is self._ws:
                await ws.send(json.dumps({"op": "auth", "token": token}))
        except (ApiError, TransportError, ConnectionClosed) as e:
            _log.warning("could not renew the stream's token: %s", e)


def _refused(e: InvalidStatus) -> ApiError:
    r = e.response
    body: Any = None
    with contextlib.suppress(ValueError):
        body = json.loads(r.body or b"")
    retry_after = _core.retry_after_secs(r.headers.get("retry-after"))
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return ApiError(
            r.status_code, body["code"], str(body.get("detail", "")), retry_after=retry_after
        )
    return ApiError(r.status_code, "http_error", r.reason_phrase, retry_after=retry_after)


__all__ = ["Message", "OrderTracker", "Stream"]

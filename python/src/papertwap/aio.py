"""The asyncio client: the twin of :class:`~papertwap.Client`, every method awaitable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Optional, TypeVar

import httpx
from typing_extensions import Unpack

from . import _core, _orders, lab
from ._base import USER_AGENT, ClientBase
from ._core import (
    DEFAULT_RETRY,
    DEFAULT_URL,
    Money,
    OrderInput,
    RetryEvent,
    RetryPolicy,
    Session,
    TimeInput,
    TwapOptions,
)
from ._orders import StrategyOrderInput
from .errors import Timeout, TransportError
from .models import (
    ConsolidatedBook,
    Exchange,
    Health,
    Kline,
    Order,
    OrderBook,
    Pair,
    ServiceInfo,
    Trade,
)
from .strategies import Preview

if TYPE_CHECKING:
    from .stream import Stream

T = TypeVar("T")


class AsyncClient(ClientBase):
    """An asyncio papertwap client (the twin of :class:`~papertwap.Client`).

    >>> async with AsyncClient("http://127.0.0.1:8000") as c:   # doctest: +SKIP
    ...     await c.login("premium", "CryptoTWAPpremium")
    ...     order = await c.submit_twap("my-1", "sim", "BTC-USDT", "buy", "0.5",
    ...                                 duration_secs=60, interval_secs=5)
    ...     done = await c.wait_for_final(order.token_id)

    The session is kept valid: with credentials from :meth:`login` the token is renewed
    before it expires and once after a 401. 429 and 503 answers are retried after the server's
    ``Retry-After`` within ``retry``'s budget, then raised as :class:`~papertwap.ApiError`.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        on_retry: Optional[Callable[[RetryEvent], None]] = None,
        token: Optional[str] = None,
        transport: Optional[httpx.AsyncBaseTransport] = None,
        _session: Optional[Session] = None,
    ) -> None:
        super().__init__(
            base_url,
            timeout=timeout,
            retry=retry,
            on_retry=on_retry,
            token=token,
            _session=_session,
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"user-agent": USER_AGENT},
        )

    # ----- plumbing ---------------------------------------------------------------------

    async def _drive(self, gen: _core.Flow[T]) -> T:
        reply: _core.Reply = None
        try:
            while True:
                step = gen.send(reply)
                if isinstance(step, _core.Sleep):
                    await asyncio.sleep(step.secs)
                    reply = None
                    continue
                try:
                    reply = await self._http.request(
                        step.method,
                        step.path,
                        params=step.params,
                        json=step.json,
                        data=step.form,
                        headers=step.headers,
                    )
                except httpx.TransportError as e:
                    reply = e
        except StopIteration as stop:
            result: T = stop.value
            return result
        except httpx.HTTPError as e:  # an invalid URL and the like: not retried
            raise TransportError(str(e)) from e

    async def _run(self, call: _core.Call[T]) -> T:
        return await self._drive(self._flow(call))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ----- session ----------------------------------------------------------------------

    async def login(self, username: str, password: str) -> None:
        """Log in (``POST /token``); the token is then renewed by itself."""
        await self._drive(self._login_flow(username, password))

    async def _fresh_token(self, force: bool = False) -> Optional[str]:
        """The bearer token, renewed first when due (or ``force``) and credentials are known."""
        if self._token_due(force):
            await self._drive(self._login_flow(None, None))
        return self._session.token

    # ----- market data ------------------------------------------------------------------

    async def root(self) -> ServiceInfo:
        """``GET /``: name, version and links."""
        return await self._run(_core.root())

    async def health(self) -> Health:
        """``GET /health``: store and per-exchange state."""
        return await self._run(_core.health())

    async def metrics(self) -> str:
        """``GET /metrics``: the OpenMetrics text (Prometheus reads it)."""
        return await self._run(_core.metrics())

    async def exchanges(self) -> list[Exchange]:
        """``GET /exchanges``: every exchange with its connection status."""
        return await self._run(_core.exchanges())

    async def pairs(self, exchange: str, quote: Optional[str] = None) -> list[Pair]:
        """``GET /exchanges/{exchange}/pairs``, optionally only those quoted in ``quote``."""
        return await self._run(_core.pairs(exchange, quote))

    async def klines(
        self,
        exchange: str,
        symbol: str,
        interval: str = "1m",
        limit: int = 100,
        start: Optional[TimeInput] = None,
        end: Optional[TimeInput] = None,
    ) -> list[Kline]:
        """``GET /klines/{exchange}/{symbol}``: candles, oldest first."""
        return await self._run(_core.klines(exchange, symbol, interval, limit, start, end))

    async def trades(
        self,
        exchange: str,
        symbol: str,
        limit: int = 100,
        start: Optional[TimeInput] = None,
        end: Optional[TimeInput] = None,
    ) -> list[Trade]:
        """``GET /trades/{exchange}/{symbol}``: the newest ``limit`` public trades of the
        window (venue times), oldest first."""
        return await self._run(_core.trades(exchange, symbol, limit, start, end))

    async def order_book(self, exchange: str, symbol: str, depth: int = 10) -> OrderBook:
        """``GET /orderbook/{exchange}/{symbol}``: the current book with its health.

        While the book is not live the server answers 503 with ``Retry-After``; the client
        retries within its budget, then raises :class:`~papertwap.ApiError`.
        """
        return await self._run(_core.order_book(exchange, symbol, depth))

    async def consolidated_book(self, symbol: str, depth: int = 10) -> ConsolidatedBook:
        """``GET /orderbook/consolidated/{symbol}``: one book across every exchange."""
        return await self._run(_core.consolidated_book(symbol, depth))

    # ----- orders -----------------------------------------------------------------------

    async def submit(
        self,
        order: OrderInput,
        *,
        execution_time: Optional[int] = None,
        interval: Optional[int] = None,
    ) -> Order:
        """``POST /orders/twap``: the accepted order (or the original one, when the same
        ``token_id`` and body were submitted before). ``execution_time``/``interval`` are
        the original design's query parameters (seconds)."""
        return await self._run(_core.submit(order, execution_time, interval))

    async def submit_twap(
        self,
        token_id: str,
        exchange: str,
        symbol: str,
        side: str,
        quantity: Money,
        **options: Unpack[TwapOptions],
    ) -> Order:
        """Build (:func:`~papertwap.twap`) and submit one TWAP order."""
        return await self.submit(_core.twap(token_id, exchange, symbol, side, quantity, **options))

    async def submit_batch(self, orders: list[OrderInput]) -> list[Order]:
        """``POST /orders/twap`` with several orders: all accepted, or none."""
        return await self._run(_core.submit_batch(orders))

    async def submit_order(self, order: StrategyOrderInput) -> Order:
        """``POST /orders``: one order of any strategy (build it with
        :func:`~papertwap.order`); the original order when the same ``token_id`` and body
        were submitted before. A VWAP comes back with its ``volume_profile``."""
        return await self._run(_orders.submit_order(order))

    async def submit_orders(self, orders: list[StrategyOrderInput]) -> list[Order]:
        """``POST /orders`` with several orders: all accepted, or none."""
        return await self._run(_orders.submit_orders(orders))

    async def preview(self, order: StrategyOrderInput) -> Preview:
        """``POST /orders/preview``: the schedule the order would run and its pre-trade
        estimates (book walk, square-root law); nothing is stored."""
        return await self._run(_orders.preview(order))

    async def orders(
        self,
        status: Optional[str] = None,
        *,
        token_id: Optional[str] = None,
        exchange: Optional[str] = None,
        symbol: Optional[str] = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
    ) -> list[Order]:
        """``GET /orders``: your orders, newest first (``status``: open, closed or all)."""
        return await self._run(_core.orders(status, token_id, exchange, symbol, limit, offset))

    async def order(self, token_id: str) -> Order:
        """``GET /orders/{token_id}``: progress, analytics and every slice."""
        return await self._run(_core.order(token_id))

    async def whatif(self, token_id: str, changes: lab.WhatIfInput = None) -> lab.WhatIf:
        """``POST /orders/{token_id}/whatif``: re-run a finished order alone on the market
        recorded during its window, with ``changes`` (none: it must reproduce the original,
        ``reproduces_original`` says whether it did). 409 ``order_open``, 409
        ``not_recorded``."""
        return await self._run(lab.whatif(token_id, changes))

    async def backtest(self, request: lab.BacktestInput) -> lab.Backtest:
        """``POST /backtests``: an order and its variants side by side on a recorded past
        window; the result is stored. 400 ``invalid_window``, 409 ``not_recorded``."""
        return await self._run(lab.backtest(request))

    async def backtests(
        self, *, limit: Optional[int] = None, offset: Optional[int] = None
    ) -> list[lab.Backtest]:
        """``GET /backtests``: your backtests, newest first."""
        return await self._run(lab.backtests(limit, offset))

    async def backtest_by_id(self, backtest_id: str) -> lab.Backtest:
        """``GET /backtests/{id}``: one backtest as it was run."""
        return await self._run(lab.backtest_by_id(backtest_id))

    async def cancel(self, token_id: str) -> Order:
        """``DELETE /orders/{token_id}``: the cancelled order (409 if it already ended)."""
        return await self._run(_core.cancel(token_id))

    async def wait_for_final(
        self, token_id: str, poll: float = 1.0, timeout: Optional[float] = None
    ) -> Order:
        """Poll until the order is filled, expired or cancelled; return it with its slices.

        Raises :class:`~papertwap.Timeout` if ``timeout`` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            got = await self.order(token_id)
            if got.status.is_final:
                return got
            wait = _core.next_poll(poll, deadline, time.monotonic())
            if wait is None:
                raise Timeout(f"order {token_id} is still {got.status} after {timeout} s")
            await asyncio.sleep(wait)

    # ----- WebSocket --------------------------------------------------------------------

    def stream(
        self,
        *,
        owns_client: bool = False,
        backoff_max: float = 10.0,
        give_up_after: Optional[float] = None,
        renew_before: Optional[float] = None,
    ) -> Stream:
        """The ``/ws`` stream sharing this client's session (see :class:`~papertwap.Stream`):
        ``async with client.stream() as s: await s.subscribe_orders(); async for m in s: …``.
        """
        from .stream import Stream

        return Stream(
            self,
            owns_client=owns_client,
            backoff_max=backoff_max,
            give_up_after=give_up_after,
            renew_before=renew_before,
        )

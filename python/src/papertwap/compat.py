"""``TradingClient``: the original project's Python client, method for method, on papertwap.

Scripts written for the original client run unchanged: the same constructor defaults
(``http://localhost:8000``), the same method names and defaults (``execution_time=600``,
``interval=60``, ``quantity=10``, ``interval="1m"``, ``limit=100``), plain JSON (dicts and
lists) as return values, and errors printed and returned as their JSON body instead of
raised. What changed underneath: authentication is a JWT from ``POST /token`` (the demo user
by default, or ``username``/``password``), obtained and renewed by itself; a token given as
``auth_token`` is used as a bearer token; the book listener speaks the papertwap ``/ws``
protocol. New code should use :class:`papertwap.Client`, which is typed.

>>> client = TradingClient()                                        # doctest: +SKIP
>>> client.submit_twap_order({"token_id": "order1", "exchange": "binance",
...     "symbol": "BTCUSDT", "quantity": 10, "price": 51000, "order_type": "buy"},
...     execution_time=300, interval=60)
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Optional

import httpx

from . import _core
from .aio import AsyncClient
from .client import Client
from .errors import ApiError, PapertwapError
from .models import BookFrame

JSON = Any
"""A decoded JSON value (dict, list, str, number, bool or None)."""

_DEMO_USER = ("premium", "CryptoTWAPpremium")


class TradingClient:
    """The original client's interface (see the module documentation)."""

    def __init__(
        self,
        base_url: str = "http://localhost:8000",
        auth_token: Optional[str] = None,
        exchange: str = "kraken",
        *,
        username: str = _DEMO_USER[0],
        password: str = _DEMO_USER[1],
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.exchange = exchange
        self.latest_prices: dict[str, dict[str, str]] = {}
        self.last_printed_prices: dict[str, dict[str, str]] = {}
        self._client = Client(self.base_url, token=auth_token)
        self._credentials = (username, password)
        # A token the server refuses (the original's x-token, an expired JWT) is replaced by
        # a login with these credentials.
        self._client._session.username, self._client._session.password = username, password
        self.headers: dict[str, str] = {}

    def _authed(self) -> None:
        self._client._fresh_token()
        self.headers = {"Authorization": f"Bearer {self._client.token}"}

    def _json(self, call: _core.Call[Any], auth: bool = False) -> JSON:
        raw = _core.Call(
            call.method,
            call.path,
            _decode_json,
            call.params,
            call.json,
            call.form,
            auth,
            call.expect,
        )
        try:
            if auth:
                self._authed()
            return self._client._run(raw)
        except ApiError as e:
            body = {
                "type": e.type,
                "title": e.title,
                "status": e.status,
                "detail": e.detail,
                "code": e.code,
            }
            print(f"Error {e.status}: {body}", file=sys.stderr)
            return body

    def fetch_exchanges(self) -> JSON:
        """``GET /exchanges``."""
        return self._json(_core.exchanges())

    def fetch_trading_pairs(self, exchange: str) -> JSON:
        """``GET /exchanges/{exchange}/pairs``."""
        return self._json(_core.pairs(exchange, None))

    def fetch_klines(
        self, exchange: str, symbol: str, interval: str = "1m", limit: int = 100
    ) -> JSON:
        """``GET /klines/{exchange}/{symbol}``."""
        return self._json(_core.klines(exchange, symbol, interval, limit, None, None))

    def submit_twap_order(
        self,
        order_data: Optional[dict[str, Any]] = None,
        execution_time: int = 600,
        interval: int = 60,
        *,
        symbol: Optional[str] = None,
        quantity: Any = 10,
    ) -> JSON:
        """``POST /orders/twap`` with ``?execution_time=&interval=`` (seconds).

        Either the order as a dict (``token_id``, ``exchange``, ``symbol``, ``quantity``,
        ``price``, ``order_type``), or — as the listener-driven variant of the original did —
        ``symbol=`` (and ``quantity=``): a buy on ``self.exchange`` limited at the last ask
        the book listener saw, with ``token_id`` the lower-cased symbol.
        """
        if order_data is None:
            if symbol is None:
                raise TypeError("submit_twap_order needs order_data or symbol=")
            prices = self.latest_prices.get(symbol)
            if prices is None:
                print("No market data yet: start the book listener first.", file=sys.stderr)
                return None
            order_data = {
                "token_id": symbol.lower().replace("/", ""),
                "exchange": self.exchange,
                "symbol": symbol,
                "quantity": quantity,
                "price": prices["ask_price"],
                "order_type": "buy",
            }
        return self._json(_core.submit(order_data, execution_time, interval), auth=True)

    def get_order_status(self, token_id: str) -> JSON:
        """``GET /orders/{token_id}``."""
        return self._json(_core.order(token_id), auth=True)

    async def listen_to_order_book(
        self,
        symbol: str,
        exchange: Optional[str] = None,
        *,
        max_updates: Optional[int] = None,
        quiet: bool = False,
    ) -> None:
        """Follow the top of ``symbol``'s book on ``exchange`` (default ``self.exchange``):
        keep ``latest_prices[symbol] = {"bid_price", "ask_price"}`` and print each change.
        Reconnects by itself; runs until cancelled or after ``max_updates`` changes."""
        self._authed()
        client = AsyncClient(self.base_url, token=self._client.token)
        client._session.username, client._session.password = self._credentials
        changes = 0
        async with client.stream(owns_client=True) as stream:
            await stream.subscribe_book(
                exchange or self.exchange, symbol, depth=1, interval_ms=1000
            )
            async for msg in stream:
                if not isinstance(msg, BookFrame) or not msg.bids or not msg.asks:
                    continue
                top = {"bid_price": str(msg.bids[0][0]), "ask_price": str(msg.asks[0][0])}
                self.latest_prices[symbol] = top
                if self.last_printed_prices.get(symbol) != top:
                    self.last_printed_prices[symbol] = top
                    if not quiet:
                        print(f" {symbol} - Bid: {top['bid_price']} | Ask: {top['ask_price']}")
                    changes += 1
                    if max_updates is not None and changes >= max_updates:
                        return

    def start_websocket_listener(
        self, symbol: str, exchange: Optional[str] = None, *, max_updates: Optional[int] = None
    ) -> None:
        """Run :meth:`listen_to_order_book` on a new event loop in this thread (blocking; the
        original ran it as a ``threading.Thread`` target)."""
        asyncio.run(self.listen_to_order_book(symbol, exchange, max_updates=max_updates))


def _decode_json(r: httpx.Response) -> JSON:
    try:
        return r.json()
    except ValueError as e:
        raise PapertwapError(f"not JSON: {r.text[:120]}") from e


async def listen_to_order_book(client: TradingClient, symbol: str) -> None:
    """The original module-level spelling of :meth:`TradingClient.listen_to_order_book`."""
    await client.listen_to_order_book(symbol)


def start_websocket_listener(client: TradingClient, symbol: str) -> None:
    """The original module-level spelling of :meth:`TradingClient.start_websocket_listener`."""
    client.start_websocket_listener(symbol)


__all__ = ["TradingClient", "listen_to_order_book", "start_websocket_listener"]

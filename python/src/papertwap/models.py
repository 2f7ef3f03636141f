"""Typed bodies and frames of the papertwap API (pydantic v2).

Every class here mirrors a schema of the server's ``/openapi.json`` field for field: decimals
are :class:`~decimal.Decimal` (never ``float``), times are timezone-aware
:class:`~datetime.datetime`, states are enums that map values a newer server may add to
``UNKNOWN`` instead of failing. ``tests/test_openapi_drift.py`` checks every model against
the live document, so they cannot drift apart.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Optional, Union

from pydantic import ConfigDict, Field, TypeAdapter

from ._wire import Model, OrderBody, _WireEnum
from .strategies import ImplementationShortfall, Jitter, Markouts, Strategy, VenueFills


class OrderStatus(_WireEnum):
    """Life cycle of an order."""

    PENDING = "pending"
    WORKING = "working"
    FILLED = "filled"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def is_open(self) -> bool:
        """Pending or working: the order can still fill."""
        return self in (OrderStatus.PENDING, OrderStatus.WORKING)

    @property
    def is_final(self) -> bool:
        """Filled, expired or cancelled: nothing will change any more."""
        return self in (OrderStatus.FILLED, OrderStatus.EXPIRED, OrderStatus.CANCELLED)


class Side(_WireEnum):
    """Buy or sell."""

    BUY = "buy"
    SELL = "sell"
    UNKNOWN = "unknown"


class CatchUp(_WireEnum):
    """What happens to the quantity a slice could not fill."""

    SPREAD = "spread"
    NEXT = "next"
    NONE = "none"
    UNKNOWN = "unknown"


class SkipReason(_WireEnum):
    """Why a slice was not attempted."""

    STALE_BOOK = "stale_book"
    NO_BOOK = "no_book"
    CROSSED_BOOK = "crossed_book"
    SERVER_DOWN = "server_down"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


class ShortReason(_WireEnum):
    """Why a slice filled less than its target."""

    LIMIT_PRICE = "limit_price"
    DEPTH = "depth"
    UNKNOWN = "unknown"


class BookState(_WireEnum):
    """Health state of a book."""

    SYNCING = "syncing"
    LIVE = "live"
    STALE = "stale"
    RESYNCING = "resyncing"
    DOWN = "down"
    UNKNOWN = "unknown"


class HealthStatus(_WireEnum):
    """Overall health."""

    OK = "ok"
    DEGRADED = "degraded"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"


class ConnectionStatus(_WireEnum):
    """Connection state of an exchange feed."""

    CONNECTED = "connected"
    CONNECTING = "connecting"
    DOWN = "down"
    FAILED = "failed"
    DISABLED = "disabled"
    UNKNOWN = "unknown"


class Channel(_WireEnum):
    """A WebSocket channel."""

    BOOK = "book"
    ORDERS = "orders"
    CONSOLIDATED = "consolidated"
    TRADES = "trades"
    UNKNOWN = "unknown"


Level = tuple[Decimal, Decimal]
"""A book level: ``(price, quantity)``."""

ConsolidatedLevel = tuple[Decimal, Decimal, dict[str, Decimal]]
"""A consolidated level: ``(price, total quantity, {exchange: quantity})``."""


class ServiceInfo(Model):
    """``GET /``."""

    name: str
    version: str
    docs: str
    redoc: str
    openapi: str
    ui: str


class ExchangeHealth(Model):
    """One exchange in ``GET /health``."""

    id: str
    status: ConnectionStatus
    books: int
    last_error: Optional[str] = None


class Health(Model):
    """``GET /health``."""

    status: HealthStatus
    store: HealthStatus
    uptime_secs: int
    version: str
    exchanges: list[ExchangeHealth]


class Exchange(Model):
    """One entry of ``GET /exchanges``."""

    id: str
    name: str
    status: ConnectionStatus
    symbols: int
    last_error: Optional[str] = None


class Pair(Model):
    """A normalized trading pair (``GET /exchanges/{exchange}/pairs``)."""

    symbol: str
    base: str
    quote: str
    exchange_symbol: str
    ws_symbol: str
    status: str
    price_tick: Decimal
    qty_step: Decimal
    min_qty: Decimal
    min_notional: Optional[Decimal] = None


class Kline(Model):
    """A candle (``GET /klines/{exchange}/{symbol}``), oldest first."""

    open_time: datetime
    close_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool


class Trade(Model):
    """One public trade printed by the venue (``GET /trades/{exchange}/{symbol}``)."""

    trade_id: str
    exchange_ts: datetime
    local_ts: datetime
    price: Decimal
    qty: Decimal
    taker_side: Side


class Trades(Model):
    """A batch of new trades of one book (the body of a ``trades`` frame)."""

    exchange: str
    symbol: str
    trades: list[Trade]


class BookHealth(Model):
    """How trustworthy a book is right now."""

    state: BookState
    age_ms: Optional[int] = None
    resyncs: int
    checksum_failures: int
    orphan_deletes: int
    crossed: bool
    checksum_unreliable: bool
    last_error: Optional[str] = None


class OrderBook(Model):
    """``GET /orderbook/{exchange}/{symbol}`` (and the body of a ``book`` frame)."""

    exchange: str
    symbol: str
    ts: datetime
    seq: Optional[int] = None
    bids: list[Level]
    asks: list[Level]
    health: BookHealth

    @property
    def best_bid(self) -> Optional[Level]:
        """The highest bid, if any."""
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Optional[Level]:
        """The lowest ask, if any."""
        return self.asks[0] if self.asks else None

    @property
    def mid(self) -> Optional[Decimal]:
        """``(best bid + best ask) / 2``, exact."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2


class ConsolidatedBook(Model):
    """``GET /orderbook/consolidated/{symbol}``: one book merged across exchanges."""

    symbol: str
    ts: datetime
    bids: list[ConsolidatedLevel]
    asks: list[ConsolidatedLevel]
    exchanges: dict[str, BookHealth]


class Token(Model):
    """``POST /token``."""

    access_token: str
    token_type: str
    expires_in: int


class Analytics(Model):
    """Execution analytics of an order (docs/ANALYTICS.md)."""

    arrival_mid: Optional[Decimal] = None
    market_twap: Optional[Decimal] = None
    slippage_vs_arrival_bps: Optional[Decimal] = None
    slippage_vs_market_twap_bps: Optional[Decimal] = None
    spread_cost: Decimal
    skipped_by_reason: dict[str, int]
    market_vwap: Optional[Decimal] = None
    slippage_vs_market_vwap_bps: Optional[Decimal] = None
    participation_rate: Optional[Decimal] = None
    implementation_shortfall: Optional[ImplementationShortfall] = None
    implementation_shortfall_bps: Optional[ImplementationShortfall] = None
    markouts_bps: Markouts = Markouts()
    by_venue: Optional[dict[str, VenueFills]] = None


class Slice(Model):
    """One recorded slice of an order."""

    index: int
    scheduled_at: datetime
    executed_at: datetime
    target_quantity: Decimal
    filled_quantity: Decimal
    avg_price: Optional[Decimal] = None
    fee: Decimal
    fills: list[Level]
    best_bid: Optional[Decimal] = None
    best_ask: Optional[Decimal] = None
    mid: Optional[Decimal] = None
    book_seq: Optional[int] = None
    book_age_ms: Optional[int] = None
    skipped: Optional[SkipReason] = None
    short_reason: Optional[ShortReason] = None
    market_volume: Optional[Decimal] = None
    markouts_bps: Markouts = Markouts()
    fill_venues: Optional[list[str]] = None


class Order(Model):
    """An order with its progress and analytics; ``slices`` only from ``GET /orders/{id}``."""

    token_id: str
    exchange: str
    symbol: str
    side: Side
    quantity: Decimal
    limit_price: Optional[Decimal] = None
    catch_up: CatchUp
    strategy: Strategy = Strategy.TWAP
    jitter: Optional[Jitter] = None
    profile_days: Optional[int] = None
    participation: Optional[Decimal] = None
    max_slice_qty: Optional[Decimal] = None
    latency_ms: int = 0
    venues: Optional[list[str]] = None
    status: OrderStatus
    created_at: datetime
    start_time: datetime
    end_time: datetime
    closed_at: Optional[datetime] = None
    duration_secs: int
    interval_secs: int
    interval_ms: int
    slices_total: int
    slices_done: int
    slices_skipped: int
    filled_quantity: Decimal
    fill_ratio: Decimal
    avg_price: Optional[Decimal] = None
    notional: Decimal
    fees: Decimal
    analytics: Analytics
    volume_profile: Optional[list[Decimal]] = None
    slices: Optional[list[Slice]] = None


class Problem(Model):
    """Every error body (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    code: str


class TwapRequest(OrderBody):
    """The body of ``POST /orders/twap``.

    Give the window as ``duration_secs`` (plus ``interval_secs`` or ``slices``) or as
    ``start_time``/``end_time``. Decimals are sent as exact strings.
    """

    token_id: str
    exchange: str
    symbol: str
    side: str
    quantity: Decimal
    limit_price: Optional[Decimal] = None
    duration_secs: Optional[int] = None
    interval_secs: Optional[int] = None
    slices: Optional[int] = None
    start_time: Optional[datetime] = None
    end_time: Optional[datetime] = None
    catch_up: Optional[str] = None


class TokenRequest(Model):
    """The body of ``POST /token`` (sent form-encoded by the SDK)."""

    username: str
    password: str
    grant_type: Optional[str] = None
    scope: Optional[str] = None
    client_id: Optional[str] = None
    client_secret: Optional[str] = None


class Subscription(Model):
    """A WebSocket subscription as the server normalized it."""

    channel: Channel
    exchange: Optional[str] = None
    symbol: Optional[str] = None
    depth: Optional[int] = None
    interval_ms: Optional[int] = None


# ----- WebSocket server → client frames ------------------------------------------------


class Authenticated(Model):
    """The connection is authenticated until ``expires_at``."""

    type: Literal["authenticated"] = "authenticated"
    expires_at: datetime


class Subscribed(Subscription):
    """A subscription started (canonical symbol, defaults filled)."""

    type: Literal["subscribed"] = "subscribed"


class Unsubscribed(Subscription):
    """A subscription stopped."""

    type: Literal["unsubscribed"] = "unsubscribed"


class Pong(Model):
    """Answer to ``ping``."""

    type: Literal["pong"] = "pong"


class ErrorFrame(Model):
    """A message could not be honoured; the connection stays open."""

    type: Literal["error"] = "error"
    code: str
    detail: str


class BookFrame(OrderBook):
    """A book frame: the ``/orderbook`` body; ``ts`` is when the frame was produced."""

    type: Literal["book"] = "book"


class ConsolidatedFrame(ConsolidatedBook):
    """A consolidated book frame."""

    type: Literal["consolidated"] = "consolidated"


class TradesFrame(Trades):
    """New public trades of one book, batched (at most one frame per ``interval_ms``)."""

    type: Literal["trades"] = "trades"


class OrderFrame(Model):
    """One of the user's orders changed (already stored when sent).

    ``resynced`` is set by the SDK, never by the server: the update was recovered from REST
    after a reconnect instead of received live.
    """

    type: Literal["order"] = "order"
    order: Order
    slice: Optional[Slice] = None
    resynced: bool = Field(default=False, exclude=True)


class UnknownFrame(Model):
    """A frame type this SDK version does not know (a newer server); kept raw."""

    model_config = ConfigDict(frozen=True, extra="allow")
    type: str


ServerMessage = Union[
    Authenticated,
    Subscribed,
    Unsubscribed,
    Pong,
    ErrorFrame,
    BookFrame,
    ConsolidatedFrame,
    TradesFrame,
    OrderFrame,
]
"""Every frame the server sends on ``/ws``."""

_KNOWN_FRAMES = frozenset(
    {
        "authenticated",
        "subscribed",
        "unsubscribed",
        "pong",
        "error",
        "book",
        "consolidated",
        "trades",
        "order",
    }
)
_FRAME_ADAPTER: TypeAdapter[ServerMessage] = TypeAdapter(
    Annotated[ServerMessage, Field(discriminator="type")]
)


def parse_frame(text: Union[str, bytes]) -> Union[ServerMessage, UnknownFrame]:
    """Decode one ``/ws`` text frame into its typed message.

    Raises :class:`ValueError` (:class:`pydantic.ValidationError` is one) when the frame is
    not what the API documents.
    """
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError(f"not a papertwap frame: {str(text)[:120]}")
    if data["type"] not in _KNOWN_FRAMES:
        return UnknownFrame.model_validate(data)
    return _FRAME_ADAPTER.validate_python(data)


__all__ = [
    "Analytics",
    "Authenticated",
    "BookFrame",
    "BookHealth",
    "BookState",
    "CatchUp",
    "Channel",
    "ConnectionStatus",
    "ConsolidatedBook",
    "ConsolidatedFrame",
    "ConsolidatedLevel",
    "ErrorFrame",
    "Exchange",
    "ExchangeHealth",
    "Health",
    "HealthStatus",
    "Kline",
    "Level",
    "Order",
    "OrderBook",
    "OrderFrame",
    "OrderStatus",
    "Pair",
    "Pong",
    "Problem",
    "ServerMessage",
    "ServiceInfo",
    "ShortReason",
    "Side",
    "SkipReason",
    "Slice",
    "Subscribed",
    "Subscription",
    "Token",
    "TokenRequest",
    "Trade",
    "Trades",
    "TradesFrame",
    "TwapRequest",
    "UnknownFrame",
    "Unsubscribed",
    "parse_frame",
]

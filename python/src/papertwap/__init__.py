"""papertwap: the typed Python SDK for the papertwap market-data and TWAP paper-trading server.

>>> from papertwap import Client                                   # doctest: +SKIP
>>> with Client("http://127.0.0.1:8000") as c:
...     c.login("premium", "CryptoTWAPpremium")
...     order = c.submit_twap("my-1", "sim", "BTC-USDT", "buy", "0.5",
...                           duration_secs=60, interval_secs=5)
...     print(c.wait_for_final(order.token_id).analytics)

Invariant: money is :class:`~decimal.Decimal` end to end (``float`` is refused for
quantities and prices), every body and frame is a pydantic model checked against the
server's ``/openapi.json`` by the test suite, and every failure is a
:class:`PapertwapError` (``ApiError`` carries the server's ``status``, ``code``, ``detail``).
"""

from ._core import DEFAULT_URL, NO_RETRY, RetryEvent, RetryPolicy, twap
from ._orders import order
from ._version import __version__
from .aio import AsyncClient
from .client import Client
from .errors import ApiError, DecodeError, NotLoggedIn, PapertwapError, Timeout, TransportError
from .frames import to_frame
from .lab import Backtest, BacktestRequest, BacktestResult, BacktestWindow, WhatIf, WhatIfRequest
from .models import (
    Analytics,
    Authenticated,
    BookFrame,
    BookHealth,
    BookState,
    CatchUp,
    Channel,
    ConnectionStatus,
    ConsolidatedBook,
    ConsolidatedFrame,
    ErrorFrame,
    Exchange,
    ExchangeHealth,
    Health,
    HealthStatus,
    Kline,
    Order,
    OrderBook,
    OrderFrame,
    OrderStatus,
    Pair,
    Pong,
    Problem,
    ServerMessage,
    ServiceInfo,
    ShortReason,
    Side,
    SkipReason,
    Slice,
    Subscribed,
    Subscription,
    Token,
    Trade,
    Trades,
    TradesFrame,
    TwapRequest,
    UnknownFrame,
    Unsubscribed,
)
from .strategies import (
    Estimate,
    EstimateMethod,
    ImplementationShortfall,
    Jitter,
    Markouts,
    OrderRequest,
    Preview,
    PreviewSlice,
    PreviewTotals,
    Strategy,
    VenueFills,
)
from .stream import Message, Stream

__all__ = [
    "DEFAULT_URL",
    "NO_RETRY",
    "Analytics",
    "ApiError",
    "AsyncClient",
    "Authenticated",
    "Backtest",
    "BacktestRequest",
    "BacktestResult",
    "BacktestWindow",
    "BookFrame",
    "BookHealth",
    "BookState",
    "CatchUp",
    "Channel",
    "Client",
    "ConnectionStatus",
    "ConsolidatedBook",
    "ConsolidatedFrame",
    "DecodeError",
    "ErrorFrame",
    "Estimate",
    "EstimateMethod",
    "Exchange",
    "ExchangeHealth",
    "Health",
    "HealthStatus",
    "ImplementationShortfall",
    "Jitter",
    "Kline",
    "Markouts",
    "Message",
    "NotLoggedIn",
    "Order",
    "OrderBook",
    "OrderFrame",
    "OrderRequest",
    "OrderStatus",
    "Pair",
    "PapertwapError",
    "Pong",
    "Preview",
    "PreviewSlice",
    "PreviewTotals",
    "Problem",
    "RetryEvent",
    "RetryPolicy",
    "ServerMessage",
    "ServiceInfo",
    "ShortReason",
    "Side",
    "SkipReason",
    "Slice",
    "Strategy",
    "Stream",
    "Subscribed",
    "Subscription",
    "Timeout",
    "Token",
    "Trade",
    "Trades",
    "TradesFrame",
    "TransportError",
    "TwapRequest",
    "UnknownFrame",
    "Unsubscribed",
    "VenueFills",
    "WhatIf",
    "WhatIfRequest",
    "__version__",
    "order",
    "to_frame",
    "twap",
]

"""``to_frame()``: klines, trades, orders, slices, fills and books as pandas DataFrames
(``pip install 'papertwap[pandas]'``).

Numbers become ``float64`` columns for analysis and plotting by default; pass
``exact=True`` to keep :class:`~decimal.Decimal` objects (``object`` columns) when every digit
matters. Times are ``datetime64[ns, UTC]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

from pydantic import BaseModel

from .models import Kline, Order, OrderBook, Slice, Trade, Trades

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["klines", "trades", "slices", "fills", "orders", "book"]
"""What a frame is made of."""


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("to_frame() needs pandas: pip install 'papertwap[pandas]'") from e
    return pandas


def _num(v: Optional[Decimal], exact: bool) -> Union[Decimal, float, None]:
    if v is None:
        return None if exact else float("nan")
    return v if exact else float(v)


def _finish(rows: list[dict[str, Any]], columns: list[str], index: Optional[str]) -> pd.DataFrame:
    pandas = _pandas()
    df: pd.DataFrame = pandas.DataFrame(rows, columns=columns)
    for c in columns:
        if c.endswith(("_time", "_at")) or c == "ts":
            df[c] = pandas.to_datetime(df[c], utc=True)
    if index is not None:
        df = df.set_index(index)
    return df


def klines_frame(klines: Sequence[Kline], exact: bool = False) -> pd.DataFrame:
    """Candles indexed by ``open_time``: open, high, low, close, volume, close_time, closed."""
    cols = ["open_time", "open", "high", "low", "close", "volume", "close_time", "closed"]
    rows = [
        {
            "open_time": k.open_time,
            "open": _num(k.open, exact),
            "high": _num(k.high, exact),
            "low": _num(k.low, exact),
            "close": _num(k.close, exact),
            "volume": _num(k.volume, exact),
            "close_time": k.close_time,
            "closed": k.closed,
        }
        for k in klines
    ]
    return _finish(rows, cols, "open_time")


def trades_frame(trades: Union[Trades, Sequence[Trade]], exact: bool = False) -> pd.DataFrame:
    """Time and sales indexed by ``exchange_ts`` (the venue's time): price, qty, taker_side,
    notional, local_ts (when the server received it) and trade_id."""
    items = trades.trades if isinstance(trades, Trades) else trades
    cols = ["exchange_ts", "price", "qty", "taker_side", "notional", "local_ts", "trade_id"]
    rows = [
        {
            "exchange_ts": t.exchange_ts,
            "price": _num(t.price, exact),
            "qty": _num(t.qty, exact),
            "taker_side": t.taker_side.value,
            "notional": _num(t.price * t.qty, exact),
            "local_ts": t.local_ts,
            "trade_id": t.trade_id,
        }
        for t in items
    ]
    return _finish(rows, cols, "exchange_ts")


def _slices_of(source: Union[Order, Sequence[Slice]]) -> list[Slice]:
    if isinstance(source, Order):
        if source.slices is None:
            raise ValueError(
                "this order has no slices: read it with client.order(token_id), not orders()"
            )
        return list(source.slices)
    return list(source)


def slices_frame(source: Union[Order, Sequence[Slice]], exact: bool = False) -> pd.DataFrame:
    """One row per slice, indexed by ``index``: times, target and filled quantity, average
    price, fee, the book's best bid/ask and mid at the slice, why it was skipped or short."""
    cols = [
        "index", "scheduled_at", "executed_at", "target_quantity", "filled_quantity",
        "avg_price", "fee", "best_bid", "best_ask", "mid", "book_seq", "book_age_ms",
        "fills", "skipped", "short_reason", "market_volume", "markout_1s", "markout_5s",
        "markout_30s", "markout_60s",
    ]  # fmt: skip
    rows = [
        {
            "index": s.index,
            "scheduled_at": s.scheduled_at,
            "executed_at": s.executed_at,
            "target_quantity": _num(s.target_quantity, exact),
            "filled_quantity": _num(s.filled_quantity, exact),
            "avg_price": _num(s.avg_price, exact),
            "fee": _num(s.fee, exact),
            "best_bid": _num(s.best_bid, exact),
            "best_ask": _num(s.best_ask, exact),
            "mid": _num(s.mid, exact),
            "book_seq": s.book_seq,
            "book_age_ms": s.book_age_ms,
            "fills": len(s.fills),
            "skipped": None if s.skipped is None else s.skipped.value,
            "short_reason": None if s.short_reason is None else s.short_reason.value,
            "market_volume": _num(s.market_volume, exact),
            **{f"markout_{h}": _num(v, exact) for h, v in s.markouts_bps.by_horizon().items()},
        }
        for s in _slices_of(source)
    ]
    return _finish(rows, cols, "index")


def fills_frame(source: Union[Order, Sequence[Slice]], exact: bool = False) -> pd.DataFrame:
    """One row per fill (a level a slice walked): slice index, time, price, quantity,
    notional, the mid at that slice (for plotting fills over the market) and, for an order
    routed across venues, the fill's venue."""
    cols = ["slice", "executed_at", "price", "quantity", "notional", "mid", "venue"]
    rows = [
        {
            "slice": s.index,
            "executed_at": s.executed_at,
            "price": _num(price, exact),
            "quantity": _num(qty, exact),
            "notional": _num(price * qty, exact),
            "mid": _num(s.mid, exact),
            "venue": s.fill_venues[i] if s.fill_venues and i < len(s.fill_venues) else None,
        }
        for s in _slices_of(source)
        for i, (price, qty) in enumerate(s.fills)
    ]
    return _finish(rows, cols, None)


def orders_frame(orders: Sequence[Order], exact: bool = False) -> pd.DataFrame:
    """One row per order, indexed by ``token_id``, with progress and the main analytics."""
    cols = [
        "token_id", "exchange", "symbol", "side", "status", "quantity", "filled_quantity",
        "fill_ratio", "avg_price", "notional", "fees", "limit_price", "created_at",
        "start_time", "end_time", "closed_at", "interval_ms", "slices_total", "slices_done",
        "slices_skipped", "arrival_mid", "slippage_vs_arrival_bps", "market_twap",
        "slippage_vs_market_twap_bps", "spread_cost", "strategy", "market_vwap",
        "slippage_vs_market_vwap_bps", "participation_rate", "shortfall_bps",
    ]  # fmt: skip
    rows = [
        {
            "token_id": o.token_id,
            "exchange": o.exchange,
            "symbol": o.symbol,
            "side": o.side.value,
            "status": o.status.value,
            "quantity": _num(o.quantity, exact),
            "filled_quantity": _num(o.filled_quantity, exact),
            "fill_ratio": _num(o.fill_ratio, exact),
            "avg_price": _num(o.avg_price, exact),
            "notional": _num(o.notional, exact),
            "fees": _num(o.fees, exact),
            "limit_price": _num(o.limit_price, exact),
            "created_at": o.created_at,
            "start_time": o.start_time,
            "end_time": o.end_time,
            "closed_at": o.closed_at,
            "interval_ms": o.interval_ms,
            "slices_total": o.slices_total,
            "slices_done": o.slices_done,
            "slices_skipped": o.slices_skipped,
            "arrival_mid": _num(o.analytics.arrival_mid, exact),
            "slippage_vs_arrival_bps": _num(o.analytics.slippage_vs_arrival_bps, exact),
            "market_twap": _num(o.analytics.market_twap, exact),
            "slippage_vs_market_twap_bps": _num(o.analytics.slippage_vs_market_twap_bps, exact),
            "spread_cost": _num(o.analytics.spread_cost, exact),
            "strategy": o.strategy.value,
            "market_vwap": _num(o.analytics.market_vwap, exact),
            "slippage_vs_market_vwap_bps": _num(o.analytics.slippage_vs_market_vwap_bps, exact),
            "participation_rate": _num(o.analytics.participation_rate, exact),
            "shortfall_bps": _num(
                None
                if o.analytics.implementation_shortfall_bps is None
                else o.analytics.implementation_shortfall_bps.total,
                exact,
            ),
        }
        for o in orders
    ]
    return _finish(rows, cols, "token_id")


def book_frame(book: OrderBook, exact: bool = False) -> pd.DataFrame:
    """The book's levels: side (bid/ask), level (0 = best), price, quantity."""
    cols = ["side", "level", "price", "quantity"]
    rows = [
        {"side": side, "level": i, "price": _num(p, exact), "quantity": _num(q, exact)}
        for side, levels in (("bid", book.bids), ("ask", book.asks))
        for i, (p, q) in enumerate(levels)
    ]
    return _finish(rows, cols, None)


def to_frame(
    data: Union[BaseModel, Sequence[BaseModel]],
    kind: Optional[Kind] = None,
    *,
    exact: bool = False,
) -> pd.DataFrame:
    """A DataFrame of klines, trades, slices, fills, orders or a book — or of the lab's
    results: a what-if (its simulated order's slices) and a backtest (one row per run).

    ``kind`` is guessed from ``data`` when omitted: a list of klines, trades or orders, a
    trades frame, an order (its slices; ``kind="fills"`` for its fills), a list of slices, a
    book.
    """
    from .lab import Backtest, WhatIf

    if isinstance(data, Backtest) and kind is None:
        return data.to_frame(exact)
    if isinstance(data, WhatIf):
        data = data.order
    if kind is None:
        kind = _guess(data)
    if kind == "klines":
        return klines_frame(_list_of(data, Kline), exact)
    if kind == "trades":
        if isinstance(data, Trades):
            return trades_frame(data, exact)
        return trades_frame(_list_of(data, Trade), exact)
    if kind == "orders":
        return orders_frame(_list_of(data, Order), exact)
    if kind == "book":
        if not isinstance(data, OrderBook):
            raise TypeError("kind='book' needs an OrderBook")
        return book_frame(data, exact)
    source: Union[Order, list[Slice]] = data if isinstance(data, Order) else _list_of(data, Slice)
    return slices_frame(source, exact) if kind == "slices" else fills_frame(source, exact)


def _guess(data: Union[BaseModel, Sequence[BaseModel]]) -> Kind:
    if isinstance(data, Order):
        return "slices"
    if isinstance(data, OrderBook):
        return "book"
    if isinstance(data, Trades):
        return "trades"
    if isinstance(data, BaseModel):
        raise TypeError(f"to_frame() does not know {type(data).__name__}; pass kind=")
    first = data[0] if len(data) else None
    if isinstance(first, Kline):
        return "klines"
    if isinstance(first, Trade):
        return "trades"
    if isinstance(first, Order):
        return "orders"
    if isinstance(first, Slice):
        return "slices"
    raise TypeError("to_frame() cannot guess the kind of an empty or unknown list; pass kind=")


def _list_of(data: Union[BaseModel, Sequence[BaseModel]], tp: type[Any]) -> list[Any]:
    items = [data] if isinstance(data, BaseModel) else list(data)
    for x in items:
        if not isinstance(x, tp):
            raise TypeError(f"expected {tp.__name__} items, got {type(x).__name__}")
    return items


__all__ = [
    "Kind",
    "book_frame",
    "fills_frame",
    "klines_frame",
    "orders_frame",
    "slices_frame",
    "to_frame",
    "trades_frame",
]

"""The sans-I/O calls of ``POST /orders`` and ``POST /orders/preview`` and the builder of
their body (driven by :class:`~papertwap.Client` and :class:`~papertwap.AsyncClient`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Optional, TypedDict, Union

from typing_extensions import Unpack

from ._core import Call, Money, _adapter, _jsonable, _model
from .models import Order
from .strategies import Jitter, OrderRequest, Preview, Strategy

StrategyOrderInput = Union[OrderRequest, dict[str, Any]]
"""An order for ``POST /orders``: an :class:`OrderRequest` or the JSON body as a dict."""


class OrderOptions(TypedDict, total=False):
    """The optional parts of an order (see :func:`order`)."""

    duration_secs: int
    interval_secs: int
    slices: int
    limit_price: Optional[Money]
    start_time: datetime
    end_time: datetime
    catch_up: str
    jitter: Union[Jitter, dict[str, int]]
    profile_days: int
    participation: Money
    max_slice_qty: Money
    latency_ms: int


_MONEY = ("limit_price", "participation", "max_slice_qty")


def order(
    strategy: Union[Strategy, str],
    token_id: Optional[str],
    exchange: str,
    symbol: str,
    side: str,
    quantity: Money,
    **options: Unpack[OrderOptions],
) -> OrderRequest:
    """Build an :class:`OrderRequest` of ``strategy`` (``twap``, ``vwap``, ``pov``);
    quantities, prices and the participation go out exactly as given (``float`` is refused:
    write ``"0.1"`` or ``Decimal("0.1")``). ``token_id`` may be ``None`` for a preview."""
    body: dict[str, Any] = dict(options)
    for name, value in [("quantity", quantity)] + [(k, body.get(k)) for k in _MONEY]:
        if isinstance(value, float):
            raise TypeError(f"{name} must be a Decimal, str or int, not float ({value!r})")
    for k in _MONEY:
        if body.get(k) is not None:
            body[k] = Decimal(str(body[k]))
    body.update(
        token_id=token_id,
        strategy=Strategy(strategy),
        exchange=exchange,
        symbol=symbol,
        side=side,
        quantity=Decimal(str(quantity)),
    )
    return OrderRequest.model_validate(body)


def order_body(o: StrategyOrderInput) -> Any:
    """The JSON body of one order."""
    if isinstance(o, OrderRequest):
        return o.to_json()
    return _jsonable(o)


def submit_order(o: StrategyOrderInput) -> Call[Order]:
    """``POST /orders`` with one order (201 new, 200 the same order again)."""
    return Call(
        "POST",
        "/orders",
        _model(_adapter(Order)),
        json=order_body(o),
        auth=True,
        expect=(200, 201),
    )


def submit_orders(orders: list[StrategyOrderInput]) -> Call[list[Order]]:
    """``POST /orders`` with an array: all accepted or none."""
    return Call(
        "POST",
        "/orders",
        _model(_adapter(list[Order])),
        json=[order_body(o) for o in orders],
        auth=True,
        expect=(200, 201),
    )


def preview(o: StrategyOrderInput) -> Call[Preview]:
    """``POST /orders/preview``: nothing is stored."""
    return Call("POST", "/orders/preview", _model(_adapter(Preview)), json=order_body(o), auth=True)

"""The lab: what-ifs (a finished order re-run on the market recorded during its window, with
changes) and backtests (an order and its variants side by side on a recorded past window),
with their bodies and the calls that send them (DESIGN §17)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Optional, Union

from pydantic import Field

from ._core import Call, _adapter, _jsonable, _model, _path
from ._wire import Model, OrderBody
from .models import Order
from .strategies import Jitter, OrderRequest, Strategy

if TYPE_CHECKING:
    import pandas as pd


class WhatIfRequest(OrderBody):
    """What to change in an order before re-running it. Every field is optional; an empty
    request re-runs the order as it was (it must then reproduce it). ``limit_price=None``
    given explicitly removes the cap (an unset field changes nothing)."""

    interval_secs: Optional[int] = None
    slices: Optional[int] = None
    duration_secs: Optional[int] = None
    start_time: Optional[datetime] = None
    end_time: Optional[datetime] = None
    catch_up: Optional[str] = None
    limit_price: Optional[Decimal] = None
    strategy: Optional[Strategy] = None
    jitter: Optional[Jitter] = None
    profile_days: Optional[int] = None
    participation: Optional[Decimal] = None
    max_slice_qty: Optional[Decimal] = None
    latency_ms: Optional[int] = None

    def to_json(self) -> dict[str, Any]:
        """The JSON body: the fields that were given (an explicit ``None`` included)."""
        return self.model_dump(mode="json", exclude_unset=True)


class WhatIf(Model):
    """``POST /orders/{token_id}/whatif``: the order re-run alone on the recorded market."""

    simulated: bool
    reproduces_original: bool
    overrides: WhatIfRequest
    order: Order

    def to_frame(self, exact: bool = False) -> pd.DataFrame:
        """The simulated order's slices, one row each (see :func:`papertwap.to_frame`)."""
        from .frames import slices_frame

        return slices_frame(self.order, exact)


class BacktestRequest(OrderRequest):
    """``POST /backtests``: an order (``start_time`` in the recorded past, ``end_time`` or
    ``duration_secs``; no ``token_id`` needed) and up to 10 ``variants`` run beside it."""

    variants: list[WhatIfRequest] = Field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON body."""
        body = self.model_dump(mode="json", exclude_none=True, exclude={"variants"})
        body["variants"] = [v.to_json() for v in self.variants]
        return body


class BacktestWindow(Model):
    """The recorded window a backtest ran on (its base order's)."""

    start: datetime
    end: datetime


class BacktestResult(Model):
    """One run of a backtest: its changes (``{}`` for the base order) and its order."""

    variant: WhatIfRequest
    order: Order


class Backtest(Model):
    """A stored backtest: the base order first in ``results``, then each variant."""

    id: str
    created_at: datetime
    window: BacktestWindow
    request: BacktestRequest
    results: list[BacktestResult]

    def to_frame(self, exact: bool = False) -> pd.DataFrame:
        """One row per run, indexed by ``run`` (0 = the base order), with its changes as
        JSON and the order's figures (the columns of ``orders_frame``)."""
        import json

        from .frames import orders_frame

        df = orders_frame([r.order for r in self.results], exact)
        df.insert(
            0,
            "variant",
            [json.dumps(r.variant.to_json(), sort_keys=True) for r in self.results],
        )
        df.index = list(range(len(self.results)))
        df.index.name = "run"
        return df


WhatIfInput = Union[WhatIfRequest, dict[str, Any], None]
"""A what-if's changes: a :class:`WhatIfRequest`, the JSON body as a dict, or none."""

BacktestInput = Union[BacktestRequest, dict[str, Any]]
"""A backtest: a :class:`BacktestRequest` or the JSON body as a dict."""


def whatif(token_id: str, changes: WhatIfInput = None) -> Call[WhatIf]:
    """``POST /orders/{token_id}/whatif``."""
    if changes is None:
        body: Any = {}
    elif isinstance(changes, WhatIfRequest):
        body = changes.to_json()
    else:
        body = _jsonable(changes)
    return Call(
        "POST", _path("orders", token_id, "whatif"), _model(_adapter(WhatIf)), json=body, auth=True
    )


def backtest(request: BacktestInput) -> Call[Backtest]:
    """``POST /backtests`` (201: run and stored)."""
    body = request.to_json() if isinstance(request, BacktestRequest) else _jsonable(request)
    return Call(
        "POST",
        "/backtests",
        _model(_adapter(Backtest)),
        json=body,
        auth=True,
        expect=(201,),
    )


def backtests(limit: Optional[int], offset: Optional[int]) -> Call[list[Backtest]]:
    """``GET /backtests``."""
    params: dict[str, Union[str, int]] = {}
    if limit is not None:
        params["limit"] = limit
    if offset is not None:
        params["offset"] = offset
    return Call("GET", "/backtests", _model(_adapter(list[Backtest])), params, auth=True)


def backtest_by_id(backtest_id: str) -> Call[Backtest]:
    """``GET /backtests/{id}``."""
    return Call("GET", _path("backtests", backtest_id), _model(_adapter(Backtest)), auth=True)


__all__ = [
    "Backtest",
    "BacktestRequest",
    "BacktestResult",
    "BacktestWindow",
    "WhatIf",
    "WhatIfRequest",
]

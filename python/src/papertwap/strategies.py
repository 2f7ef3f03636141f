"""The bodies of ``POST /orders`` (every strategy) and ``POST /orders/preview``, and the
transaction-cost figures of an order (``docs/ANALYTICS.md``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from pydantic import ConfigDict, Field

from ._wire import Model, OrderBody, _WireEnum


class Strategy(_WireEnum):
    """An order's algorithm."""

    TWAP = "twap"
    VWAP = "vwap"
    POV = "pov"
    UNKNOWN = "unknown"


class EstimateMethod(_WireEnum):
    """How a pre-trade estimate was made."""

    BOOK_WALK = "book_walk"
    SQUARE_ROOT_LAW = "square_root_law"
    UNKNOWN = "unknown"


class Jitter(Model):
    """Seeded randomization of a TWAP's slice times and sizes (same seed, same schedule)."""

    seed: int
    time_pct: int = 0
    size_pct: int = 0


class ImplementationShortfall(Model):
    """The shortfall against the decision price, positive = cost; ``total`` is exactly the
    sum of ``delay_cost``, ``spread_cost``, ``impact_cost``, ``timing_cost``,
    ``opportunity_cost`` and ``fees``; ``execution_cost`` = spread + impact."""

    total: Decimal
    delay_cost: Decimal
    execution_cost: Decimal
    spread_cost: Decimal
    impact_cost: Decimal
    timing_cost: Decimal
    opportunity_cost: Decimal
    fees: Decimal

    def parts(self) -> dict[str, Decimal]:
        """The parts that add up to ``total``, in waterfall order."""
        return {
            "delay_cost": self.delay_cost,
            "spread_cost": self.spread_cost,
            "impact_cost": self.impact_cost,
            "timing_cost": self.timing_cost,
            "opportunity_cost": self.opportunity_cost,
            "fees": self.fees,
        }


class Markouts(Model):
    """The mid 1 s, 5 s, 30 s and 60 s after a fill against its price, bps, positive = the
    fill looks good afterwards; ``None`` until taken. An order's are weighted by quantity.
    On the wire the keys are ``"1s"``, ``"5s"``, ``"30s"``, ``"60s"``."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    s1: Optional[Decimal] = Field(default=None, alias="1s")
    s5: Optional[Decimal] = Field(default=None, alias="5s")
    s30: Optional[Decimal] = Field(default=None, alias="30s")
    s60: Optional[Decimal] = Field(default=None, alias="60s")

    def by_horizon(self) -> dict[str, Optional[Decimal]]:
        """``{"1s": …, "5s": …, "30s": …, "60s": …}``."""
        return {"1s": self.s1, "5s": self.s5, "30s": self.s30, "60s": self.s60}


class VenueFills(Model):
    """What a routed order (``exchange="best"``) took from one venue."""

    filled_quantity: Decimal
    notional: Decimal
    avg_price: Optional[Decimal] = None
    fees: Decimal


class OrderRequest(OrderBody):
    """The body of ``POST /orders`` (and of ``POST /orders/preview``, where ``token_id`` may
    be left out). ``strategy`` is ``twap`` (default), ``vwap`` or ``pov``; each strategy
    takes its own fields (``jitter``; ``profile_days``; ``participation`` and
    ``max_slice_qty``) and refuses the others'."""

    token_id: Optional[str] = None
    strategy: Optional[Strategy] = None
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
    jitter: Optional[Jitter] = None
    profile_days: Optional[int] = None
    participation: Optional[Decimal] = None
    max_slice_qty: Optional[Decimal] = None
    latency_ms: Optional[int] = None


class PreviewSlice(Model):
    """One slice of a preview: when it would run, its target, what the book would give."""

    index: int
    scheduled_at: datetime
    target_quantity: Decimal
    expected_vwap: Optional[Decimal] = None
    expected_cost_bps: Optional[Decimal] = None
    expected_fee: Decimal
    fillable_ratio: Decimal


class PreviewTotals(Model):
    """A preview's totals over every slice."""

    quantity: Decimal
    expected_vwap: Optional[Decimal] = None
    expected_cost_bps: Optional[Decimal] = None
    expected_fees: Decimal
    fillable_ratio: Decimal


class Estimate(Model):
    """One pre-trade estimate, labelled with how it was made."""

    method: EstimateMethod
    cost_bps: Optional[Decimal] = None
    cost: Optional[Decimal] = None
    sigma_daily: Optional[Decimal] = None
    daily_volume: Optional[Decimal] = None
    note: str


class Preview(Model):
    """``POST /orders/preview``: the schedule the order would run (the execution code's) and
    its estimates; nothing is stored."""

    strategy: Strategy
    exchange: str
    symbol: str
    mid: Optional[Decimal] = None
    volume_profile: Optional[list[Decimal]] = None
    schedule: list[PreviewSlice]
    totals: PreviewTotals
    estimates: list[Estimate]

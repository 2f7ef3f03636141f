"""The bases of every API model: forward-compatible string enums and immutable bodies."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, field_serializer, field_validator


class _WireEnum(str, Enum):
    """A string enum whose unknown values decode to ``UNKNOWN`` (forward compatible)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        return cls.__members__.get("UNKNOWN")

    def __str__(self) -> str:
        return str(self.value)


class Model(BaseModel):
    """Base of every API body: immutable; unknown fields from a newer server are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class OrderBody(Model):
    """What the order bodies share: naive times read as UTC, decimals sent as exact
    positional strings, unset fields left out."""

    @field_validator("start_time", "end_time", check_fields=False)
    @classmethod
    def _utc(cls, v: Optional[datetime]) -> Optional[datetime]:
        # A naive time is taken as UTC (as the server does), never as the local zone.
        if v is not None and v.tzinfo is None:
            return v.replace(tzinfo=timezone.utc)
        return v

    @field_serializer(
        "quantity", "limit_price", "participation", "max_slice_qty", check_fields=False
    )
    def _plain(self, v: Optional[Decimal]) -> Optional[str]:
        # Positional notation always: the server takes `0.00001`, not `1E-5`.
        return None if v is None else format(v, "f")

    def to_json(self) -> dict[str, Any]:
        """The JSON body: decimals as exact strings, unset fields left out."""
        return self.model_dump(mode="json", exclude_none=True)

"""The bases of every API model: forward-compatible string enums and immutable bodies."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict


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

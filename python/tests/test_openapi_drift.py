"""The SDK's models against the live server's ``/openapi.json``: same fields, same required
ones, compatible types, same enum values, same WebSocket frame types. A field added to the
server without its Python twin (or the reverse) fails here."""

from __future__ import annotations

import types
import typing
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Union

import httpx
import pytest
from conftest import Server
from pydantic import BaseModel

from papertwap import lab, models, strategies

# Schema name → the model that mirrors it.
MODELS: dict[str, type[BaseModel]] = {
    "Analytics": models.Analytics,
    "Estimate": strategies.Estimate,
    "ImplementationShortfall": strategies.ImplementationShortfall,
    "Jitter": strategies.Jitter,
    "Markouts": strategies.Markouts,
    "VenueFills": strategies.VenueFills,
    "OrderRequest": strategies.OrderRequest,
    "Preview": strategies.Preview,
    "PreviewSlice": strategies.PreviewSlice,
    "PreviewTotals": strategies.PreviewTotals,
    "BookHealth": models.BookHealth,
    "ConsolidatedBook": models.ConsolidatedBook,
    "Exchange": models.Exchange,
    "ExchangeHealth": models.ExchangeHealth,
    "Health": models.Health,
    "Kline": models.Kline,
    "Order": models.Order,
    "OrderBook": models.OrderBook,
    "Pair": models.Pair,
    "Problem": models.Problem,
    "ServiceInfo": models.ServiceInfo,
    "Slice": models.Slice,
    "Subscription": models.Subscription,
    "Token": models.Token,
    "TokenRequest": models.TokenRequest,
    "TwapRequest": models.TwapRequest,
    "Trade": models.Trade,
    "Trades": models.Trades,
    "WhatIfRequest": lab.WhatIfRequest,
    "WhatIf": lab.WhatIf,
    "BacktestRequest": lab.BacktestRequest,
    "BacktestResult": lab.BacktestResult,
    "BacktestWindow": lab.BacktestWindow,
    "Backtest": lab.Backtest,
}

ENUMS: dict[str, type[Enum]] = {
    "BookState": models.BookState,
    "CatchUp": models.CatchUp,
    "Channel": models.Channel,
    "ConnectionStatus": models.ConnectionStatus,
    "HealthStatus": models.HealthStatus,
    "OrderStatus": models.OrderStatus,
    "ShortReason": models.ShortReason,
    "Side": models.Side,
    "SkipReason": models.SkipReason,
    "EstimateMethod": strategies.EstimateMethod,
    "Strategy": strategies.Strategy,
}

# Fields the SDK adds on its side (never on the wire).
CLIENT_ONLY = {("OrderFrame", "resynced")}

FRAMES: dict[str, type[BaseModel]] = {
    "authenticated": models.Authenticated,
    "subscribed": models.Subscribed,
    "unsubscribed": models.Unsubscribed,
    "pong": models.Pong,
    "error": models.ErrorFrame,
    "book": models.BookFrame,
    "consolidated": models.ConsolidatedFrame,
    "trades": models.TradesFrame,
    "order": models.OrderFrame,
}


@pytest.fixture(scope="module")
def spec(server: Server) -> dict[str, Any]:
    doc: dict[str, Any] = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    return doc


def _schemas(spec: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = spec["components"]["schemas"]
    return found


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """``Optional[X]`` → ``(X, True)``; anything else → ``(tp, False)``."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _schema_kind(prop: dict[str, Any]) -> tuple[str, bool]:
    """What a property schema holds, and whether it may be null."""
    if "$ref" in prop:
        return "ref:" + prop["$ref"].rsplit("/", 1)[1], False
    if "oneOf" in prop:
        kinds = [o for o in prop["oneOf"] if o.get("type") != "null"]
        nullable = len(kinds) < len(prop["oneOf"])
        kind, _ = _schema_kind(kinds[0])
        return kind, nullable
    t = prop.get("type")
    nullable = isinstance(t, list) and "null" in t
    if isinstance(t, list):
        t = next(x for x in t if x != "null")
    if t == "string" and prop.get("format") == "date-time":
        return "datetime", nullable
    return str(t), nullable


def _python_kind(tp: Any) -> str:
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "ref:" + tp.__name__
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "ref:" + next(n for n, m in MODELS.items() if m is tp)
    if tp is datetime:
        return "datetime"
    if tp in (str, Decimal):
        return "string"
    if tp is int:
        return "integer"
    if tp is bool:
        return "boolean"
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return "string"
    if origin in (list, tuple):
        return "array"
    if origin is dict:
        return "object"
    return f"unmapped {tp!r}"


def _check_model(name: str, schema: dict[str, Any], model: type[BaseModel]) -> list[str]:
    problems = []
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    # By wire name (a field's alias, when it has one: `"1s"` is not a Python name).
    hints = {
        (f.alias or n): h
        for n, f in model.model_fields.items()
        for h in [typing.get_type_hints(model)[n]]
    }
    fields = {
        (f.alias or n): f
        for n, f in model.model_fields.items()
        if (name, n) not in CLIENT_ONLY
        # A frame's `type` tag is checked by test_frames_match_server_message.
        and not (n == "type" and typing.get_origin(hints[n]) is typing.Literal and n not in props)
    }
    for missing in sorted(set(props) - set(fields)):
        problems.append(f"{name}.{missing}: in /openapi.json, not in {model.__name__}")
    for extra in sorted(set(fields) - set(props)):
        problems.append(f"{name}.{extra}: in {model.__name__}, not in /openapi.json")
    for field in sorted(set(props) & set(fields)):
        kind, nullable = _schema_kind(props[field])
        tp, optional = _unwrap(hints[field])
        if _python_kind(tp) != kind:
            problems.append(f"{name}.{field}: schema {kind}, model {_python_kind(tp)}")
        # A Literal tag has its only value as default: it is always sent.
        is_required = fields[field].is_required() or typing.get_origin(tp) is typing.Literal
        if (field in required) != is_required and not (nullable and optional):
            problems.append(f"{name}.{field}: required {field in required}, model {is_required}")
        if nullable != optional:
            problems.append(f"{name}.{field}: nullable {nullable}, model Optional {optional}")
    return problems


def test_every_schema_has_a_model(spec: dict[str, Any]) -> None:
    covered = set(MODELS) | set(ENUMS) | {"ClientMessage", "ServerMessage"}
    assert set(_schemas(spec)) - covered == set(), "a schema without a Python model"


def _flat(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its ``allOf`` parts (a flattened struct) merged into one object."""
    if "allOf" not in schema:
        return schema
    props: dict[str, Any] = {}
    required: list[str] = []
    for part in schema["allOf"]:
        if "$ref" in part:
            part = _schemas(spec)[part["$ref"].rsplit("/", 1)[1]]
        part = _flat(spec, part)
        props.update(part.get("properties", {}))
        required += part.get("required", [])
    return {"properties": props, "required": required}


def test_models_match_the_schemas(spec: dict[str, Any]) -> None:
    problems = [
        p
        for name, model in MODELS.items()
        for p in _check_model(name, _flat(spec, _schemas(spec)[name]), model)
    ]
    assert problems == []


def test_enums_match_the_schemas(spec: dict[str, Any]) -> None:
    for name, enum in ENUMS.items():
        assert {e.value for e in enum} == set(_schemas(spec)[name]["enum"]), name


def test_frames_match_server_message(spec: dict[str, Any]) -> None:
    variants = _schemas(spec)["ServerMessage"]["oneOf"]
    seen = {}
    for v in variants:
        parts = v.get("allOf", [v])
        own = next(p for p in parts if "properties" in p and "type" in p["properties"])
        tag = own["properties"]["type"]["enum"][0]
        base = next((p["$ref"].rsplit("/", 1)[1] for p in parts if "$ref" in p), None)
        seen[tag] = (base, own)
    assert set(seen) == set(FRAMES)
    problems = []
    for tag, (base, own) in seen.items():
        frame = FRAMES[tag]
        if base is not None:
            assert issubclass(frame, MODELS[base]), f"{tag} frame should extend {base}"
        else:
            problems += _check_model(frame.__name__, own, frame)
    assert problems == []


def test_the_checker_catches_drift() -> None:
    # A model missing a field and carrying an unknown one must be reported.
    class Shrunk(BaseModel):
        token_id: str
        surprise: int

    schema = {
        "properties": {"token_id": {"type": "string"}, "status": {"type": "string"}},
        "required": ["token_id", "status"],
    }
    problems = _check_model("Order", schema, Shrunk)
    assert any("Order.status" in p for p in problems)
    assert any("Order.surprise" in p for p in problems)

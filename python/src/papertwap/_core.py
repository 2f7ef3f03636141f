"""The sans-I/O heart shared by :class:`~papertwap.Client` and :class:`~papertwap.AsyncClient`.

An endpoint is a :class:`Call`: what to send and how to read the answer. The two clients only
differ in how they send it (``httpx.Client`` or ``httpx.AsyncClient``, ``time.sleep`` or
``asyncio.sleep``); the retry decisions (:class:`RetryPolicy`), the session rules
(:class:`Session`) and the decoding live here once.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Generic, Optional, TypeVar, Union
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict, Unpack

from .errors import ApiError, DecodeError, NotLoggedIn, TransportError
from .models import (
    ConsolidatedBook,
    Exchange,
    Health,
    Kline,
    Order,
    OrderBook,
    Pair,
    ServiceInfo,
    Token,
    Trade,
    TwapRequest,
)

T = TypeVar("T")
_log = logging.getLogger("papertwap")

DEFAULT_URL = "http://127.0.0.1:8000"
"""Where a server started with the README's command listens."""

Money = Union[Decimal, str, int]
"""A quantity or price: exact (``float`` is refused)."""

OrderInput = Union[TwapRequest, dict[str, Any]]
"""An order to submit: a :class:`TwapRequest` or the JSON body as a dict."""

TimeInput = Union[datetime, str, int]
"""A time for a query: an aware ``datetime`` (naive ones are taken as UTC), an RFC 3339
string, or Unix milliseconds."""


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and the decoder of its successful answer."""

    method: str
    path: str
    decode: Callable[[httpx.Response], T]
    params: Optional[dict[str, Union[str, int]]] = None
    json: Any = None
    form: Optional[dict[str, str]] = None
    auth: bool = False
    expect: tuple[int, ...] = (200,)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a request again.

    429 and 503 are retried after the server's ``Retry-After`` (seconds or HTTP date), other
    transport failures and 502/504 after an exponential backoff with jitter. Every request the
    SDK sends is safe to repeat: reads, cancels, logins, and submissions (the same
    ``token_id`` and body answer the original order). The budget is bounded twice: at most
    ``max_retries`` retries and at most ``max_wait`` seconds of waiting in total; a wait the
    budget cannot cover is not started, the error is raised at once instead.
    """

    max_retries: int = 4
    max_wait: float = 30.0
    backoff: float = 0.25
    backoff_max: float = 8.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})

    def delay(self, attempt: int, waited: float, retry_after: Optional[float]) -> Optional[float]:
        """Seconds to wait before retry number ``attempt`` (1-based), or ``None`` to give up."""
        if attempt > self.max_retries:
            return None
        if retry_after is not None:
            wait = max(0.0, retry_after)
        else:
            wait = min(self.backoff_max, self.backoff * 2 ** (attempt - 1))
            wait *= 0.5 + random.random() / 2
        if waited + wait > self.max_wait:
            return None
        return wait


DEFAULT_RETRY = RetryPolicy()
"""The clients' default policy: 4 retries, 30 s of waiting at most."""

NO_RETRY = RetryPolicy(max_retries=0)
"""A policy that never retries."""


def retry_after_secs(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Parse a ``Retry-After`` header: delta seconds or an HTTP date; ``None`` if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass
class Session:
    """The bearer token and how to renew it.

    With credentials (from ``login``) the token is renewed before it expires (when less than
    ``max(30 s, 10 % of its lifetime)`` is left) and once after a 401; a token given with
    ``set_token`` is used as is until the server refuses it.
    """

    username: Optional[str] = None
    password: Optional[str] = None
    token: Optional[str] = None
    expires_at: float = 0.0
    lifetime: float = 0.0
    clock: Callable[[], float] = field(default=time.monotonic)

    def store(self, token: Token) -> None:
        """Keep a fresh token from ``POST /token``."""
        self.token = token.access_token
        self.lifetime = float(token.expires_in)
        self.expires_at = self.clock() + self.lifetime

    def needs_login(self) -> bool:
        """True when a login is due (no token yet, or close to expiry) and possible."""
        if self.username is None or self.password is None:
            return False
        if self.token is None:
            return True
        margin = max(30.0, self.lifetime / 10)
        return self.clock() >= self.expires_at - margin

    def can_login(self) -> bool:
        """True when credentials are known."""
        return self.username is not None and self.password is not None


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


def _model(adapter: TypeAdapter[T]) -> Callable[[httpx.Response], T]:
    def decode(r: httpx.Response) -> T:
        try:
            return adapter.validate_json(r.content)
        except ValidationError as e:
            raise DecodeError(f"{r.request.method} {r.request.url.path}: {e}") from e

    return decode


def _text(r: httpx.Response) -> str:
    return r.text


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(tp: Any) -> TypeAdapter[Any]:
    a = _ADAPTERS.get(tp)
    if a is None:
        a = _ADAPTERS[tp] = TypeAdapter(tp)
    return a


def _time(t: TimeInput) -> Union[str, int]:
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return t


def problem(r: httpx.Response) -> ApiError:
    """The :class:`ApiError` of a failed response (problem+json, or whatever came back)."""
    retry_after = retry_after_secs(r.headers.get("retry-after"))
    request_id = r.headers.get("x-request-id")
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return ApiError(
            r.status_code,
            body["code"],
            str(body.get("detail", "")),
            title=str(body.get("title", "")),
            type=str(body.get("type", "about:blank")),
            retry_after=retry_after,
            request_id=request_id,
        )
    detail = r.text.strip()[:300] or r.reason_phrase
    return ApiError(
        r.status_code, "http_error", detail, retry_after=retry_after, request_id=request_id
    )


def order_body(order: OrderInput) -> Any:
    """The JSON body of one order."""
    if isinstance(order, TwapRequest):
        return order.to_json()
    return _jsonable(order)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _time(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# ----- the endpoints ----------------------------------------------------------------------


def root() -> Call[ServiceInfo]:
    """``GET /``."""
    return Call("GET", "/", _model(_adapter(ServiceInfo)))


def health() -> Call[Health]:
    """``GET /health`` (200 while the store works, else 503 with the same body)."""
    return Call("GET", "/health", _model(_adapter(Health)), expect=(200, 503))


def metrics() -> Call[str]:
    """``GET /metrics``."""
    return Call("GET", "/metrics", _text)


def exchanges() -> Call[list[Exchange]]:
    """``GET /exchanges``."""
    return Call("GET", "/exchanges", _model(_adapter(list[Exchange])))


def pairs(exchange: str, quote_asset: Optional[str]) -> Call[list[Pair]]:
    """``GET /exchanges/{exchange}/pairs``."""
    params: dict[str, Union[str, int]] = {}
    if quote_asset is not None:
        params["quote"] = quote_asset
    return Call("GET", _path("exchanges", exchange, "pairs"), _model(_adapter(list[Pair])), params)


def klines(
    exchange: str,
    symbol: str,
    interval: str,
    limit: int,
    start: Optional[TimeInput],
    end: Optional[TimeInput],
) -> Call[list[Kline]]:
    """``GET /klines/{exchange}/{symbol}``."""
    params: dict[str, Union[str, int]] = {"interval": interval, "limit": limit}
    if start is not None:
        params["start"] = _time(start)
    if end is not None:
        params["end"] = _time(end)
    return Call("GET", _path("klines", exchange, symbol), _model(_adapter(list[Kline])), params)


def trades(
    exchange: str,
    symbol: str,
    limit: int,
    start: Optional[TimeInput],
    end: Optional[TimeInput],
) -> Call[list[Trade]]:
    """``GET /trades/{exchange}/{symbol}``."""
    params: dict[str, Union[str, int]] = {"limit": limit}
    if start is not None:
        params["start"] = _time(start)
    if end is not None:
        params["end"] = _time(end)
    return Call("GET", _path("trades", exchange, symbol), _model(_adapter(list[Trade])), params)


def order_book(exchange: str, symbol: str, depth: int) -> Call[OrderBook]:
    """``GET /orderbook/{exchange}/{symbol}``."""
    return Call(
        "GET",
        _path("orderbook", exchange, symbol),
        _model(_adapter(OrderBook)),
        {"depth": depth},
    )


def consolidated_book(symbol: str, depth: int) -> Call[ConsolidatedBook]:
    """``GET /orderbook/consolidated/{symbol}``."""
    return Call(
        "GET",
        _path("orderbook", "consolidated", symbol),
        _model(_adapter(ConsolidatedBook)),
        {"depth": depth},
    )


def token(username: str, password: str) -> Call[Token]:
    """``POST /token`` with the OAuth2 password form."""
    return Call(
        "POST",
        "/token",
        _model(_adapter(Token)),
        form={"username": username, "password": password, "grant_type": "password"},
    )


def submit(
    order: OrderInput, execution_time: Optional[int] = None, interval: Optional[int] = None
) -> Call[Order]:
    """``POST /orders/twap`` with one order (201 new, 200 the same order again)."""
    params: dict[str, Union[str, int]] = {}
    if execution_time is not None:
        params["execution_time"] = execution_time
    if interval is not None:
        params["interval"] = interval
    return Call(
        "POST",
        "/orders/twap",
        _model(_adapter(Order)),
        params or None,
        json=order_body(order),
        auth=True,
        expect=(200, 201),
    )


def submit_batch(orders: list[OrderInput]) -> Call[list[Order]]:
    """``POST /orders/twap`` with an array: all accepted or none."""
    return Call(
        "POST",
        "/orders/twap",
        _model(_adapter(list[Order])),
        json=[order_body(o) for o in orders],
        auth=True,
        expect=(200, 201),
    )


def orders(
    status: Optional[str],
    token_id: Optional[str],
    exchange: Optional[str],
    symbol: Optional[str],
    limit: Optional[int],
    offset: Optional[int],
) -> Call[list[Order]]:
    """``GET /orders``."""
    params: dict[str, Union[str, int]] = {}
    for k, v in (
        ("status", status),
        ("token_id", token_id),
        ("exchange", exchange),
        ("symbol", symbol),
        ("limit", limit),
        ("offset", offset),
    ):
        if v is not None:
            params[k] = v
    return Call("GET", "/orders", _model(_adapter(list[Order])), params, auth=True)


def order(token_id: str) -> Call[Order]:
    """``GET /orders/{token_id}``."""
    return Call("GET", _path("orders", token_id), _model(_adapter(Order)), auth=True)


def cancel(token_id: str) -> Call[Order]:
    """``DELETE /orders/{token_id}``."""
    return Call("DELETE", _path("orders", token_id), _model(_adapter(Order)), auth=True)


class TwapOptions(TypedDict, total=False):
    """The optional parts of a TWAP order (see :func:`twap`)."""

    duration_secs: int
    interval_secs: int
    slices: int
    limit_price: Optional[Money]
    start_time: datetime
    end_time: datetime
    catch_up: str


def twap(
    token_id: str,
    exchange: str,
    symbol: str,
    side: str,
    quantity: Money,
    **options: Unpack[TwapOptions],
) -> TwapRequest:
    """Build a :class:`TwapRequest`; quantities and prices go out exactly as given.

    Give the window as ``duration_secs`` with ``interval_secs`` or ``slices``, or as
    ``start_time``/``end_time`` (naive times are UTC); ``catch_up`` is ``spread`` (default),
    ``next`` or ``none``. ``float`` is refused for money: ``0.1`` is not exactly one tenth in
    binary, write ``"0.1"`` or ``Decimal("0.1")``.
    """
    limit_price = options.get("limit_price")
    for name, value in (("quantity", quantity), ("limit_price", limit_price)):
        if isinstance(value, float):
            raise TypeError(f"{name} must be a Decimal, str or int, not float ({value!r})")
    body: dict[str, Any] = {
        **options,
        "token_id": token_id,
        "exchange": exchange,
        "symbol": symbol,
        "side": side,
        "quantity": Decimal(str(quantity)),
        "limit_price": None if limit_price is None else Decimal(str(limit_price)),
    }
    return TwapRequest.model_validate(body)


# ----- the request flow (one loop for both clients) ----------------------------------------


@dataclass(frozen=True)
class Send:
    """Step: send this request; the driver answers with the response or the transport error."""

    method: str
    path: str
    params: Optional[dict[str, Union[str, int]]]
    json: Any
    form: Optional[dict[str, str]]
    headers: dict[str, str]


@dataclass(frozen=True)
class Sleep:
    """Step: wait this many seconds, then resume the flow with ``None``."""

    secs: float


@dataclass(frozen=True)
class RetryEvent:
    """Passed to ``on_retry`` before each retry."""

    method: str
    path: str
    attempt: int
    wait: float
    status: Optional[int]
    reason: str


Step = Union[Send, Sleep]
Reply = Union[httpx.Response, httpx.TransportError, None]
Flow = Generator[Step, Reply, T]


def _send(call: Call[Any], session: Session) -> Send:
    headers = {"authorization": f"Bearer {session.token}"} if call.auth and session.token else {}
    return Send(call.method, call.path, call.params, call.json, call.form, headers)


def flow(
    call: Call[T],
    session: Session,
    policy: RetryPolicy,
    on_retry: Optional[Callable[[RetryEvent], None]] = None,
) -> Flow[T]:
    """Run ``call`` to its decoded answer: log in when due, retry by ``policy``, re-login once
    on a 401, and raise :class:`ApiError` / :class:`TransportError` otherwise."""
    attempt = 0
    waited = 0.0
    relogged = False
    while True:
        if call.auth:
            if session.needs_login():
                yield from login(session, policy, on_retry)
            if session.token is None:
                raise NotLoggedIn("log in first: client.login(username, password)")
        reply = yield _send(call, session)
        status: Optional[int] = None
        retry_after: Optional[float] = None
        if isinstance(reply, httpx.Response):
            if reply.status_code in call.expect:
                return call.decode(reply)
            if reply.status_code == 401 and call.auth and not relogged and session.can_login():
                relogged = True
                session.token = None
                continue
            if reply.status_code not in policy.retry_statuses:
                raise problem(reply)
            status = reply.status_code
            retry_after = retry_after_secs(reply.headers.get("retry-after"))
            reason = f"HTTP {status}"
        else:
            reason = f"transport: {reply}"
        attempt += 1
        wait = policy.delay(attempt, waited, retry_after)
        if wait is None:
            if isinstance(reply, httpx.Response):
                raise problem(reply)
            raise TransportError(f"{call.method} {call.path}: {reply}") from reply
        event = RetryEvent(call.method, call.path, attempt, wait, status, reason)
        _log.info("retrying %s %s in %.2fs (%s)", call.method, call.path, wait, reason)
        if on_retry is not None:
            on_retry(event)
        waited += wait
        yield Sleep(wait)


def login(
    session: Session,
    policy: RetryPolicy,
    on_retry: Optional[Callable[[RetryEvent], None]] = None,
) -> Flow[None]:
    """Log in with the session's credentials and keep the token."""
    if session.username is None or session.password is None:
        raise NotLoggedIn("no credentials: call client.login(username, password)")
    got = yield from flow(token(session.username, session.password), session, policy, on_retry)
    session.store(got)


def check_base_url(base_url: str) -> str:
    """``http(s)://host[:port]`` without a trailing slash, or :class:`ValueError`."""
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"base URL must start with http:// or https://: {base_url!r}")
    return base


def ws_url(base_url: str) -> str:
    """The ``/ws`` URL of a server."""
    return "ws" + base_url[len("http") :] + "/ws"


def next_poll(poll: float, deadline: Optional[float], now: float) -> Optional[float]:
    """How long ``wait_for_final`` sleeps before the next read; ``None`` when out of time."""
    if deadline is not None and now >= deadline:
        return None
    wait = max(0.05, poll)
    if deadline is not None:
        wait = min(wait, deadline - now)
    return wait

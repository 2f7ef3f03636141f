"""The request flow without any network (it is sans-I/O): retries honour Retry-After within
the budget, 401 re-logs in once, failures become ApiError / TransportError."""

from __future__ import annotations

import email.utils
from typing import Any, Optional

import httpx
import pytest

from papertwap import ApiError, NotLoggedIn, RetryPolicy, Token, TransportError, _core
from papertwap._core import Flow, Send, Session, Sleep


def response(
    status: int, body: Any = None, headers: Optional[dict[str, str]] = None
) -> httpx.Response:
    r = httpx.Response(status, json=body, headers=headers or {})
    r.request = httpx.Request("GET", "http://test/x")
    return r


def problem(status: int, code: str, retry_after: Optional[str] = None) -> httpx.Response:
    headers = {"content-type": "application/problem+json", "x-request-id": "req-1"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    body = {
        "type": "about:blank",
        "title": "t",
        "status": status,
        "detail": f"{code}!",
        "code": code,
    }
    return response(status, body, headers)


class Script:
    """Drives a flow with scripted replies; records what it sent and how long it slept."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.sent: list[Send] = []
        self.slept: list[float] = []

    def run(self, flow: Flow[Any]) -> Any:
        reply: Any = None
        try:
            while True:
                step = flow.send(reply)
                if isinstance(step, Sleep):
                    self.slept.append(step.secs)
                    reply = None
                else:
                    self.sent.append(step)
                    reply = self.replies.pop(0)
        except StopIteration as stop:
            return stop.value


EXCHANGES: list[dict[str, Any]] = [
    {"id": "sim", "name": "Sim", "status": "connected", "symbols": 4}
]


def test_retry_after_seconds_is_honoured() -> None:
    s = Script(
        problem(429, "rate_limited", "2"),
        problem(503, "book_unavailable", "1"),
        response(200, EXCHANGES),
    )
    got = s.run(_core.flow(_core.exchanges(), Session(), RetryPolicy()))
    assert got[0].id == "sim"
    assert s.slept == [2.0, 1.0]
    assert len(s.sent) == 3


def test_retry_after_http_date_is_honoured() -> None:
    at = email.utils.formatdate(1_000_000_030, usegmt=True)
    assert _core.retry_after_secs(at, now=1_000_000_000) == pytest.approx(30)
    assert _core.retry_after_secs("soon") is None
    assert _core.retry_after_secs(None) is None
    assert _core.retry_after_secs("-3") == 0


def test_budget_is_bounded_in_count_and_time() -> None:
    # A wait longer than the budget is not started: the 429 comes back at once.
    s = Script(problem(429, "rate_limited", "60"))
    with pytest.raises(ApiError) as e:
        s.run(_core.flow(_core.exchanges(), Session(), RetryPolicy(max_wait=30)))
    assert (e.value.status, e.value.code, e.value.retry_after) == (429, "rate_limited", 60)
    assert s.slept == []
    # At most max_retries retries.
    s = Script(*[problem(503, "unavailable", "0") for _ in range(4)])
    with pytest.raises(ApiError):
        s.run(_core.flow(_core.exchanges(), Session(), RetryPolicy(max_retries=3)))
    assert len(s.sent) == 4 and s.slept == [0, 0, 0]
    # Without Retry-After: exponential backoff with jitter, capped.
    policy = RetryPolicy(backoff=1, backoff_max=4)
    waits = [policy.delay(n, 0, None) for n in range(1, 5)]
    for wait, base in zip(waits, [1, 2, 4, 4], strict=True):
        assert wait is not None
        assert 0.5 * base <= wait <= base


def test_other_errors_are_not_retried() -> None:
    s = Script(problem(400, "invalid_interval"))
    with pytest.raises(ApiError) as e:
        s.run(_core.flow(_core.exchanges(), Session(), RetryPolicy()))
    assert (e.value.status, e.value.code, e.value.detail, e.value.request_id) == (
        400, "invalid_interval", "invalid_interval!", "req-1",
    )  # fmt: skip
    assert s.slept == []
    # A body that is not a problem still becomes an ApiError.
    s = Script(httpx.Response(404, text="nope", request=httpx.Request("GET", "http://t/")))
    with pytest.raises(ApiError) as e:
        s.run(_core.flow(_core.exchanges(), Session(), RetryPolicy()))
    assert (e.value.status, e.value.code, e.value.detail) == (404, "http_error", "nope")


def test_transport_errors_are_retried_then_raised() -> None:
    boom = httpx.ConnectError("refused")
    s = Script(boom, response(200, EXCHANGES))
    assert s.run(_core.flow(_core.exchanges(), Session(), RetryPolicy(backoff=0.01)))[0].id == "sim"
    s = Script(boom, boom)
    with pytest.raises(TransportError):
        s.run(_core.flow(_core.exchanges(), Session(), RetryPolicy(max_retries=1, backoff=0.01)))


TOKEN = {"access_token": "fresh", "token_type": "bearer", "expires_in": 1800}


def test_login_when_due_and_once_after_401() -> None:
    session = Session(username="u", password="p")
    s = Script(response(200, TOKEN), response(200, []))
    s.run(_core.flow(_core.orders(None, None, None, None, None, None), session, RetryPolicy()))
    assert [x.path for x in s.sent] == ["/token", "/orders"]
    assert s.sent[0].form == {"username": "u", "password": "p", "grant_type": "password"}
    assert s.sent[1].headers["authorization"] == "Bearer fresh"

    # The server refuses the token (revoked): one re-login, then the call again.
    s = Script(problem(401, "invalid_token"), response(200, TOKEN), response(200, []))
    s.run(_core.flow(_core.orders(None, None, None, None, None, None), session, RetryPolicy()))
    assert [x.path for x in s.sent] == ["/orders", "/token", "/orders"]
    # Refused again after the re-login: the 401 is raised, no loop.
    s = Script(problem(401, "invalid_token"), response(200, TOKEN), problem(401, "invalid_token"))
    with pytest.raises(ApiError):
        s.run(_core.flow(_core.orders(None, None, None, None, None, None), session, RetryPolicy()))


def test_token_is_renewed_before_expiry() -> None:
    now = [0.0]
    session = Session(username="u", password="p", clock=lambda: now[0])
    session.store(Token(access_token="a", token_type="bearer", expires_in=1800))
    assert not session.needs_login()
    now[0] = 1800 - 181  # more than a tenth of the lifetime left
    assert not session.needs_login()
    now[0] = 1800 - 179
    assert session.needs_login()
    # Without credentials nothing can be renewed; with no token at all, calls refuse early.
    bare = Session()
    assert not bare.needs_login()
    with pytest.raises(NotLoggedIn):
        Script().run(_core.flow(_core.order("x"), bare, RetryPolicy()))


def test_paths_are_escaped() -> None:
    assert _core.order("a/b").path == "/orders/a%2Fb"
    assert _core.order_book("sim", "BTC/USDT", 5).path == "/orderbook/sim/BTC%2FUSDT"

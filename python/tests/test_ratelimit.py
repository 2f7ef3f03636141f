"""429 from a real server: the client waits what ``Retry-After`` says and succeeds; without a
budget the 429 comes back as an ApiError carrying ``retry_after``."""

from __future__ import annotations

import time

import pytest
from conftest import Server

from papertwap import NO_RETRY, ApiError, Client, RetryEvent, RetryPolicy


def test_429_is_retried_after_retry_after(tight_server: Server) -> None:
    events: list[RetryEvent] = []
    # 60 anonymous requests per minute: the 61st within the minute is refused.
    with Client(
        tight_server.url, retry=RetryPolicy(max_retries=5, max_wait=20), on_retry=events.append
    ) as c:
        started = time.monotonic()
        for _ in range(70):
            assert c.exchanges()[0].id
        took = time.monotonic() - started
    refused = [e for e in events if e.status == 429]
    assert refused, "the server never answered 429: the test does not test anything"
    # Each wait is the server's Retry-After (whole seconds, ≥ 1), not a guess.
    assert all(e.wait >= 1 and e.wait == int(e.wait) for e in refused)
    assert took >= sum(e.wait for e in refused)


def test_429_without_budget_is_an_api_error(tight_server: Server) -> None:
    def hammer(c: Client) -> None:
        for _ in range(200):
            c.exchanges()

    with Client(tight_server.url, retry=NO_RETRY) as c, pytest.raises(ApiError) as e:
        hammer(c)
    assert e.value.status == 429
    assert e.value.code == "rate_limited"
    assert e.value.retry_after is not None and e.value.retry_after >= 1

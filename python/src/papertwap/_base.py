"""What :class:`~papertwap.Client` and :class:`~papertwap.AsyncClient` share apart from I/O:
configuration, the session, and the flows they drive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional, TypeVar

from . import _core
from ._core import DEFAULT_RETRY, DEFAULT_URL, RetryEvent, RetryPolicy, Session
from ._version import __version__

T = TypeVar("T")

USER_AGENT = f"papertwap-python/{__version__}"
"""Sent with every request."""


class ClientBase:
    """Configuration and session of a client; the subclasses drive the flows over HTTP."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        on_retry: Optional[Callable[[RetryEvent], None]] = None,
        token: Optional[str] = None,
        _session: Optional[Session] = None,
    ) -> None:
        self.base_url = _core.check_base_url(base_url)
        """The server, ``http(s)://host[:port]``."""
        self.retry = retry
        """When failed requests are tried again."""
        self.on_retry = on_retry
        """Called before each retry (logging, metrics, tests)."""
        self.timeout = timeout
        """Seconds per request."""
        self._session = _session or Session(token=token)

    def _flow(self, call: _core.Call[T]) -> _core.Flow[T]:
        return _core.flow(call, self._session, self.retry, self.on_retry)

    def _login_flow(self, username: Optional[str], password: Optional[str]) -> _core.Flow[None]:
        if username is not None:
            self._session.username = username
            self._session.password = password
        return _core.login(self._session, self.retry, self.on_retry)

    def _token_due(self, force: bool) -> bool:
        return self._session.can_login() and (force or self._session.needs_login())

    def logout(self) -> None:
        """Forget the token and the credentials."""
        self._session.username = self._session.password = self._session.token = None

    def set_token(self, token: str) -> None:
        """Use a bearer token obtained elsewhere (not renewed: log in to have that)."""
        self._session.token = token

    @property
    def token(self) -> Optional[str]:
        """The current bearer token, if any."""
        return self._session.token

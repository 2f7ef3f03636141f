"""The SDK's exceptions: one base, and the server's problem+json as :class:`ApiError`."""

from __future__ import annotations

from typing import Optional


class PapertwapError(Exception):
    """Base of every error this SDK raises."""


class ApiError(PapertwapError):
    """The server answered with a problem (4xx/5xx).

    ``status`` is the HTTP status, ``code`` the problem's stable snake_case identifier (branch
    on it), ``detail`` the human sentence. ``retry_after`` is the server's ``Retry-After`` in
    seconds when it sent one; ``request_id`` its ``X-Request-Id`` (quote it in bug reports).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str = "",
        type: str = "about:blank",
        retry_after: Optional[float] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title
        self.type = type
        self.retry_after = retry_after
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"ApiError(status={self.status}, code={self.code!r}, detail={self.detail!r})"


class TransportError(PapertwapError):
    """The server could not be reached or the connection failed (after the retries)."""


class DecodeError(PapertwapError):
    """The answer was not what the API documents (a server/SDK version mismatch?)."""


class NotLoggedIn(PapertwapError):
    """An authenticated call before :meth:`Client.login` (or after :meth:`Client.logout`)."""


class Timeout(PapertwapError):
    """A wait helper (``wait_for_final``) ran out of time; the order is still open."""


__all__ = ["ApiError", "DecodeError", "NotLoggedIn", "PapertwapError", "Timeout", "TransportError"]

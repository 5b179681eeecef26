"""What both ``load_client`` implementations share: URL joining, the failure rule,
``catch_response`` and the request event.

The requests client (:mod:`pytest_loadtest.client`) and the geventhttpclient client
(:mod:`pytest_loadtest.fastclient`) differ in how they move bytes. What a task and the
stats see of a request's outcome is decided here, once, so switching ``--load-client``
changes no stats name, no failure and no ``catch_response`` behaviour.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import requests

from pytest_loadtest.errors import MissingHostError
from pytest_loadtest.measuring import is_interruption

if TYPE_CHECKING:
    from types import TracebackType

    from pytest_loadtest.events import Events

__all__ = [
    "CatchResponseError",
    "CatchResponseMixin",
    "ClientBase",
    "OutcomeMixin",
    "ResponseContextManager",
    "status_error",
]

_ABSOLUTE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")


class CatchResponseError(Exception):
    """The failure recorded by ``response.failure("message")``."""


class OutcomeMixin:
    """The outcome of a response, the same for both clients.

    ``error`` is ``None`` for a success, else the exception the request was recorded
    with: the transport error (then ``status_code == 0``), the ``HTTPError`` of a
    status >= 400, or what a ``catch_response`` block decided.
    """

    status_code: int
    reason: str
    url: str
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """``True`` for a status below 400, as in requests; ``False`` for a status-0 response."""
        return 0 < self.status_code < 400

    def __bool__(self) -> bool:
        """:attr:`ok`, as a requests response is true or false."""
        return self.ok

    def raise_for_status(self) -> None:
        """Raise the transport error of a status-0 response, or the ``HTTPError`` of a
        status >= 400 (even when ``catch_response`` forgave it, as requests does)."""
        if self.status_code == 0 and self.error is not None:
            raise self.error
        error = status_error(self)
        if error is not None:
            raise error


def status_error(response: OutcomeMixin) -> requests.HTTPError | None:
    """The failure of a response with a status >= 400, worded as requests words it.

    Every status from 400 up fails, 600 and above included (requests' own
    ``raise_for_status`` lets those pass).
    """
    status = response.status_code
    if status < 400:
        return None
    # requests keeps the reason phrase as the server sent it, bytes at times.
    reason = _text(cast("str | bytes", response.reason))
    kind = "Client" if status < 500 else "Server"
    return requests.HTTPError(
        f"{status} {kind} Error: {reason} for url: {response.url}",
        # Either client's response: ``error.response`` is what the task got back.
        response=cast("requests.Response", response),
    )


def _text(reason: str | bytes) -> str:
    if isinstance(reason, str):
        return reason
    # Some servers localise the reason phrase; requests decodes it the same way.
    try:
        return reason.decode("utf-8")
    except UnicodeDecodeError:
        return reason.decode("iso-8859-1")


class CatchResponseMixin(OutcomeMixin):
    """The response inside a ``catch_response=True`` block: the task decides its outcome."""

    _open = False

    def success(self) -> None:
        """Record the request as a success, whatever its status."""
        self._decide(None)

    def failure(self, message: str | BaseException) -> None:
        """Record the request as failed: with ``CatchResponseError(message)`` for a string."""
        self._decide(CatchResponseError(message) if isinstance(message, str) else message)

    def _decide(self, error: BaseException | None) -> None:
        if not self._open:
            raise RuntimeError(
                "success() and failure() only work inside the `with` block of a "
                "catch_response=True request: the request is recorded when the block ends"
            )
        self.error = error


C = TypeVar("C", bound=CatchResponseMixin)
R = TypeVar("R", bound=OutcomeMixin)


class ResponseContextManager(Generic[C]):
    """What a ``catch_response=True`` request returns; use it in a ``with`` statement.

    ``with client.get(url, catch_response=True) as response:`` gives the catching
    response; the request is recorded once, when the block ends: failed if the block
    raised (the exception propagates), else as ``success()`` or ``failure()`` decided,
    else by the usual status rule. Using the result as a response without ``with``
    raises an ``AttributeError`` that says so, and records nothing.
    """

    __slots__ = ("_catch", "_events", "_meta", "_response")

    def __init__(
        self, response: OutcomeMixin, catch: type[C], events: Events, meta: dict[str, Any]
    ) -> None:
        self._response = response
        self._catch = catch
        self._events = events
        self._meta = meta

    def __enter__(self) -> C:
        # Re-classed, not copied: the hook's ``response`` is the object the block saw.
        self._response.__class__ = self._catch
        response = cast("C", self._response)
        response._open = True
        return response

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        response = cast("C", self._response)
        response._open = False
        if exc is not None:
            if is_interruption(exc):
                return
            response.error = exc
        self._events.request(exception=response.error, **self._meta)

    if not TYPE_CHECKING:  # hidden from type checkers, which then flag the misuse themselves

        def __getattr__(self, attribute: str) -> Any:
            raise AttributeError(
                f"catch_response=True returns a context manager, not a response (asked for "
                f"{attribute!r}): write `with client.get(url, catch_response=True) as "
                "response:`; the request is recorded when the with block ends"
            )


class ClientBase:
    """The base URL and the reporting of a finished request, for both clients."""

    base_url: str | None
    _events: Events

    def absolute_url(self, url: str) -> str:
        """``url`` if absolute, else joined to the base URL with exactly one ``/``.

        Base ``http://h:1/api`` joins ``/items`` and ``items`` alike into
        ``http://h:1/api/items``; the empty URL is the base itself. Raises
        :class:`~pytest_loadtest.errors.MissingHostError` for a relative URL with no base.
        """
        if _ABSOLUTE.match(url):
            return url
        base = self.base_url
        if base is None:
            raise MissingHostError(url)
        if not url:
            return base
        return f"{base.rstrip('/')}/{url.removeprefix('/')}"

    def _report(
        self,
        response: R,
        catch: type[C],
        *,
        catch_response: bool,
        request_type: str,
        name: str,
        context: dict[str, Any] | None,
        response_time: float,
        response_length: int,
        start_time: float,
    ) -> R | ResponseContextManager[C]:
        """Fire the request event now, or hand it to the ``catch_response`` block."""
        if context is None:
            context = {}
        if catch_response:
            meta: dict[str, Any] = {
                "request_type": request_type,
                "name": name,
                "response_time": response_time,
                "response_length": response_length,
                "response": response,
                "context": context,
                "url": response.url,
                "start_time": start_time,
            }
            return ResponseContextManager(response, catch, self._events, meta)
        # Every request passes here: keywords, not ``meta`` spread, which costs about as
        # much again as the event itself.
        self._events.request(
            request_type=request_type,
            name=name,
            response_time=response_time,
            response_length=response_length,
            response=response,
            exception=response.error,
            context=context,
            url=response.url,
            start_time=start_time,
        )
        return response

"""The instrumented ``requests`` client behind ``load_client`` (``--load-client requests``).

One :class:`LoadClient` is one virtual user: its own cookies and connection pool. Every
request is timed and reported through :meth:`Events.request
<pytest_loadtest.events.Events.request>`; the client knows nothing of stats.

The rules are Locust's ``HttpSession``:

* a transport error (refused, reset, timeout, bad URL...) does not raise: the request
  returns a :class:`LoadResponse` with ``status_code == 0`` and the exception in ``.error``;
* a status >= 400 is a failure with the :class:`requests.HTTPError` that
  ``raise_for_status()`` raises;
* ``catch_response=True`` lets the task decide, in a ``with`` block, with
  ``response.success()`` and ``response.failure(msg)``.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import requests

from pytest_loadtest.errors import MissingHostError
from pytest_loadtest.measuring import is_interruption

if TYPE_CHECKING:
    from types import TracebackType

    from pytest_loadtest.events import Events

__all__ = [
    "CatchResponse",
    "CatchResponseError",
    "LoadClient",
    "LoadResponse",
    "ResponseContextManager",
]

_ABSOLUTE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")


class CatchResponseError(Exception):
    """The failure recorded by ``response.failure("message")``."""


class LoadResponse(requests.Response):
    """A :class:`requests.Response` that knows why its request failed.

    ``error`` is ``None`` for a success, else the exception the request was recorded
    with: the transport error (then ``status_code == 0``), the ``HTTPError`` of a
    status >= 400, or what a ``catch_response`` block decided.
    """

    error: BaseException | None = None  # a class default: successes are re-classed, not written

    @property
    def ok(self) -> bool:
        """``True`` for a status below 400, as in requests; ``False`` for a status-0 response."""
        return 0 < self.status_code < 400

    def raise_for_status(self) -> None:
        """Raise the transport error of a status-0 response, else as requests does."""
        if self.status_code == 0 and self.error is not None:
            raise self.error
        super().raise_for_status()


class CatchResponse(LoadResponse):
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


class ResponseContextManager:
    """What a ``catch_response=True`` request returns; use it in a ``with`` statement.

    ``with client.get(url, catch_response=True) as response:`` gives the
    :class:`CatchResponse`; the request is recorded once, when the block ends: failed if
    the block raised (the exception propagates), else as ``success()`` or ``failure()``
    decided, else by the usual status rule. Using the result as a response without
    ``with`` raises an ``AttributeError`` that says so, and records nothing.
    """

    __slots__ = ("_events", "_meta", "_response")

    def __init__(self, response: LoadResponse, events: Events, meta: dict[str, Any]) -> None:
        self._response = response
        self._events = events
        self._meta = meta

    def __enter__(self) -> CatchResponse:
        self._response.__class__ = CatchResponse
        response = cast("CatchResponse", self._response)
        response._open = True
        return response

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        response = cast("CatchResponse", self._response)
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


class LoadClient(requests.Session):
    """A :class:`requests.Session` that times and reports every request; one per virtual user.

    ``get``, ``post``, ``put``, ``patch``, ``delete``, ``head`` and ``options`` route
    through :meth:`request` and take its extra keywords.
    """

    def __init__(
        self, base_url: str | None, events: Events, *, user_agent: str | None = None
    ) -> None:
        super().__init__()
        # No proxies, netrc or CA bundle from the environment, and no per-request lookup
        # of them, which costs more than the rest of the client's overhead.
        self.trust_env = False
        self.base_url = base_url
        self._events = events
        if user_agent is not None:
            self.headers["User-Agent"] = user_agent

    def absolute_url(self, url: str) -> str:
        """``url`` if absolute, else joined to the base URL with exactly one ``/``.

        Base ``http://h:1/api`` joins ``/items`` and ``items`` alike into
        ``http://h:1/api/items``; the empty URL is the base itself.
        """
        if _ABSOLUTE.match(url):
            return url
        base = self.base_url
        if base is None:
            raise MissingHostError(url)
        if not url:
            return base
        return f"{base.rstrip('/')}/{url.removeprefix('/')}"

    if TYPE_CHECKING:
        # requests' own verbs, which call request(); declared so that a type checker takes
        # name=, catch_response= and context= (and either result) from them.
        def get(self, url: str | bytes, **kwargs: Any) -> Any: ...
        def options(self, url: str | bytes, **kwargs: Any) -> Any: ...
        def head(self, url: str | bytes, **kwargs: Any) -> Any: ...
        def post(
            self, url: str | bytes, data: Any = None, json: Any = None, **kwargs: Any
        ) -> Any: ...
        def put(self, url: str | bytes, data: Any = None, **kwargs: Any) -> Any: ...
        def patch(self, url: str | bytes, data: Any = None, **kwargs: Any) -> Any: ...
        def delete(self, url: str | bytes, **kwargs: Any) -> Any: ...

    @overload  # type: ignore[override]
    def request(
        self,
        method: str | bytes,
        url: str | bytes,
        *,
        name: str | None = ...,
        catch_response: Literal[False] = ...,
        context: dict[str, Any] | None = ...,
        **kwargs: Any,
    ) -> LoadResponse: ...

    @overload
    def request(
        self,
        method: str | bytes,
        url: str | bytes,
        *,
        name: str | None = ...,
        catch_response: Literal[True],
        context: dict[str, Any] | None = ...,
        **kwargs: Any,
    ) -> ResponseContextManager: ...

    def request(
        self,
        method: str | bytes,
        url: str | bytes,
        *,
        name: str | None = None,
        catch_response: bool = False,
        context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> LoadResponse | ResponseContextManager:
        """Send a request (as :meth:`requests.Session.request`), time it and report it.

        ``name`` is the stats entry (default: ``url`` as given, query string included);
        ``context`` is handed to the request hooks; ``catch_response=True`` returns a
        :class:`ResponseContextManager`. The request options of ``requests`` go in
        ``kwargs``. Never raises for a transport error; raises
        :class:`~pytest_loadtest.errors.MissingHostError` for a relative URL with no base.
        """
        method = method.decode() if isinstance(method, bytes) else method
        url = url.decode() if isinstance(url, bytes) else url
        target = self.absolute_url(url)
        start_time = time.time()
        start = time.perf_counter()
        try:
            received = super().request(method, target, **kwargs)
        except requests.RequestException as exc:
            response_time = (time.perf_counter() - start) * 1000
            response = _transport_failure(exc, target)
            response_length = 0
        else:
            response_time = (time.perf_counter() - start) * 1000
            response = _classify(received)
            response_length = _length(response, streamed=bool(kwargs.get("stream")))
        meta: dict[str, Any] = {
            "request_type": method.upper(),
            "name": url if name is None else name,
            "response_time": response_time,
            "response_length": response_length,
            "response": response,
            "context": {} if context is None else context,
            "url": response.url,
            "start_time": start_time,
        }
        if catch_response:
            return ResponseContextManager(response, self._events, meta)
        self._events.request(exception=response.error, **meta)
        return response


def _classify(response: requests.Response) -> LoadResponse:
    """Re-class ``response`` in place and attach the ``HTTPError`` of a status >= 400."""
    response.__class__ = LoadResponse
    loaded = cast("LoadResponse", response)
    if loaded.status_code >= 400:
        try:
            loaded.raise_for_status()
        except requests.HTTPError as exc:
            loaded.error = exc
    return loaded


def _length(response: LoadResponse, *, streamed: bool) -> int:
    """The body size; for a streamed body (not read yet), what its headers announce."""
    if streamed:
        return int(response.headers.get("Content-Length") or 0)
    return len(response.content or b"")


def _transport_failure(exc: requests.RequestException, url: str) -> LoadResponse:
    """The status-0 response that stands for a request the transport could not complete."""
    response = LoadResponse()
    response.status_code = 0
    response.error = exc
    response._content = b""
    # The last URL tried (a redirect may have led there), once requests had prepared it.
    prepared = exc.request
    if isinstance(prepared, requests.PreparedRequest) and prepared.url:
        response.request = prepared
        response.url = prepared.url
    else:
        response.url = url
    return response

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

import time
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import requests

from pytest_loadtest._clientbase import (
    CatchResponseError,
    CatchResponseMixin,
    ClientBase,
    OutcomeMixin,
    ResponseContextManager,
    status_error,
)

if TYPE_CHECKING:
    from pytest_loadtest.events import Events

__all__ = [
    "CatchResponse",
    "CatchResponseError",
    "LoadClient",
    "LoadResponse",
    "ResponseContextManager",
]


class LoadResponse(OutcomeMixin, requests.Response):
    """A :class:`requests.Response` that knows why its request failed.

    ``error`` is ``None`` for a success, else the exception the request was recorded
    with: the transport error (then ``status_code == 0``), the ``HTTPError`` of a
    status >= 400, or what a ``catch_response`` block decided.
    """


class CatchResponse(CatchResponseMixin, LoadResponse):
    """The response inside a ``catch_response=True`` block: the task decides its outcome."""


class LoadClient(ClientBase, requests.Session):
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
    ) -> ResponseContextManager[CatchResponse]: ...

    def request(
        self,
        method: str | bytes,
        url: str | bytes,
        *,
        name: str | None = None,
        catch_response: bool = False,
        context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> LoadResponse | ResponseContextManager[CatchResponse]:
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
        return self._report(
            response,
            CatchResponse,
            catch_response=catch_response,
            request_type=method.upper(),
            name=url if name is None else name,
            context=context,
            response_time=response_time,
            response_length=response_length,
            start_time=start_time,
        )


def _classify(response: requests.Response) -> LoadResponse:
    """Re-class ``response`` in place and attach the ``HTTPError`` of a status >= 400."""
    response.__class__ = LoadResponse
    loaded = cast("LoadResponse", response)
    loaded.error = status_error(loaded)
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

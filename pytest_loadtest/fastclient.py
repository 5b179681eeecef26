"""The instrumented geventhttpclient client behind ``load_client`` (``--load-client fast``).

One :class:`FastLoadClient` is one virtual user, as with the requests client: its own
cookie jar and its own keep-alive connections, one pool per ``scheme://host:port``.
It reports every request through :meth:`Events.request
<pytest_loadtest.events.Events.request>` and follows the same rules, from the same code
(:mod:`pytest_loadtest._clientbase`): stats names, URL joining, ``MissingHostError``, the
failure rule (a transport error gives status 0 and ``.error`` without raising; a status
>= 400 fails with a :class:`requests.HTTPError`), ``catch_response``. Transport errors
are requests' exception types (``ConnectionError``, ``Timeout``, ``SSLError``,
``InvalidURL``, ``InvalidSchema``, ``TooManyRedirects``...), the geventhttpclient or
socket error as their ``__cause__``, so a task's error handling works with either client.

It writes HTTP/1.1 requests itself, on geventhttpclient's keep-alive connection pools
and C response parser, without its ``HTTPClient``/``UserAgent`` layer: that layer costs
more per request, and it resends an idempotent request whose connection closed up to
pool size + 1 times, so that one recorded GET could reach a failing server many times.
Here each request is sent once (an idle kept-alive connection the server closed is
noticed before it is used, as urllib3 does).

Differences from ``--load-client requests``:

* Not a :class:`requests.Session`: no ``mount``, adapters, ``proxies``, ``trust_env``,
  ``.netrc`` or environment proxies (``HTTP_PROXY`` is ignored, as with the requests
  client), no event hooks of requests. ``headers`` (a case-insensitive dict sent with every
  request), ``cookies`` (a :class:`requests.cookies.RequestsCookieJar`), ``max_redirects``,
  ``base_url``, ``close()`` and ``with`` work as on a session.
* ``request()`` takes ``params``, ``data`` (bytes, str sent as UTF-8, or a dict / list
  of pairs sent as a form), ``json``, ``headers`` (a ``None`` value drops a default),
  ``cookies``, ``auth`` (a ``(user, password)`` tuple), ``timeout`` and
  ``allow_redirects``. Anything else (``stream``, ``files``, ``verify``, ``cert``,
  ``proxies``, ``hooks``...) raises a ``TypeError`` that says so.
* ``timeout`` is one number of seconds for the whole request, redirects included, not
  requests' per-socket-operation connect/read pair. Without it, the client's
  ``connection_timeout`` and ``network_timeout`` (60 s each) bound every connect and read;
  the requests client has no default timeout.
* Redirects (301, 302, 303, 307, 308) are followed as requests follows them: for every
  method except ``head()``, up to ``max_redirects`` (30); 301 POST, 302 and 303 become a
  GET without body, 307 and 308 keep method and body; ``Authorization`` is dropped when
  the host (or scheme or port, except http to https) changes; each hop's cookies are
  stored. One request is recorded, timed over the whole chain, with the final URL and
  the redirect responses in ``response.history``.
* TLS certificates are checked against certifi's bundle, as with the requests client;
  ``FastLoadClient(..., insecure=True)`` turns the check off for the client.
* The response is a :class:`FastResponse`: ``status_code``, ``reason``, ``headers``,
  ``content`` (always read, gzip and deflate decoded), ``text``, ``json()``,
  ``encoding``, ``url``, ``history``, ``ok``, ``error``, ``raise_for_status()``; no
  ``raw``, ``iter_content``, ``elapsed``, ``cookies``, ``links`` or ``request``. ``text``
  without a charset decodes as UTF-8 (ISO-8859-1 for ``text/*``) and never guesses.
* ``Accept-Encoding`` is ``gzip, deflate`` (no brotli or zstd); the default
  ``User-Agent`` is geventhttpclient's.
"""

from __future__ import annotations

import contextlib
import functools
import json as jsonlib
import re
import ssl
import time
import urllib.request
import zlib
from base64 import b64encode
from collections.abc import Iterable, Mapping
from http.cookiejar import CookieJar
from typing import TYPE_CHECKING, Any, Literal, cast, overload
from urllib.parse import SplitResult, urlencode, urljoin, urlsplit

import certifi
import gevent
import gevent.ssl
import requests
from geventhttpclient.client import HTTPClient
from geventhttpclient.connectionpool import ConnectionPool, SSLConnectionPool
from geventhttpclient.response import HTTPParseError, HTTPSocketPoolResponse
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers, requote_uri

from pytest_loadtest._clientbase import (
    CatchResponseMixin,
    ClientBase,
    OutcomeMixin,
    ResponseContextManager,
    status_error,
)

if TYPE_CHECKING:
    from geventhttpclient.header import Headers

    from pytest_loadtest.events import Events

__all__ = ["FastCatchResponse", "FastLoadClient", "FastResponse"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_BODYLESS = frozenset(("GET", "HEAD"))
# A URL made of these needs no requoting (requote_uri would return it unchanged).
_PLAIN_URL = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*")
# Header names are tokens; values hold no CR, LF or NUL (RFC 9110 5.1, 5.5). Checked all
# names in one pass and all lines in another: on every request that has headers of its
# own, and once per change of the client's headers for the others.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_NAMES = re.compile(rf"{_TOKEN}(?: {_TOKEN})*")
_LINES = re.compile(r"(?:[^\r\n\x00]*\r\n)*")
_VALUE = re.compile(r"[^\r\n\x00]*")
# Fewer reads for a large body; for small ones no cost could be measured.
_BLOCK_SIZE = 64 * 1024
_USER_AGENT = str(HTTPClient.DEFAULT_HEADERS["User-Agent"])
_SUPPORTED = (
    "name, catch_response, context, params, data, json, headers, cookies, auth, "
    "timeout, allow_redirects"
)
_HINTS = {
    "stream": "the body is always read before the request is recorded",
    "files": "there are no multipart uploads; build the body and pass data=",
    "verify": "certificates are checked per client: FastLoadClient(..., insecure=True)",
    "cert": "there are no client certificates",
    "proxies": "there are no proxies",
    "hooks": "implement the pytest_loadtest_request hook instead",
}
#: What a request that could not complete raises below the client; it becomes status 0.
_TRANSPORT_ERRORS = (requests.RequestException, OSError, HTTPParseError, zlib.error)


class FastResponse(OutcomeMixin):
    """A response of :class:`FastLoadClient`: the body already read (and decoded).

    It offers the part of :class:`requests.Response` that load tests use; see the module
    docstring. A status-0 response (the transport failed) has an empty body and headers,
    and its ``url`` is the last URL tried.
    """

    def __init__(
        self,
        url: str,
        status_code: int = 0,
        reason: str = "",
        headers: Headers | None = None,
        content: bytes = b"",
    ) -> None:
        self.url = url
        self.status_code = status_code
        self.reason = reason
        self.content = content
        #: The redirect responses that led here, oldest first.
        self.history: list[FastResponse] = []
        self._raw_headers = headers
        self._headers: CaseInsensitiveDict[str] | None = None
        self._encoding: str | None = None

    @property
    def headers(self) -> CaseInsensitiveDict[str]:
        """The headers, case-insensitive; a repeated header's values joined by ``", "``."""
        if self._headers is None:  # built on first use: most tasks never look
            raw = self._raw_headers
            self._headers = CaseInsensitiveDict(raw.itermerged() if raw is not None else ())
        return self._headers

    @property
    def encoding(self) -> str:
        """The charset that ``text`` decodes with: the ``Content-Type`` one, else UTF-8
        (ISO-8859-1 for ``text/*``, as requests reads RFC 2616). Assignable."""
        if self._encoding is None:
            self._encoding = get_encoding_from_headers(self.headers) or "utf-8"
        return self._encoding

    @encoding.setter
    def encoding(self, value: str) -> None:
        self._encoding = value

    @property
    def text(self) -> str:
        """The body decoded with :attr:`encoding`, undecodable bytes replaced."""
        if not self.content:
            return ""
        try:
            return self.content.decode(self.encoding, errors="replace")
        except LookupError:  # an unknown charset name
            return self.content.decode(errors="replace")

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON; raises :class:`requests.JSONDecodeError` as requests does."""
        try:
            return jsonlib.loads(self.content, **kwargs)
        except jsonlib.JSONDecodeError as exc:
            raise requests.JSONDecodeError(exc.msg, exc.doc, exc.pos) from exc

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.status_code}]>"


class FastCatchResponse(CatchResponseMixin, FastResponse):
    """The response inside a ``catch_response=True`` block: the task decides its outcome."""


class _ClientHeaders(CaseInsensitiveDict[str]):
    """The client's ``headers``: a case-insensitive dict that counts its changes, so that
    the header block made of it is built and checked again only after one."""

    version = 0

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.version += 1


class _HeaderBlock:
    """The client's headers as a request without headers of its own sends them."""

    __slots__ = ("fields", "lines", "source", "version")

    def __init__(self, source: Mapping[str, Any], version: int | None) -> None:
        self.source = source
        #: The ``_ClientHeaders.version`` this block was made at; ``None`` for another
        #: mapping assigned to ``client.headers``, whose changes cannot be seen.
        self.version = version
        fields = {key.lower(): (key, value) for key, value in source.items()}
        # The length is the body's own, on every hop (as requests sets it).
        fields.pop("content-length", None)
        #: Shared by the requests that send the block: copied before any change.
        self.fields = fields
        #: The header lines, checked; ``None`` if a header is invalid.
        self.lines = _lines(fields)


class _Request:
    """A request on its way through its redirects: what each hop sends."""

    __slots__ = ("body", "fields", "jar", "lines", "method", "url")

    def __init__(
        self,
        method: str,
        url: str,
        fields: dict[str, tuple[str, str]],
        lines: str | None,
        body: bytes | None,
        jar: RequestsCookieJar,
    ) -> None:
        self.method = method
        self.url = url
        #: Header lines by lower-cased name: ``(name as given, value)``.
        self.fields = fields
        #: ``fields`` as checked header lines, or ``None`` when not made yet.
        self.lines = lines
        self.body = body
        self.jar = jar

    def redirect(self, response: FastResponse, location: str) -> None:
        """Point at ``location`` and change method, body and headers as requests does."""
        # Headers arrive as latin-1; a Location is UTF-8 more often than not.
        with contextlib.suppress(UnicodeError):
            location = location.encode("latin-1").decode("utf-8")
        if location.startswith("//"):
            location = f"{urlsplit(self.url).scheme}:{location}"
        target = _requote(location if urlsplit(location).netloc else urljoin(self.url, location))
        status = response.status_code
        if (status in (302, 303) and self.method != "HEAD") or (
            status == 301 and self.method == "POST"
        ):
            self.method = "GET"
        fields = self.fields = dict(self.fields)  # it may be the client's shared block
        self.lines = None
        if status not in (307, 308):
            self.body = None
            fields.pop("content-type", None)
            fields.pop("transfer-encoding", None)
        fields.pop("cookie", None)  # the jar's cookies for the new URL replace it
        if _leaves_origin(self.url, target):
            fields.pop("authorization", None)
        self.url = target


class FastLoadClient(ClientBase):
    """An instrumented geventhttpclient client; one per virtual user.

    ``connection_timeout`` and ``network_timeout`` bound each connect and each read
    (seconds); ``concurrency`` is how many connections the client may open to one host
    at a time (requests from greenlets of one user beyond it wait their turn);
    ``insecure=True`` skips the TLS certificate check.
    """

    def __init__(
        self,
        base_url: str | None,
        events: Events,
        *,
        user_agent: str | None = None,
        connection_timeout: float = 60.0,
        network_timeout: float = 60.0,
        concurrency: int = 10,
        insecure: bool = False,
        max_redirects: int = 30,
    ) -> None:
        self.base_url = base_url
        self._events = events
        #: Sent with every request; per-request ``headers`` override them.
        self.headers: CaseInsensitiveDict[str] = _ClientHeaders(
            {
                "User-Agent": user_agent or _USER_AGENT,
                "Accept-Encoding": "gzip, deflate",
                "Accept": "*/*",
                "Connection": "keep-alive",
            }
        )
        self._block: _HeaderBlock | None = None
        self.cookies = RequestsCookieJar()
        self.max_redirects = max_redirects
        self._pool_options: dict[str, Any] = {
            "size": concurrency,
            "connection_timeout": connection_timeout,
            "network_timeout": network_timeout,
        }
        self._insecure = insecure
        self._origins: dict[tuple[str, str], tuple[ConnectionPool, str]] = {}

    def close(self) -> None:
        """Close every kept-alive connection; the client opens new ones if used again."""
        origins, self._origins = self._origins, {}
        for pool, _host in origins.values():
            pool.close()

    def __enter__(self) -> FastLoadClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @overload
    def request(
        self,
        method: str | bytes,
        url: str | bytes,
        *,
        name: str | None = ...,
        catch_response: Literal[False] = ...,
        context: dict[str, Any] | None = ...,
        **kwargs: Any,
    ) -> FastResponse: ...

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
    ) -> ResponseContextManager[FastCatchResponse]: ...

    def request(
        self,
        method: str | bytes,
        url: str | bytes,
        *,
        name: str | None = None,
        catch_response: bool = False,
        context: dict[str, Any] | None = None,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | str | bytes | None = None,
        data: Any = None,
        json: Any = None,
        headers: Mapping[str, str | bytes | None] | None = None,
        cookies: Mapping[str, str] | CookieJar | None = None,
        auth: tuple[str | bytes, str | bytes] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = True,
        **unsupported: Any,
    ) -> FastResponse | ResponseContextManager[FastCatchResponse]:
        """Send a request, time it and report it.

        ``name`` is the stats entry (default: ``url`` as given, query string included);
        ``context`` is handed to the request hooks; ``catch_response=True`` returns a
        :class:`~pytest_loadtest._clientbase.ResponseContextManager`. Never raises for a
        transport error; raises :class:`~pytest_loadtest.errors.MissingHostError` for a
        relative URL with no base, and ``TypeError`` for an argument it does not take.
        """
        if unsupported:
            raise TypeError(_refusal(unsupported))
        method = (method.decode() if isinstance(method, bytes) else method).upper()
        url = url.decode() if isinstance(url, bytes) else url
        target = self.absolute_url(url)
        deadline = _deadline(timeout)
        start_time = time.time()
        start = time.perf_counter()
        request = None
        try:
            request = self._prepare(method, target, params, data, json, headers, cookies, auth)
            response = self._send(request, deadline, allow_redirects)
        except _TRANSPORT_ERRORS as exc:
            last = target if request is None else request.url
            response = FastResponse(last)
            response.error = _as_request_error(exc, last)
        else:
            response.error = status_error(response)
        return self._report(
            response,
            FastCatchResponse,
            catch_response=catch_response,
            request_type=method,
            name=url if name is None else name,
            context=context,
            response_time=(time.perf_counter() - start) * 1000,
            response_length=len(response.content),
            start_time=start_time,
        )

    def get(self, url: str | bytes, **kwargs: Any) -> Any:
        """Send a GET; see :meth:`request`."""
        return self.request("GET", url, **kwargs)

    def options(self, url: str | bytes, **kwargs: Any) -> Any:
        """Send an OPTIONS; see :meth:`request`."""
        return self.request("OPTIONS", url, **kwargs)

    def head(self, url: str | bytes, **kwargs: Any) -> Any:
        """Send a HEAD, not following redirects unless told (as requests does)."""
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str | bytes, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
        """Send a POST; see :meth:`request`."""
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str | bytes, data: Any = None, **kwargs: Any) -> Any:
        """Send a PUT; see :meth:`request`."""
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str | bytes, data: Any = None, **kwargs: Any) -> Any:
        """Send a PATCH; see :meth:`request`."""
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str | bytes, **kwargs: Any) -> Any:
        """Send a DELETE; see :meth:`request`."""
        return self.request("DELETE", url, **kwargs)

    def _prepare(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | str | bytes | None,
        data: Any,
        json: Any,
        headers: Mapping[str, str | bytes | None] | None,
        cookies: Mapping[str, str] | CookieJar | None,
        auth: tuple[str | bytes, str | bytes] | None,
    ) -> _Request:
        if params:
            url = _with_params(url, params)
        body, content_type = _body(data, json)
        block = self._header_block()
        fields, lines = block.fields, block.lines
        if headers or content_type is not None or auth is not None:
            fields, lines = dict(fields), None
            for key, value in (headers or {}).items():
                if value is None:
                    fields.pop(key.lower(), None)
                else:
                    fields[key.lower()] = (key, _header_value(key, value))
            fields.pop("content-length", None)  # as in the block
            if content_type is not None:
                fields.setdefault("content-type", ("Content-Type", content_type))
            if auth is not None:
                fields["authorization"] = ("Authorization", _basic_auth(auth))
        jar = self.cookies
        if cookies:
            jar = _merged(self.cookies, cookies)
        return _Request(method, _requote(url), fields, lines, body, jar)

    def _header_block(self) -> _HeaderBlock:
        """The block of ``self.headers``, made again only if they changed since."""
        headers = self.headers
        # Another mapping assigned to ``client.headers`` counts no changes: made every time.
        version = headers.version if isinstance(headers, _ClientHeaders) else None
        block = self._block
        if (
            block is not None
            and version is not None
            and block.source is headers
            and block.version == version
        ):
            return block
        block = self._block = _HeaderBlock(headers, version)
        return block

    def _send(
        self, request: _Request, deadline: float | None, allow_redirects: bool
    ) -> FastResponse:
        """The final response, through the redirects, within ``deadline`` seconds if set."""
        timer = None
        if deadline is not None:
            # Raised in this greenlet wherever it waits; geventhttpclient then closes
            # the connection it was using, as for any socket error.
            timer = gevent.Timeout.start_new(
                deadline, TimeoutError(f"no complete response within {deadline:g} s")
            )
        try:
            response = self._exchange(request)
            history: list[FastResponse] = []
            while allow_redirects and response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    break
                if len(history) >= self.max_redirects:
                    raise requests.TooManyRedirects(f"Exceeded {self.max_redirects} redirects.")
                history.append(response)
                request.redirect(response, location)
                response = self._exchange(request)
            if history:
                response.history = history
            return response
        finally:
            if timer is not None:
                timer.close()

    def _exchange(self, request: _Request) -> FastResponse:
        """One request and its response, on a kept-alive connection when there is one."""
        url = request.url
        parts = urlsplit(url)
        pool, host = self._origin(parts, url)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        fields = request.fields
        lines = request.lines
        if lines is None:
            lines = _lines(fields)
            if lines is None:
                raise _invalid_header(fields)
        if "host" in fields:
            host = ""
        # Not ``if jar``: that counts the cookies, one by one. A jar with no domain
        # holds none; one with a domain may hold none for this URL (the line is empty).
        if "cookie" not in fields and getattr(request.jar, "_cookies", True):
            lines += _cookie_line(request.jar, url)
        body = request.body
        if body is not None:
            lines += f"Content-Length: {len(body)}\r\n"
        elif request.method not in _BODYLESS:
            lines += "Content-Length: 0\r\n"
        head = f"{request.method} {target} HTTP/1.1\r\n{host}{lines}\r\n".encode("latin-1")
        sock = pool.get_socket()
        try:
            sock.sendall(head + body if body else head)
        except BaseException:
            pool.release_socket(sock)
            raise
        raw = HTTPSocketPoolResponse(sock, pool, method=request.method, block_size=_BLOCK_SIZE)
        content = raw.read()
        headers = raw.info()
        if "set-cookie" in headers:
            self._store_cookies(request, headers)
        # Not get(): Headers.get raises and catches a KeyError for an absent header.
        if content and "content-encoding" in headers:
            coding = headers["content-encoding"]
            if isinstance(coding, str):
                content = _decoded(content, coding)
        return FastResponse(url, raw.status_code, raw.status_message or "", headers, content)

    def _store_cookies(self, request: _Request, headers: Headers) -> None:
        """Keep the response's cookies: in the client's jar, and in the request's own
        (a ``cookies=`` merge) so that the next redirect hop sends them."""
        source = cast("Any", _CookieSource(headers))
        probe = urllib.request.Request(request.url)
        self.cookies.extract_cookies(source, probe)
        if request.jar is not self.cookies:
            request.jar.extract_cookies(source, probe)

    def _origin(self, parts: SplitResult, url: str) -> tuple[ConnectionPool, str]:
        """The connection pool of ``scheme://host:port`` and the ``Host`` line for it."""
        key = (parts.scheme, parts.netloc)
        known = self._origins.get(key)
        if known is None:
            known = self._origins[key] = self._open(parts, url)
        return known

    def _open(self, parts: SplitResult, url: str) -> tuple[ConnectionPool, str]:
        scheme = parts.scheme
        if scheme not in _DEFAULT_PORTS:
            raise requests.exceptions.InvalidSchema(
                f"No connection adapters were found for {url!r}"
            )
        if "@" in parts.netloc:
            raise requests.exceptions.InvalidURL(
                f"Invalid URL {url!r}: credentials in the URL are not supported by "
                "--load-client fast; pass auth=(user, password)"
            )
        try:
            host, port = parts.hostname, parts.port
        except ValueError as exc:
            raise requests.exceptions.InvalidURL(f"Invalid URL {url!r}: {exc}") from None
        if not host:
            raise requests.exceptions.InvalidURL(f"Invalid URL {url!r}: No host supplied")
        default = _DEFAULT_PORTS[scheme]
        port = default if port is None else port
        shown = f"[{host}]" if ":" in host else host
        line = f"Host: {shown}\r\n" if port == default else f"Host: {shown}:{port}\r\n"
        if scheme == "http":
            return ConnectionPool(host, port, host, port, **self._pool_options), line
        insecure = self._insecure
        pool = SSLConnectionPool(
            host,
            port,
            host,
            port,
            insecure=insecure,
            ssl_context_factory=lambda **_: _ssl_context(insecure),
            **self._pool_options,
        )
        return pool, line


class _CookieSource:
    """What :meth:`http.cookiejar.CookieJar.extract_cookies` reads of a response."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def info(self) -> Headers:
        return self._headers


def _merged(jar: RequestsCookieJar, cookies: Mapping[str, str] | CookieJar) -> RequestsCookieJar:
    """The client's cookies plus a request's ``cookies=``, merged as requests merges them
    (a name the server set stays, beside the request's cookie of no domain)."""
    merged = jar.copy()
    if isinstance(cookies, CookieJar):
        merged.update(cookies)
    else:
        for name, value in cookies.items():
            merged.set(name, value)
    return merged


def _cookie_line(jar: CookieJar, url: str) -> str:
    """The ``Cookie`` line the jar holds for ``url`` (empty if none applies)."""
    probe = urllib.request.Request(url)
    jar.add_cookie_header(probe)
    cookie = probe.get_header("Cookie")
    return f"Cookie: {cookie}\r\n" if cookie else ""


@functools.cache
def _ssl_context(insecure: bool) -> Any:
    """One TLS context for every pool: loading the CA bundle costs milliseconds."""
    if not insecure:
        return gevent.ssl.create_default_context(cafile=certifi.where())
    context = gevent.ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = gevent.ssl.CERT_NONE
    return context


def _refusal(unsupported: Mapping[str, Any]) -> str:
    names = sorted(unsupported)
    hints = "".join(f"; {name}: {_HINTS[name]}" for name in names if name in _HINTS)
    return (
        f"FastLoadClient.request() does not take {', '.join(names)} (--load-client fast"
        f"{hints}); it takes {_SUPPORTED}"
    )


def _deadline(timeout: object) -> float | None:
    """``timeout`` checked: one positive number of seconds, or None."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout={timeout!r}: --load-client fast takes one number of seconds for the "
            "whole request (no (connect, read) pair)"
        )
    if timeout <= 0:
        raise ValueError(f"timeout={timeout!r}: must be more than 0 seconds")
    return float(timeout)


def _requote(url: str) -> str:
    """The URL as requests sends it: unsafe characters percent-encoded."""
    return url if _PLAIN_URL.fullmatch(url) else requote_uri(url)


def _pairs(value: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> str:
    """Form-encode a dict or pairs as requests does: list values repeat the key, ``None``
    values are left out."""
    items = value.items() if isinstance(value, Mapping) else value
    pairs: list[tuple[Any, Any]] = []
    for key, values in items:
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        pairs.extend((key, item) for item in values if item is not None)
    return urlencode(pairs)


def _with_params(
    url: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] | str | bytes
) -> str:
    if isinstance(params, bytes):
        params = params.decode()
    encoded = params if isinstance(params, str) else _pairs(params)
    if not encoded:
        return url
    parts = urlsplit(url)
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return parts._replace(query=query).geturl()


def _body(data: Any, json: Any) -> tuple[bytes | None, str | None]:
    """The body and the ``Content-Type`` it implies (``data`` wins over ``json``)."""
    if data:
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data), None
        if isinstance(data, str):
            return data.encode(), None
        if isinstance(data, (Mapping, list, tuple)):
            return _pairs(data).encode(), "application/x-www-form-urlencoded"
        raise TypeError(
            f"data={type(data).__name__}: --load-client fast takes bytes, str, a dict or a "
            "list of (key, value) pairs (no file objects or iterators)"
        )
    if json is None:
        return None, None
    try:
        text = jsonlib.dumps(json, allow_nan=False)
    except ValueError as exc:
        raise requests.exceptions.InvalidJSONError(exc) from exc
    return text.encode(), "application/json"


def _header_value(key: str, value: str | bytes) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise requests.exceptions.InvalidHeader(
        f"Header {key!r}: the value must be str or bytes, not {type(value).__name__}"
    )


def _lines(fields: dict[str, tuple[str, str]]) -> str | None:
    """The header lines of ``fields``, or ``None`` if a name or a value is invalid."""
    if not fields:  # every header dropped: a request line and Host are enough
        return ""
    lines = "".join([f"{key}: {value}\r\n" for key, value in fields.values()])
    if (
        _NAMES.fullmatch(" ".join(fields))
        and _LINES.fullmatch(lines)
        and lines.count("\n") == len(fields)  # no line break inside a value
    ):
        return lines
    return None


def _invalid_header(fields: dict[str, tuple[str, str]]) -> requests.exceptions.InvalidHeader:
    """The error that names the header the one-pass checks refused."""
    for key, value in fields.values():
        if not (_NAMES.fullmatch(key) and _VALUE.fullmatch(value)):
            return requests.exceptions.InvalidHeader(f"Invalid header {key!r}: {value!r}")
    return requests.exceptions.InvalidHeader(f"Invalid headers: {fields!r}")


def _basic_auth(auth: object) -> str:
    if not (isinstance(auth, tuple) and len(auth) == 2):
        raise TypeError("auth=: --load-client fast takes a (user, password) tuple for basic auth")
    user, password = (part.encode("latin-1") if isinstance(part, str) else part for part in auth)
    return "Basic " + b64encode(b":".join((user, password))).decode("ascii")


def _decoded(content: bytes, coding: str) -> bytes:
    """Undo a gzip or deflate ``Content-Encoding``; any other is left as sent."""
    coding = coding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        return zlib.decompress(content, 16 + zlib.MAX_WBITS)
    if coding == "deflate":
        try:
            return zlib.decompress(content)
        except zlib.error:  # raw deflate, without the zlib wrapper
            return zlib.decompress(content, -zlib.MAX_WBITS)
    return content


def _leaves_origin(old: str, new: str) -> bool:
    """Whether a redirect from ``old`` to ``new`` drops ``Authorization`` (requests' rule)."""
    before, after = urlsplit(old), urlsplit(new)
    try:
        if before.hostname != after.hostname:
            return True
        was = (before.scheme, before.port or _DEFAULT_PORTS.get(before.scheme))
        now = (after.scheme, after.port or _DEFAULT_PORTS.get(after.scheme))
    except ValueError:  # a bad port: the next hop fails anyway
        return True
    return was != now and (was, now) != (("http", 80), ("https", 443))


def _as_request_error(exc: BaseException, url: str) -> requests.RequestException:
    """The requests exception a transport error maps to, the original as its cause."""
    if isinstance(exc, requests.RequestException):
        return exc
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    message = f"{type(exc).__name__}: {exc} ({origin})"
    error: requests.RequestException
    if isinstance(exc, TimeoutError):
        error = requests.Timeout(message)
    elif isinstance(exc, zlib.error):
        error = requests.exceptions.ContentDecodingError(message)
    elif isinstance(exc, ssl.SSLError):
        error = requests.exceptions.SSLError(message)
    else:
        error = requests.ConnectionError(message)
    error.__cause__ = exc
    return error

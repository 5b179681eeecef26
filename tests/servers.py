"""A small HTTP server on 127.0.0.1, and a recording event listener, for the test suite.

:class:`LoopbackServer` runs a threaded HTTP/1.1 server (keep-alive, one thread per
connection) on an ephemeral port and counts the requests it receives per
``(method, path)``, the path without its query string. Use it as a context manager::

    from servers import LoopbackServer

    with LoopbackServer() as server:
        requests.get(server.url("/bytes/10"))
        assert server.counts() == {("GET", "/bytes/10"): 1}

Every method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS) reaches the same endpoints;
a HEAD gets the headers without the body. The request body is read and discarded
unless an endpoint uses it.

==========================  ==========================================================
``/bytes/N``                200 with a body of ``N`` bytes (``b"x" * N``)
``/status/N``               status ``N`` with an empty body
``/json``                   200 ``{"ok": true, "method", "path", "headers", "body"}``:
                            the request echoed (``path`` includes the query string)
``/sleep?ms=N``             200 ``b"slept"`` after ``N`` milliseconds
``/redirect?to=PATH``       302 to ``PATH`` (default ``/json``)
``/cookie/set?NAME=VALUE``  200, with a ``Set-Cookie: NAME=VALUE; Path=/`` per pair
``/cookie/echo``            200 JSON object of the cookies the request carried
``/drop``                   closes the connection without answering
anything else               200 ``b"ok"``
==========================  ==========================================================

Stopping the server (leaving the ``with`` block) also closes the kept-alive
connections, so no handler thread outlives it.

``RecordingListener().events()`` builds a real :class:`~pytest_loadtest.events.Events`
whose listener and ``pytest_loadtest_request`` hook implementation are that recorder:
what a client or ``lt.measure`` reported is in its ``records`` (the stats path) and
``hooked`` (the hook path, every keyword argument).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import pluggy

from pytest_loadtest.events import Events

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

HOST = "127.0.0.1"
hookimpl = pluggy.HookimplMarker("pytest")


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released), for refused connections."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


class LoopbackServer:
    """A counting HTTP server on ``127.0.0.1:<ephemeral port>``; see the module docstring."""

    def __init__(self) -> None:
        self._httpd = _CountingHTTPServer()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() may wait for the loop to notice
            name="loopback-server",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, with no trailing slash."""
        return f"http://{HOST}:{self.port}"

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base_url + path

    def counts(self) -> dict[tuple[str, str], int]:
        """A snapshot of the requests received so far, keyed by ``(method, path)``."""
        with self._httpd.lock:
            return dict(self._httpd.counts)

    def reset(self) -> None:
        """Forget the requests counted so far."""
        with self._httpd.lock:
            self._httpd.counts.clear()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _CountingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self._connections: set[socket.socket] = set()
        super().__init__((HOST, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake the handler threads blocked on kept-alive connections, so they end."""
        with self.lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client closed it first
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response (a timeout test, a stopped server) is expected;
        # anything else (a bad /bytes/N) is printed, and that connection closes unanswered.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _CountingHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as a real target would offer
    # Headers and body go out in two writes; without TCP_NODELAY the second waits ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test output is not the place for an access log

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        with self.server.lock:
            self.server.counts[(self.command, split.path)] += 1
        body = self._read_body()
        query = dict(parse_qsl(split.query))
        path = split.path
        if path == "/drop":
            self.close_connection = True
        elif path.startswith("/bytes/"):
            self._send(200, b"x" * int(path.removeprefix("/bytes/")))
        elif path.startswith("/status/"):
            self._send(int(path.removeprefix("/status/")), b"")
        elif path == "/json":
            self._send_json(
                {
                    "ok": True,
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body.decode("utf-8", "replace"),
                }
            )
        elif path == "/sleep":
            time.sleep(int(query.get("ms", "0")) / 1000)
            self._send(200, b"slept")
        elif path == "/redirect":
            self._send(302, b"", [("Location", query.get("to", "/json"))])
        elif path == "/cookie/set":
            self._send(200, b"", [("Set-Cookie", f"{k}={v}; Path=/") for k, v in query.items()])
        elif path == "/cookie/echo":
            cookies = SimpleCookie(self.headers.get("Cookie", ""))
            self._send_json({key: morsel.value for key, morsel in cookies.items()})
        else:
            self._send(200, b"ok")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, payload: object) -> None:
        self._send(200, json.dumps(payload).encode(), [("Content-Type", "application/json")])

    def _send(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@dataclass(frozen=True)
class Recorded:
    """One call of ``RequestListener.record_request``."""

    task: str | None
    request_type: str
    name: str
    response_time: float
    response_length: int
    error: BaseException | None
    start_time: float


class RecordingListener:
    """Keeps every request event, as the stats listener and as a request hook sees it."""

    def __init__(self) -> None:
        self.records: list[Recorded] = []
        self.hooked: list[dict[str, Any]] = []

    def events(self) -> Events:
        """Real :class:`Events` with this recorder as its listener and its request hook."""
        plugins = pluggy.PluginManager("pytest")
        plugins.register(self)
        return Events(hook=plugins.hook, listener=self)

    def record_request(
        self,
        task: str | None,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        error: BaseException | None,
        start_time: float,
    ) -> None:
        self.records.append(
            Recorded(task, request_type, name, response_time, response_length, error, start_time)
        )

    @hookimpl
    def pytest_loadtest_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any,
        exception: BaseException | None,
        context: dict[str, Any],
        url: str,
        start_time: float,
    ) -> None:
        self.hooked.append(
            {
                "request_type": request_type,
                "name": name,
                "response_time": response_time,
                "response_length": response_length,
                "response": response,
                "exception": exception,
                "context": context,
                "url": url,
                "start_time": start_time,
            }
        )

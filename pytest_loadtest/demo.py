"""A small demo shop to point load tests at: ``python -m pytest_loadtest.demo``.

It serves JSON endpoints of varied latency on gevent's WSGI server, in its own process, on
loopback only::

    $ python -m pytest_loadtest.demo --port 8080 --seed 1
    pytest-loadtest demo listening on http://127.0.0.1:8080

======================  =================================================================
``GET /``               the shop's name and endpoints (no delay)
``GET /products``       ``{"products": [{"id", "name", "price"}, ...]}`` (2-5 ms)
``GET /products/<id>``  one product, or 404 for an unknown id (1-3 ms)
``GET /search?q=...``   ``{"query", "hits": [...]}``: products whose name contains ``q``
                        (case-insensitive, empty for most words); 400 without ``q`` (5-20 ms)
``POST /login``         body ``{"user": NAME}``; sets the ``session`` cookie (2-4 ms)
``POST /cart``          body ``{"id": N}``, needs the cookie (401 without it); 200 with
                        ``{"ok": true, "items": K}``, or ``{"ok": false, "reason": ...}``
                        for a share of requests (``--cart-refusal-rate``) (2-6 ms)
``POST /checkout``      needs the cookie; empties the cart into an order; 500 for a share
                        of requests (``--checkout-error-rate``) (30-80 ms)
``GET /_counts``        ``{"METHOD /path": {"STATUS": N}}``: the responses sent so far, the
                        path without its query string, the ``/_`` endpoints not counted
``POST /_reset``        zeroes those counts
======================  =================================================================

Errors are JSON ``{"error": MESSAGE}``. The delays and the injected failures draw from one
``random.Random`` seeded by ``--seed``: a client that sends the same requests one at a time
sees the same answers again; concurrent clients interleave the draws.

:class:`DemoServer` starts it in a child process for tests and conftests. Importing this
module loads neither gevent nor requests: the server process imports gevent in :func:`main`.
"""

from __future__ import annotations

import argparse
import functools
import http
import ipaddress
import itertools
import json
import os
import queue
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from types import TracebackType
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = ["DemoServer", "DemoShop", "main"]

DEFAULT_CART_REFUSAL_RATE = 0.1
DEFAULT_CHECKOUT_ERROR_RATE = 0.05
READY_PREFIX = "pytest-loadtest demo listening on "

_MAX_BODY = 64 * 1024
# Oldest sessions are forgotten past this, so a long run that logs in on every
# iteration cannot grow the server without bound.
_MAX_SESSIONS = 100_000


@dataclass(frozen=True)
class Product:
    """An item the shop sells; :data:`PRODUCTS` is the catalogue, ids 1 to 8."""

    id: int
    name: str
    price: float


PRODUCTS: tuple[Product, ...] = tuple(
    Product(index, name, price)
    for index, (name, price) in enumerate(
        [
            ("Trail running shoe", 89.0),
            ("Road running shoe", 119.0),
            ("Wool sock", 12.5),
            ("Rain jacket", 149.0),
            ("Sun hat", 24.0),
            ("Water bottle", 15.0),
            ("Head torch", 39.0),
            ("Shoe laces", 4.5),
        ],
        start=1,
    )
)
_PRODUCTS_BY_ID = {product.id: product for product in PRODUCTS}


class _HTTPError(Exception):
    """Ends a request with ``status`` and the JSON body ``{"error": message}``."""

    def __init__(
        self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.response = _Response(status, {"error": message}, headers)


@dataclass(frozen=True)
class _Request:
    query: dict[str, list[str]]
    cookies: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; a 400 otherwise."""
        try:
            data = json.loads(self.body)
        except ValueError:
            raise _HTTPError(400, "the body must be JSON") from None
        if not isinstance(data, dict):
            raise _HTTPError(400, "the body must be a JSON object")
        return data


@dataclass(frozen=True)
class _Response:
    status: int
    body: object
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Session:
    user: str
    cart: list[Product] = field(default_factory=list)


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    handler: Callable[[_Request], _Response]
    counted: bool = True

    @property
    def pattern(self) -> re.Pattern[str]:
        """``/products/<id>`` -> a pattern capturing ``id`` from one path segment."""
        return _compile(self.template)


@functools.cache
def _compile(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", template) + r"\Z")


class DemoShop:
    """The demo shop as a WSGI application (see the module docstring for its endpoints).

    ``sleep`` pauses a request for the simulated latency: ``gevent.sleep`` under gevent's
    server, ``time.sleep`` (the default) under a threaded one, a no-op for unit tests.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        cart_refusal_rate: float = DEFAULT_CART_REFUSAL_RATE,
        checkout_error_rate: float = DEFAULT_CHECKOUT_ERROR_RATE,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.random = random.Random(seed)
        self.cart_refusal_rate = cart_refusal_rate
        self.checkout_error_rate = checkout_error_rate
        self._sleep = sleep
        self.counts: dict[str, Counter[int]] = {}
        self._sessions: dict[str, _Session] = {}
        self._orders = itertools.count(1)
        self._routes = (
            _Route("GET", "/", self._home),
            _Route("GET", "/products", self._products),
            _Route("GET", "/products/<id>", self._product),
            _Route("GET", "/search", self._search),
            _Route("POST", "/login", self._login),
            _Route("POST", "/cart", self._cart),
            _Route("POST", "/checkout", self._checkout),
            _Route("GET", "/_counts", self._counts, counted=False),
            _Route("POST", "/_reset", self._reset, counted=False),
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        counted = True
        try:
            route, params = self._resolve(method, path)
            counted = route.counted
            response = route.handler(_read_request(environ, params))
        except _HTTPError as error:
            response = error.response
        if counted:
            self.counts.setdefault(f"{method} {path}", Counter())[response.status] += 1
        body = json.dumps(response.body).encode()
        status = http.HTTPStatus(response.status)
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *response.headers,
        ]
        start_response(f"{status.value} {status.phrase}", headers)
        return [body]

    def _resolve(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        allowed = []
        for route in self._routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method == method:
                return route, match.groupdict()
            allowed.append(route.method)
        if allowed:
            allow = ", ".join(allowed)
            raise _HTTPError(405, f"{path} allows {allow}", (("Allow", allow),))
        raise _HTTPError(404, f"no such page: {path}")

    def _pause(self, low_ms: float, high_ms: float) -> None:
        self._sleep(self.random.uniform(low_ms, high_ms) / 1000)

    def _session(self, request: _Request) -> _Session:
        session = self._sessions.get(request.cookies.get("session", ""))
        if session is None:
            raise _HTTPError(401, "log in first: POST /login")
        return session

    def _home(self, request: _Request) -> _Response:
        endpoints = [f"{route.method} {route.template}" for route in self._routes if route.counted]
        return _Response(200, {"shop": "pytest-loadtest demo", "endpoints": endpoints})

    def _products(self, request: _Request) -> _Response:
        self._pause(2, 5)
        return _Response(200, {"products": [_as_json(product) for product in PRODUCTS]})

    def _product(self, request: _Request) -> _Response:
        self._pause(1, 3)
        product_id = request.params["id"]
        product = _PRODUCTS_BY_ID.get(int(product_id)) if product_id.isdecimal() else None
        if product is None:
            raise _HTTPError(404, f"no such product: {product_id}")
        return _Response(200, _as_json(product))

    def _search(self, request: _Request) -> _Response:
        self._pause(5, 20)
        words = request.query.get("q")
        if not words:
            raise _HTTPError(400, "give a search term: /search?q=WORD")
        query = words[0]
        hits = [_as_json(p) for p in PRODUCTS if query.casefold() in p.name.casefold()]
        return _Response(200, {"query": query, "hits": hits})

    def _login(self, request: _Request) -> _Response:
        self._pause(2, 4)
        user = request.json().get("user")
        if not isinstance(user, str) or not user:
            raise _HTTPError(400, 'the body must be {"user": NAME}')
        if len(self._sessions) >= _MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        token = secrets.token_urlsafe(12)
        self._sessions[token] = _Session(user)
        cookie = f"session={token}; Path=/; HttpOnly; SameSite=Lax"
        return _Response(200, {"user": user}, (("Set-Cookie", cookie),))

    def _cart(self, request: _Request) -> _Response:
        self._pause(2, 6)
        session = self._session(request)
        product_id = request.json().get("id")
        if isinstance(product_id, bool) or not isinstance(product_id, int):
            raise _HTTPError(400, 'the body must be {"id": PRODUCT_ID}')
        product = _PRODUCTS_BY_ID.get(product_id)
        if product is None:
            raise _HTTPError(404, f"no such product: {product_id}")
        if self.random.random() < self.cart_refusal_rate:
            return _Response(200, {"ok": False, "reason": f"{product.name} is out of stock"})
        session.cart.append(product)
        return _Response(200, {"ok": True, "items": len(session.cart)})

    def _checkout(self, request: _Request) -> _Response:
        self._pause(30, 80)
        session = self._session(request)
        if self.random.random() < self.checkout_error_rate:
            raise _HTTPError(500, "the payment provider timed out")
        items, session.cart = session.cart, []
        total = round(sum(product.price for product in items), 2)
        order = {"ok": True, "order": next(self._orders), "items": len(items), "total": total}
        return _Response(200, order)

    def _counts(self, request: _Request) -> _Response:
        counts = {
            key: {str(status): n for status, n in sorted(statuses.items())}
            for key, statuses in sorted(self.counts.items())
        }
        return _Response(200, counts)

    def _reset(self, request: _Request) -> _Response:
        self.counts.clear()
        return _Response(200, {"ok": True})


def _as_json(product: Product) -> dict[str, object]:
    return {"id": product.id, "name": product.name, "price": product.price}


def _read_request(environ: WSGIEnvironment, params: dict[str, str]) -> _Request:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _HTTPError(400, "bad Content-Length") from None
    if length > _MAX_BODY:
        raise _HTTPError(413, f"the body is limited to {_MAX_BODY} bytes")
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    return _Request(
        query=parse_qs(environ.get("QUERY_STRING", "")),
        cookies={name: morsel.value for name, morsel in cookies.items()},
        body=body,
        params=params,
    )


# --- the server process ---------------------------------------------------------------


def _loopback_host(host: str) -> str:
    """An argparse type: ``host`` if it is a loopback address, else a usage error."""
    if host == "localhost":
        return host
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise argparse.ArgumentTypeError(
            f"{host!r} is not a loopback address: the demo serves loopback only "
            "(use 127.0.0.1, ::1 or localhost)"
        )
    return host


def _rate(text: str) -> float:
    """An argparse type: a probability between 0 and 1."""
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return rate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_loadtest.demo",
        description="Serve the pytest-loadtest demo shop on loopback until SIGTERM or Ctrl-C.",
    )
    parser.add_argument(
        "--host",
        type=_loopback_host,
        default="127.0.0.1",
        help="a loopback address (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="0 picks a free port (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, help="seed for the delays and injected failures")
    parser.add_argument(
        "--cart-refusal-rate",
        type=_rate,
        default=DEFAULT_CART_REFUSAL_RATE,
        metavar="P",
        help='share of POST /cart answered {"ok": false} (default: %(default)s)',
    )
    parser.add_argument(
        "--checkout-error-rate",
        type=_rate,
        default=DEFAULT_CHECKOUT_ERROR_RATE,
        metavar="P",
        help="share of POST /checkout answered 500 (default: %(default)s)",
    )
    return parser


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _serve(args: argparse.Namespace) -> int:
    import signal
    import socket

    import gevent
    from gevent.pywsgi import WSGIServer

    class Server(WSGIServer):  # type: ignore[misc]
        def handle(self, sock: socket.socket, address: tuple[str, int]) -> None:
            # pywsgi sends the headers and the body in two writes: with Nagle on, the
            # body waits for the client's delayed ACK, adding ~40 ms to each kept-alive
            # request.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle(sock, address)

    app = DemoShop(
        seed=args.seed,
        cart_refusal_rate=args.cart_refusal_rate,
        checkout_error_rate=args.checkout_error_rate,
        sleep=gevent.sleep,
    )
    server = Server((args.host, args.port), app, log=None)
    try:
        server.start()
    except OSError as error:
        print(
            f"pytest-loadtest demo: cannot listen on {args.host}:{args.port}: {error}",
            file=sys.stderr,
        )
        return 1
    # Before the ready line: whoever reads it may signal at once.
    handlers = [
        gevent.signal_handler(signum, server.stop, timeout=1)
        for signum in (signal.SIGTERM, signal.SIGINT)
    ]
    print(READY_PREFIX + _url(args.host, server.server_port), flush=True)
    server.serve_forever()
    for handler in handlers:
        handler.cancel()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the demo shop; print the ready line once listening. Returns the exit code."""
    return _serve(_parser().parse_args(argv))


# --- the parent side --------------------------------------------------------------------


class DemoServer:
    """The demo shop in a child process, for tests and conftests.

    ::

        with DemoServer(seed=1) as server:
            requests.get(server.url + "/products")
            assert server.counts() == {"GET /products": {200: 1}}

    :meth:`start` spawns ``python -m pytest_loadtest.demo`` with :data:`sys.executable`
    and waits (up to ``startup_timeout`` seconds) for its ready line.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        cart_refusal_rate: float = DEFAULT_CART_REFUSAL_RATE,
        checkout_error_rate: float = DEFAULT_CHECKOUT_ERROR_RATE,
        startup_timeout: float = 10.0,
    ) -> None:
        self.args = ["--host", host, "--port", str(port)]
        if seed is not None:
            self.args += ["--seed", str(seed)]
        self.args += [
            f"--cart-refusal-rate={cart_refusal_rate}",
            f"--checkout-error-rate={checkout_error_rate}",
        ]
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._url: str | None = None
        #: The exit code of the child, once stopped (``None`` before).
        self.returncode: int | None = None

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._url is None:
            raise RuntimeError("the demo server is not running: call start() first")
        return self._url

    def start(self) -> DemoServer:
        """Start the child process and wait until it listens; returns ``self``."""
        if self._process is not None:
            raise RuntimeError(f"the demo server is already running at {self._url}")
        # The child must import this package even when the parent found it through a
        # sys.path entry (such as a checkout) that the child would not have.
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        # A file, not a pipe: a pipe nobody drains would block the server once full.
        # It lives as long as the child; stop() closes it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pytest_loadtest.demo", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            env=env,
        )
        assert self._process.stdout is not None
        line = _first_line(self._process.stdout, self.startup_timeout)
        if line is None or not line.startswith(READY_PREFIX):
            self._fail(line)
        self._url = line[len(READY_PREFIX) :].strip()
        return self

    def _fail(self, line: str | None) -> NoReturn:
        assert self._process is not None
        if line is None:
            problem = f"did not start within {self.startup_timeout:g} s"
        elif line == "":
            problem = f"exited with code {self._process.wait()} before it was ready"
        else:
            problem = f"printed {line!r} instead of its ready line"
        self._terminate()
        stderr = self._stderr_text()
        self.stop()
        raise RuntimeError(f"the demo server {problem}; its stderr:\n{stderr}")

    def _stderr_text(self) -> str:
        assert self._stderr is not None
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()

    def _terminate(self) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.returncode = process.returncode

    def stop(self) -> None:
        """Terminate the child and wait for it; safe to call twice.

        :attr:`returncode` is then the child's exit code: 0 when it shut down cleanly.
        """
        self._terminate()
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
        self._process = self._stderr = self._url = None

    def counts(self) -> dict[str, dict[int, int]]:
        """The responses sent so far: ``{"GET /products": {200: 3}, ...}``."""
        data = json.loads(_urlopen(self.url + "/_counts", None))
        return {
            key: {int(status): n for status, n in statuses.items()}
            for key, statuses in data.items()
        }

    def reset(self) -> None:
        """Zero the counts."""
        _urlopen(self.url + "/_reset", b"")

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _first_line(stream: IO[str], timeout: float) -> str | None:
    """The stream's first line ('' at end of file), or ``None`` after ``timeout`` seconds."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        try:
            lines.put(stream.readline())
        except (OSError, ValueError):  # closed under us after a timeout
            lines.put("")

    threading.Thread(target=read, daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None


def _urlopen(url: str, data: bytes | None) -> bytes:
    import urllib.request  # only the parent needs it, and only here

    # No proxy: a proxy set in the environment must not see loopback requests.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, data, timeout=10) as response:
        body: bytes = response.read()
    return body


if __name__ == "__main__":
    sys.exit(main())

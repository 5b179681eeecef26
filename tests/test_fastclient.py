"""The geventhttpclient client (``--load-client fast``), side by side with the requests one.

The tests run in the ordinary, unpatched test process: geventhttpclient always uses
gevent's own sockets, so a request waits in the gevent hub of this thread, which blocks
in the OS poll while the server, in a real thread, answers. Nothing is monkey-patched,
so nothing leaks into other tests. One test runs clients in a subprocess patched as
load mode patches, to show concurrent users under gevent.

Most behaviours are checked on both clients (the ``kind`` fixture): they share their
rules, and a task must not see which one it got.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
import ssl
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

import pytest
import requests
from servers import HOST, LoopbackServer, RecordingListener, unused_port

from pytest_loadtest.client import CatchResponse, CatchResponseError, LoadClient, LoadResponse
from pytest_loadtest.errors import MissingHostError
from pytest_loadtest.fastclient import FastCatchResponse, FastLoadClient, FastResponse

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

    from servers import Recorded

    Client = LoadClient | FastLoadClient

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Kind:
    """One client implementation: how to make it and what its responses are."""

    name: str
    make: Callable[..., Client]
    response: type[Any]
    catch: type[Any]


REQUESTS = Kind("requests", LoadClient, LoadResponse, CatchResponse)
FAST = Kind("fast", FastLoadClient, FastResponse, FastCatchResponse)


@pytest.fixture(params=[REQUESTS, FAST], ids=lambda kind: kind.name)
def kind(request: pytest.FixtureRequest) -> Kind:
    chosen: Kind = request.param
    return chosen


@pytest.fixture(scope="module")
def _server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def server(_server: LoopbackServer) -> LoopbackServer:
    _server.reset()
    return _server


@pytest.fixture
def recorder() -> RecordingListener:
    return RecordingListener()


@pytest.fixture
def client(kind: Kind, server: LoopbackServer, recorder: RecordingListener) -> Iterator[Client]:
    with kind.make(server.base_url, recorder.events()) as client:
        yield client


@pytest.fixture
def fast(server: LoopbackServer, recorder: RecordingListener) -> Iterator[FastLoadClient]:
    with FastLoadClient(server.base_url, recorder.events()) as client:
        yield client


def _only(recorder: RecordingListener) -> Recorded:
    assert len(recorder.records) == 1, recorder.records
    assert len(recorder.hooked) == 1
    return recorder.records[0]


# A server that shows the wire: every request's method, path, header lines (as sent, in
# order), body and client port; and the few answers the loopback server does not give.


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    port: int

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class WireServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 that records what it receives.

    ``/echo`` answers the request as JSON; ``/redirect?code=N&to=URL[&cookie=K=V]``,
    ``/setcookie?K=V``, ``/gzip``, ``/deflate``, ``/close`` (answers with ``Connection:
    close``), ``/hangup`` (answers as if keeping the connection, then closes it) and
    ``/slow`` (200 ms; the most requests in flight at once is kept).
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.httpd = ThreadingHTTPServer((HOST, 0), _WireHandler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.httpd.wire = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://{HOST}:{self.httpd.server_address[1]}{path}"

    def __enter__(self) -> WireServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()


class _WireHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        wire: WireServer = self.server.wire  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        seen = Seen(
            self.command,
            self.path,
            list(self.headers.items()),
            self.rfile.read(length) if length else b"",
            self.client_address[1],
        )
        with wire.lock:
            wire.seen.append(seen)
        path, _, query = self.path.partition("?")
        args = dict(parse_qsl(query))
        if path == "/redirect":
            extra = [("Location", args["to"])]
            if "cookie" in args:
                extra.append(("Set-Cookie", f"{args['cookie']}; Path=/"))
            self._send(int(args["code"]), b"", extra)
        elif path == "/setcookie":
            self._send(200, b"", [("Set-Cookie", f"{k}={v}; Path=/") for k, v in args.items()])
        elif path == "/gzip":
            self._send(200, gzip.compress(b"g" * 1000), [("Content-Encoding", "gzip")])
        elif path == "/deflate":
            self._send(200, zlib.compress(b"d" * 1000), [("Content-Encoding", "deflate")])
        elif path == "/close":
            self.close_connection = True
            self._send(200, b"bye", [("Connection", "close")])
        elif path == "/hangup":  # as a keep-alive timeout does: no warning, then closed
            self.close_connection = True
            self._send(200, b"bye", [])
        elif path == "/slow":
            self._slow(wire)
        else:
            echo = {
                "method": seen.method,
                "path": seen.path,
                "headers": seen.headers,
                "body": seen.body.decode("latin-1"),
            }
            self._send(200, json.dumps(echo).encode(), [("Content-Type", "application/json")])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _slow(self, wire: WireServer) -> None:
        with wire.lock:
            wire.in_flight += 1
            wire.most_in_flight = max(wire.most_in_flight, wire.in_flight)
        time.sleep(0.2)
        with wire.lock:
            wire.in_flight -= 1
        self._send(200, b"slow", [])

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@pytest.fixture
def wire() -> Iterator[WireServer]:
    with WireServer() as running:
        yield running


# What each request reports


def test_success_is_recorded_with_name_type_length_and_times(
    kind: Kind, client: Client, recorder: RecordingListener, server: LoopbackServer
) -> None:
    before = time.time()
    response = client.get("/bytes/1234")
    after = time.time()

    assert type(response) is kind.response
    assert (response.status_code, response.reason, response.ok) == (200, "OK", True)
    assert response.error is None
    assert response.content == b"x" * 1234
    assert response.headers["content-length"] == "1234"
    record = _only(recorder)
    assert (record.request_type, record.name, record.response_length) == (
        "GET",
        "/bytes/1234",
        1234,
    )
    assert record.error is None
    assert 0 < record.response_time <= (after - before) * 1000
    assert before <= record.start_time <= after
    assert server.counts() == {("GET", "/bytes/1234"): 1}


def test_the_hook_gets_the_response_the_url_and_an_empty_context(
    client: Client, recorder: RecordingListener, server: LoopbackServer
) -> None:
    response = client.get("/bytes/3")

    hooked = recorder.hooked[0]
    assert hooked["response"] is response
    assert hooked["url"] == server.url("/bytes/3")
    assert hooked["context"] == {}
    assert hooked["exception"] is None
    record = _only(recorder)
    assert hooked["response_time"] == record.response_time
    assert hooked["start_time"] == record.start_time


def test_context_is_handed_to_the_hook(client: Client, recorder: RecordingListener) -> None:
    context = {"user": 7}
    client.get("/bytes/0", context=context)

    assert recorder.hooked[0]["context"] is context


def test_the_name_is_the_url_as_passed_and_name_groups(
    client: Client, recorder: RecordingListener, server: LoopbackServer
) -> None:
    client.get("/json?b=2&a=1")
    client.get(server.url("/json"))
    client.get("/bytes/1", name="/bytes/[n]")
    client.get(b"/bytes/2", name="/bytes/[n]")

    assert [r.name for r in recorder.records] == [
        "/json?b=2&a=1",
        server.url("/json"),
        "/bytes/[n]",
        "/bytes/[n]",
    ]
    assert [r.response_length for r in recorder.records][2:] == [1, 2]


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "head", "options"])
def test_every_verb_is_instrumented(
    client: Client, recorder: RecordingListener, server: LoopbackServer, method: str
) -> None:
    response = getattr(client, method)("/bytes/5")

    record = _only(recorder)
    assert record.request_type == method.upper()
    assert record.response_length == (0 if method == "head" else 5)
    assert response.status_code == 200
    assert server.counts() == {(method.upper(), "/bytes/5"): 1}


def test_request_takes_a_lowercase_method_and_sends_a_json_body(
    client: Client, recorder: RecordingListener
) -> None:
    response = client.request("post", "/json", json={"id": 1})

    echoed = response.json()
    assert echoed["body"] == '{"id": 1}'
    assert echoed["headers"]["Content-Type"] == "application/json"
    assert _only(recorder).request_type == "POST"


@pytest.mark.parametrize(
    ("base", "url", "expected"),
    [
        ("http://h:1/api", "/items", "http://h:1/api/items"),
        ("http://h:1/api", "items", "http://h:1/api/items"),
        ("http://h:1/api/", "/items", "http://h:1/api/items"),
        ("http://h:1/api/", "items?q=1", "http://h:1/api/items?q=1"),
        ("http://h:1", "/items", "http://h:1/items"),
        ("http://h:1/", "/", "http://h:1/"),
        ("http://h:1/api", "", "http://h:1/api"),
        ("http://h:1/api", "/search?next=http://x/", "http://h:1/api/search?next=http://x/"),
        ("http://h:1/api", "http://other:2/x", "http://other:2/x"),
        ("http://h:1/api", "HTTPS://other/x", "HTTPS://other/x"),
    ],
)
def test_relative_urls_join_the_base_url(
    kind: Kind, recorder: RecordingListener, base: str, url: str, expected: str
) -> None:
    assert kind.make(base, recorder.events()).absolute_url(url) == expected


def test_a_base_url_path_prefix_reaches_the_server(
    kind: Kind, server: LoopbackServer, recorder: RecordingListener
) -> None:
    with kind.make(server.url("/api/"), recorder.events()) as client:
        client.get("/items?page=2")

    assert server.counts() == {("GET", "/api/items"): 1}
    assert _only(recorder).name == "/items?page=2"
    assert recorder.hooked[0]["url"] == server.url("/api/items?page=2")


def test_a_relative_url_without_base_url_raises(
    kind: Kind, server: LoopbackServer, recorder: RecordingListener
) -> None:
    with kind.make(None, recorder.events()) as client:
        with pytest.raises(MissingHostError, match="/items") as caught:
            client.get("/items")
        assert caught.value.url == "/items"
        assert client.get(server.url("/bytes/1")).status_code == 200

    assert [r.name for r in recorder.records] == [server.url("/bytes/1")]


@pytest.mark.parametrize(
    ("status", "failed"),
    [
        (200, False),
        (201, False),
        (204, False),
        (399, False),
        (400, True),
        (404, True),
        (500, True),
        (503, True),
        (600, True),
    ],
)
def test_a_status_of_400_or_more_fails_with_http_error(
    client: Client, recorder: RecordingListener, status: int, failed: bool
) -> None:
    response = client.get(f"/status/{status}")

    assert response.status_code == status
    assert response.ok is not failed
    assert bool(response) is response.ok
    record = _only(recorder)
    if not failed:
        assert record.error is None
        assert response.error is None
        response.raise_for_status()
        return
    assert type(record.error) is requests.HTTPError
    assert record.error is response.error
    assert record.error.response is response
    kind = "Client" if status < 500 else "Server"
    assert str(record.error) == (
        f"{status} {kind} Error: {response.reason} for url: {response.url}"
    )
    with pytest.raises(requests.HTTPError) as raised:
        response.raise_for_status()
    assert str(raised.value) == str(record.error)


def test_response_time_covers_a_slow_response(client: Client, recorder: RecordingListener) -> None:
    client.get("/sleep?ms=120")

    assert 120 <= _only(recorder).response_time < 120 + 200


def test_text_and_json_decode_the_body(client: Client) -> None:
    response = client.get("/json")

    assert response.encoding == "utf-8"
    assert json.loads(response.text) == response.json()
    assert response.json()["ok"] is True
    with pytest.raises(requests.JSONDecodeError):
        client.get("/bytes/3").json()


# Redirects


def test_redirects_are_followed_and_reported_with_the_final_url(
    client: Client, recorder: RecordingListener, server: LoopbackServer
) -> None:
    response = client.get("/redirect?to=/bytes/7")

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [302]
    assert response.url == server.url("/bytes/7")
    record = _only(recorder)
    assert (record.name, record.response_length, record.error) == ("/redirect?to=/bytes/7", 7, None)
    assert recorder.hooked[0]["url"] == server.url("/bytes/7")
    assert server.counts() == {("GET", "/redirect"): 1, ("GET", "/bytes/7"): 1}


def test_head_and_allow_redirects_false_stop_at_the_redirect(
    client: Client, server: LoopbackServer
) -> None:
    assert client.head("/redirect?to=/bytes/7").status_code == 302
    assert client.get("/redirect?to=/bytes/7", allow_redirects=False).status_code == 302
    assert server.counts() == {("HEAD", "/redirect"): 1, ("GET", "/redirect"): 1}


def test_too_many_redirects_return_status_zero(
    client: Client, recorder: RecordingListener, server: LoopbackServer
) -> None:
    client.max_redirects = 1
    twice = "/redirect?to=" + quote("/redirect?to=/bytes/1", safe="/")

    response = client.get(twice)

    assert response.status_code == 0
    assert isinstance(_only(recorder).error, requests.TooManyRedirects)
    assert server.counts() == {("GET", "/redirect"): 2}


@pytest.mark.parametrize(
    ("code", "method", "body"),
    [
        (301, "GET", ""),
        (302, "GET", ""),
        (303, "GET", ""),
        (307, "POST", "a=1"),
        (308, "POST", "a=1"),
    ],
)
def test_a_redirected_post_changes_method_and_body_as_requests_does(
    kind: Kind, wire: WireServer, code: int, method: str, body: str
) -> None:
    with kind.make(wire.url(""), RecordingListener().events()) as client:
        response = client.post(f"/redirect?code={code}&to=/echo", data={"a": "1"})

    echoed = response.json()
    assert (echoed["method"], echoed["body"]) == (method, body)
    content_types = [v for k, v in echoed["headers"] if k.lower() == "content-type"]
    assert content_types == ([] if body == "" else ["application/x-www-form-urlencoded"])


def test_authorization_is_dropped_on_a_redirect_to_another_origin(kind: Kind) -> None:
    with WireServer() as first, WireServer() as second:
        with kind.make(first.url(""), RecordingListener().events()) as client:
            client.get("/redirect?code=302&to=/echo", auth=("ann", "pw"))
            client.get(f"/redirect?code=302&to={quote(second.url('/echo'))}", auth=("ann", "pw"))

        assert [s.header("Authorization") for s in first.seen] == [
            ["Basic YW5uOnB3"],
            ["Basic YW5uOnB3"],
            ["Basic YW5uOnB3"],
        ]
        assert [s.header("Authorization") for s in second.seen] == [[]]


# Cookies and headers


def test_cookies_are_kept_per_client_and_not_shared(
    kind: Kind, server: LoopbackServer, recorder: RecordingListener
) -> None:
    events = recorder.events()
    with kind.make(server.base_url, events) as alice, kind.make(server.base_url, events) as bob:
        alice.get("/cookie/set?user=alice")
        bob.get("/cookie/set?user=bob&cart=3")

        assert alice.get("/cookie/echo").json() == {"user": "alice"}
        assert bob.get("/cookie/echo").json() == {"user": "bob", "cart": "3"}
        assert alice.cookies.get("user") == "alice"
        with kind.make(server.base_url, events) as carol:
            assert carol.get("/cookie/echo").json() == {}


def test_a_cookie_set_on_a_redirect_is_stored_and_sent(kind: Kind, wire: WireServer) -> None:
    with kind.make(wire.url(""), RecordingListener().events()) as client:
        client.get("/redirect?code=302&to=/echo&cookie=step=1")
        client.get("/echo")

    assert [s.header("Cookie") for s in wire.seen] == [[], ["step=1"], ["step=1"]]


def test_request_cookies_merge_with_the_client_cookies_as_requests_does(
    server: LoopbackServer,
) -> None:
    def echoed(kind: Kind) -> Any:
        with kind.make(server.base_url, RecordingListener().events()) as client:
            client.get("/cookie/set?user=alice&cart=1")
            merged = client.get("/cookie/echo", cookies={"cart": "2", "extra": "x"}).json()
            return merged, client.get("/cookie/echo").json()

    fast = echoed(FAST)
    assert fast == echoed(REQUESTS)
    assert fast[0]["extra"] == "x"
    assert fast[1] == {"user": "alice", "cart": "1"}


def test_user_agent_and_client_headers_are_sent(
    kind: Kind, server: LoopbackServer, recorder: RecordingListener
) -> None:
    with kind.make(server.base_url, recorder.events(), user_agent="load/1.0") as client:
        client.headers["Authorization"] = "Bearer t"
        sent = client.get("/json", headers={"X-Trace": "1"}).json()["headers"]

    assert (sent["User-Agent"], sent["Authorization"], sent["X-Trace"]) == (
        "load/1.0",
        "Bearer t",
        "1",
    )


def test_params_and_form_data_are_encoded_as_requests_encodes_them(
    server: LoopbackServer,
) -> None:
    def echoed(kind: Kind) -> Any:
        with kind.make(server.base_url, RecordingListener().events()) as client:
            return client.post(
                "/json?a=0",
                params={"q": "a b/é", "n": [1, 2], "none": None},
                data=[("k", "v&w"), ("k", "2")],
            ).json()

    fast, slow = echoed(FAST), echoed(REQUESTS)
    assert (fast["path"], fast["body"]) == ("/json?a=0&q=a+b%2F%C3%A9&n=1&n=2", "k=v%26w&k=2")
    assert (fast["path"], fast["body"]) == (slow["path"], slow["body"])


def test_a_header_set_to_none_is_not_sent(kind: Kind, wire: WireServer) -> None:
    with kind.make(wire.url(""), RecordingListener().events()) as client:
        client.get("/echo", headers={"Accept": None})

    assert wire.seen[0].header("Accept") == []


def test_the_request_head_has_host_then_client_headers_then_length(wire: WireServer) -> None:
    with FastLoadClient(wire.url(""), RecordingListener().events()) as client:
        client.delete("/echo")
        client.put("/echo", data="é")

    deleted, put = wire.seen
    assert [key for key, _ in deleted.headers] == [
        "Host",
        "User-Agent",
        "Accept-Encoding",
        "Accept",
        "Connection",
        "Content-Length",
    ]
    assert deleted.header("Host") == [f"{HOST}:{wire.httpd.server_address[1]}"]
    assert deleted.header("Content-Length") == ["0"]
    assert (put.header("Content-Length"), put.body) == (["2"], "é".encode())


@pytest.mark.parametrize(("path", "body"), [("/gzip", b"g" * 1000), ("/deflate", b"d" * 1000)])
def test_a_compressed_body_is_decoded(kind: Kind, wire: WireServer, path: str, body: bytes) -> None:
    recorder = RecordingListener()
    with kind.make(wire.url(""), recorder.events()) as client:
        assert client.get(path).content == body

    assert _only(recorder).response_length == 1000


def test_connections_are_kept_alive_and_reopened_when_the_server_closes(
    wire: WireServer,
) -> None:
    with FastLoadClient(wire.url(""), RecordingListener().events()) as client:
        for path in ("/echo", "/echo", "/close", "/echo"):
            assert client.get(path).status_code == 200
        client.close()
        assert client.get("/echo").status_code == 200

    ports = [seen.port for seen in wire.seen]
    assert ports[0] == ports[1] == ports[2] != ports[3] != ports[4]


def test_a_kept_alive_connection_the_server_closed_is_not_reused(wire: WireServer) -> None:
    recorder = RecordingListener()
    with FastLoadClient(wire.url(""), recorder.events()) as client:
        client.get("/hangup")
        time.sleep(0.05)  # the server's FIN arrives while the connection sits idle
        response = client.get("/echo")

    assert response.status_code == 200
    assert [seen.path for seen in wire.seen] == ["/hangup", "/echo"]
    assert wire.seen[0].port != wire.seen[1].port
    assert [record.error for record in recorder.records] == [None, None]


def test_proxies_from_the_environment_are_ignored(
    client: Client, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{unused_port()}")

    assert client.get("/bytes/2").content == b"xx"
    # The control: a default requests session takes the proxy.
    with requests.Session() as plain, pytest.raises(requests.exceptions.ProxyError):
        plain.get(server.url("/bytes/2"))


# Transport errors: status 0 and the error attached, never raised


def _assert_status_zero(
    kind: Kind, response: Any, recorder: RecordingListener, error: type[Exception]
) -> None:
    assert type(response) is kind.response
    assert response.status_code == 0
    assert isinstance(response.error, error)
    assert response.content == b""
    assert response.text == ""
    assert not response.ok
    record = _only(recorder)
    assert record.error is response.error
    assert record.response_length == 0
    assert record.response_time > 0
    assert recorder.hooked[0]["response"] is response
    assert recorder.hooked[0]["url"] == response.url
    with pytest.raises(error) as raised:
        response.raise_for_status()
    assert raised.value is response.error


def test_a_refused_connection_returns_status_zero(kind: Kind, recorder: RecordingListener) -> None:
    url = f"http://127.0.0.1:{unused_port()}/items?x=1"
    with kind.make(None, recorder.events()) as client:
        response = client.get(url, name="refused")

    _assert_status_zero(kind, response, recorder, requests.ConnectionError)
    assert response.url == url
    assert (_only(recorder).name, _only(recorder).request_type) == ("refused", "GET")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_dropped_connection_returns_status_zero_after_one_attempt(
    kind: Kind,
    client: Client,
    recorder: RecordingListener,
    server: LoopbackServer,
    method: str,
) -> None:
    response = client.request(method, "/drop", data=b"payload")

    _assert_status_zero(kind, response, recorder, requests.ConnectionError)
    assert response.url == server.url("/drop")
    assert server.counts() == {(method, "/drop"): 1}


def test_a_timeout_returns_status_zero_and_the_next_request_works(
    kind: Kind, client: Client, recorder: RecordingListener
) -> None:
    response = client.get("/sleep?ms=400", timeout=0.05)

    _assert_status_zero(kind, response, recorder, requests.Timeout)
    assert 50 <= _only(recorder).response_time < 350
    assert client.get("/bytes/2").content == b"xx"


def test_the_client_network_timeout_bounds_every_read(
    server: LoopbackServer, recorder: RecordingListener
) -> None:
    with FastLoadClient(server.base_url, recorder.events(), network_timeout=0.05) as client:
        response = client.get("/sleep?ms=400")

    assert isinstance(response.error, requests.Timeout)
    assert 50 <= _only(recorder).response_time < 350


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://", requests.exceptions.InvalidURL),
        ("http://127.0.0.1:99999/", requests.exceptions.InvalidURL),
        ("ftp://127.0.0.1/x", requests.exceptions.InvalidSchema),
    ],
)
def test_an_unusable_url_returns_status_zero(
    kind: Kind, recorder: RecordingListener, url: str, error: type[Exception]
) -> None:
    with kind.make(None, recorder.events()) as client:
        response = client.get(url)

    _assert_status_zero(kind, response, recorder, error)
    assert response.url == url


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"headers": {"X-Bad": "a\r\nInjected: 1"}}, requests.exceptions.InvalidHeader),
        ({"json": {"x": math.nan}}, requests.exceptions.InvalidJSONError),
    ],
)
def test_a_request_that_cannot_be_written_returns_status_zero(
    kind: Kind,
    client: Client,
    recorder: RecordingListener,
    server: LoopbackServer,
    arguments: dict[str, Any],
    error: type[Exception],
) -> None:
    response = client.post("/json", **arguments)

    _assert_status_zero(kind, response, recorder, error)
    assert server.counts() == {}


# What only the fast client refuses


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"stream": True}, r"does not take stream .*the body is always read"),
        ({"verify": False, "files": {}}, r"does not take files, verify .*insecure=True"),
        ({"timeout": (1, 2)}, r"one number of seconds"),
        ({"auth": "ann:pw"}, r"\(user, password\) tuple"),
        ({"data": iter([b"x"])}, r"bytes, str, a dict or a list"),
    ],
)
def test_unsupported_arguments_raise_a_clear_type_error(
    fast: FastLoadClient,
    recorder: RecordingListener,
    server: LoopbackServer,
    arguments: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(TypeError, match=message):
        fast.post("/json", **arguments)

    assert recorder.records == []
    assert server.counts() == {}


def test_a_timeout_of_zero_is_refused(fast: FastLoadClient) -> None:
    with pytest.raises(ValueError, match="more than 0 seconds"):
        fast.get("/json", timeout=0)


# catch_response


def test_catch_response_records_once_when_the_block_ends(
    kind: Kind, client: Client, recorder: RecordingListener
) -> None:
    with client.get("/bytes/4", catch_response=True) as response:
        assert type(response) is kind.catch
        assert response.content == b"xxxx"
        assert recorder.records == []

    record = _only(recorder)
    assert (record.name, record.response_length, record.error) == ("/bytes/4", 4, None)
    assert recorder.hooked[0]["response"] is response


def test_catch_response_without_a_verdict_follows_the_status_rule(
    client: Client, recorder: RecordingListener
) -> None:
    with client.get("/status/500", catch_response=True) as response:
        pass

    assert type(_only(recorder).error) is requests.HTTPError
    assert response.error is _only(recorder).error


def test_catch_response_success_overrides_a_failing_status(
    client: Client, recorder: RecordingListener
) -> None:
    with client.get("/status/404", catch_response=True) as response:
        response.success()

    assert _only(recorder).error is None
    assert (response.error, response.status_code) == (None, 404)


def test_catch_response_failure_fails_a_success(
    client: Client, recorder: RecordingListener
) -> None:
    problem = LookupError("no such cart")
    with client.get("/json", catch_response=True) as first:
        if first.json()["ok"]:
            first.failure("cart refused")
    with client.get("/json", catch_response=True) as second:
        second.success()
        second.failure(problem)

    errors = [record.error for record in recorder.records]
    assert [type(error) for error in errors] == [CatchResponseError, LookupError]
    assert str(errors[0]) == "cart refused"
    assert errors[1] is problem
    assert (first.error, second.error) == (errors[0], problem)
    assert [hooked["exception"] for hooked in recorder.hooked] == errors


def test_an_exception_in_the_block_fails_the_request_and_propagates(
    client: Client, recorder: RecordingListener
) -> None:
    def read_hits() -> None:
        with client.get("/json", catch_response=True) as response:
            response.success()
            response.json()["hits"]

    with pytest.raises(KeyError, match="hits"):
        read_hits()

    error = _only(recorder).error
    assert type(error) is KeyError
    assert recorder.hooked[0]["response"].error is error


def test_an_interrupted_block_is_not_recorded(client: Client, recorder: RecordingListener) -> None:
    with pytest.raises(KeyboardInterrupt), client.get("/json", catch_response=True):
        raise KeyboardInterrupt

    assert recorder.records == []


def test_catch_response_passes_the_context_and_the_name(
    client: Client, recorder: RecordingListener
) -> None:
    with client.request("GET", "/bytes/1", catch_response=True, name="one", context={"a": 1}):
        pass

    assert _only(recorder).name == "one"
    assert recorder.hooked[0]["context"] == {"a": 1}


def test_catch_response_on_a_transport_error_fails_unless_told_otherwise(
    kind: Kind, recorder: RecordingListener
) -> None:
    url = f"http://127.0.0.1:{unused_port()}/"
    with kind.make(None, recorder.events()) as client:
        with client.request("GET", url, catch_response=True) as failed:
            assert failed.status_code == 0
        with client.request("GET", url, catch_response=True) as forgiven:
            forgiven.success()

    assert [type(r.error) for r in recorder.records] == [requests.ConnectionError, type(None)]


def test_catch_response_used_without_with_is_a_clear_error(
    client: Client, recorder: RecordingListener
) -> None:
    result = client.request("GET", "/json", catch_response=True)

    with pytest.raises(AttributeError, match=r"with client\.get\(url, catch_response=True\)"):
        result.status_code  # type: ignore[union-attr]  # noqa: B018 (the misuse under test)
    assert recorder.records == []


def test_a_verdict_after_the_block_is_refused(client: Client) -> None:
    with client.post("/status/500", catch_response=True) as response:
        pass

    with pytest.raises(RuntimeError, match="inside the `with` block"):
        response.failure("too late")


# TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    subprocess.run(
        [
            *command.split(),
            *("-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=lt"),
            *("-addext", f"subjectAltName=IP:{HOST}"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return key, cert


def test_https_checks_the_certificate_unless_insecure(certificate: tuple[Path, Path]) -> None:
    key, cert = certificate
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    recorder = RecordingListener()
    with WireServer(tls) as wire:
        url = wire.url("/echo", scheme="https")
        with FastLoadClient(None, recorder.events()) as strict:
            refused = strict.get(url)
        with FastLoadClient(None, recorder.events(), insecure=True) as lax:
            accepted = lax.get(url)

    assert isinstance(refused.error, requests.exceptions.SSLError)
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.error)
    assert (accepted.status_code, accepted.json()["method"]) == (200, "GET")
    assert [seen.path for seen in wire.seen] == ["/echo"]


# Under load mode's monkey-patching, many users at once

CONCURRENT_USERS = """
import json, sys
from pytest_loadtest import _gevent
_gevent.patch()
import gevent, gevent.event
from pytest_loadtest.events import Events
from pytest_loadtest.fastclient import FastLoadClient

class Listener:
    def __init__(self):
        self.records = []
    def record_request(self, task, request_type, name, response_time, length, error, start):
        self.records.append([name, error is not None])

listener = Listener()
ready, go = [], gevent.event.Event()

def user(number):
    with FastLoadClient(sys.argv[1], Events(listener=listener)) as client:
        client.get(f"/setcookie?user=u{number}")
        ready.append(number)  # every user connected: the slow requests overlap
        if len(ready) == 10:
            go.set()
        go.wait(10)
        client.get("/slow")
        return [value for key, value in client.get("/echo").json()["headers"] if key == "Cookie"]

greenlets = [gevent.spawn(user, number) for number in range(10)]
gevent.joinall(greenlets, raise_error=True)
print(json.dumps({"cookies": [g.value for g in greenlets], "records": listener.records}))
"""


def test_users_run_concurrently_under_load_mode_patching(wire: WireServer) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CONCURRENT_USERS, wire.url("")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["cookies"] == [[f"user=u{number}"] for number in range(10)]
    assert sorted(map(tuple, output["records"])) == sorted(
        [(f"/setcookie?user=u{n}", False) for n in range(10)]
        + [("/slow", False)] * 10
        + [("/echo", False)] * 10
    )
    assert wire.most_in_flight == 10


def test_a_client_without_headers_sends_only_host(wire: WireServer) -> None:
    with FastLoadClient(wire.url(""), RecordingListener().events()) as client:
        client.headers.clear()
        assert client.get("/echo").status_code == 200
    assert [key for key, _ in wire.seen[0].headers] == ["Host"]


def test_changing_the_default_headers_takes_effect_on_the_next_request(wire: WireServer) -> None:
    with FastLoadClient(wire.url(""), RecordingListener().events()) as client:
        client.get("/echo")
        client.headers["X-Trace"] = "1"
        client.get("/echo")
        del client.headers["X-Trace"]
        client.get("/echo")
    traced = [dict(seen.headers).get("X-Trace") for seen in wire.seen]
    assert traced == [None, "1", None]

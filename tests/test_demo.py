"""The bundled demo shop: its endpoints over real loopback HTTP, its process, its import."""

from __future__ import annotations

import json
import re
import select
import signal
import subprocess
import sys
import time
import wsgiref.util
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import TYPE_CHECKING, Any

import pytest
import requests

from pytest_loadtest.demo import PRODUCTS, DemoServer, DemoShop

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SHOES = ["Trail running shoe", "Road running shoe", "Shoe laces"]


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    """A demo server with no injected failures, so every answer below is certain."""
    with DemoServer(seed=1, cart_refusal_rate=0.0, checkout_error_rate=0.0) as demo:
        yield demo


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment for loopback
        yield session


def test_home_lists_the_endpoints(server: DemoServer, http: requests.Session) -> None:
    response = http.get(server.url + "/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["endpoints"] == [
        "GET /",
        "GET /products",
        "GET /products/<id>",
        "GET /search",
        "POST /login",
        "POST /cart",
        "POST /checkout",
    ]


def test_products_lists_the_catalogue(server: DemoServer, http: requests.Session) -> None:
    products = http.get(server.url + "/products").json()["products"]
    assert [(p["id"], p["name"]) for p in products] == [(p.id, p.name) for p in PRODUCTS]
    assert products[2] == {"id": 3, "name": "Wool sock", "price": 12.5}


@pytest.mark.parametrize(
    ("product_id", "status"), [("1", 200), ("8", 200), ("0", 404), ("9", 404), ("shoe", 404)]
)
def test_product_by_id(
    server: DemoServer, http: requests.Session, product_id: str, status: int
) -> None:
    response = http.get(f"{server.url}/products/{product_id}")
    assert response.status_code == status
    if status == 200:
        assert response.json()["id"] == int(product_id)
    else:
        assert response.json() == {"error": f"no such product: {product_id}"}


@pytest.mark.parametrize(("query", "names"), [("shoe", SHOES), ("SOCK", ["Wool sock"]), ("x", [])])
def test_search_hits(
    server: DemoServer, http: requests.Session, query: str, names: list[str]
) -> None:
    response = http.get(server.url + "/search", params={"q": query})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == query
    assert [hit["name"] for hit in body["hits"]] == names


def test_search_needs_a_query(server: DemoServer, http: requests.Session) -> None:
    response = http.get(server.url + "/search")
    assert response.status_code == 400
    assert "q=" in response.json()["error"]


def test_login_cart_checkout_flow(server: DemoServer, http: requests.Session) -> None:
    assert http.post(server.url + "/cart", json={"id": 1}).status_code == 401
    assert http.post(server.url + "/checkout").status_code == 401

    login = http.post(server.url + "/login", json={"user": "ann"})
    assert login.status_code == 200
    assert login.json() == {"user": "ann"}
    assert http.cookies.get("session")

    assert http.post(server.url + "/cart", json={"id": 1}).json() == {"ok": True, "items": 1}
    assert http.post(server.url + "/cart", json={"id": 3}).json() == {"ok": True, "items": 2}
    order = http.post(server.url + "/checkout").json()
    assert (order["ok"], order["items"], order["total"]) == (True, 2, 101.5)
    assert http.post(server.url + "/cart", json={"id": 1}).json() == {"ok": True, "items": 1}


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/login", {"name": "ann"}, 400),
        ("/login", {"user": ""}, 400),
        ("/cart", {"id": "1"}, 400),
        ("/cart", {"id": 99}, 404),
    ],
)
def test_bad_bodies(
    server: DemoServer, http: requests.Session, path: str, body: dict[str, Any], status: int
) -> None:
    http.post(server.url + "/login", json={"user": "bob"})
    response = http.post(server.url + path, json=body)
    assert response.status_code == status
    assert response.json()["error"]


def test_body_must_be_json(server: DemoServer, http: requests.Session) -> None:
    response = http.post(server.url + "/login", data=b"user=ann")
    assert (response.status_code, response.json()) == (400, {"error": "the body must be JSON"})


def test_unknown_path_and_wrong_method(server: DemoServer, http: requests.Session) -> None:
    assert http.get(server.url + "/nowhere").status_code == 404
    response = http.get(server.url + "/cart")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_counts_are_exact_and_reset(server: DemoServer, http: requests.Session) -> None:
    server.reset()
    for _ in range(3):
        http.get(server.url + "/products")
    for _ in range(2):
        http.get(server.url + "/products/99")
    http.get(server.url + "/search?q=shoe")
    http.get(server.url + "/search?q=hat")
    http.get(server.url + "/search")
    http.post(server.url + "/cart", json={"id": 1})
    expected = {
        "GET /products": {200: 3},
        "GET /products/99": {404: 2},
        "GET /search": {200: 2, 400: 1},
        "POST /cart": {401: 1},
    }
    assert server.counts() == expected
    assert server.counts() == expected  # reading the counts is not counted
    server.reset()
    assert server.counts() == {}


def test_slow_requests_are_served_concurrently(server: DemoServer) -> None:
    with requests.Session() as login:
        login.trust_env = False
        login.post(server.url + "/login", json={"user": "many"})
        cookie = f"session={login.cookies['session']}"
    count, least_latency = 50, 0.030

    def checkout(_: int) -> int:
        with requests.Session() as session:
            session.trust_env = False
            return session.post(server.url + "/checkout", headers={"Cookie": cookie}).status_code

    with ThreadPoolExecutor(count) as pool:
        started = time.perf_counter()
        statuses = list(pool.map(checkout, range(count)))
        elapsed = time.perf_counter() - started
    assert statuses == [200] * count
    assert elapsed < 0.5 * count * least_latency


def test_failure_rates_are_passed_to_the_server() -> None:
    with (
        DemoServer(cart_refusal_rate=1.0, checkout_error_rate=1.0) as demo,
        requests.Session() as http,
    ):
        http.trust_env = False
        http.post(demo.url + "/login", json={"user": "unlucky"})
        refused = http.post(demo.url + "/cart", json={"id": 5})
        assert refused.json() == {"ok": False, "reason": "Sun hat is out of stock"}
        failed = http.post(demo.url + "/checkout")
        assert failed.status_code == 500
        assert failed.json() == {"error": "the payment provider timed out"}


def _call(
    app: DemoShop, method: str, path: str, body: bytes = b"", cookie: str = ""
) -> tuple[int, dict[str, str]]:
    """Call the WSGI app in-process: its status code and headers."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_COOKIE": cookie,
        "wsgi.input": BytesIO(body),
    }
    wsgiref.util.setup_testing_defaults(environ)
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None, /
    ) -> Callable[[bytes], object]:
        started.append((status, headers))
        return lambda data: None

    app(environ, start_response)
    status, headers = started[0]
    return int(status.split()[0]), dict(headers)


def _checkout_statuses(seed: int, n: int) -> list[int]:
    app = DemoShop(seed=seed, sleep=lambda seconds: None)
    _, headers = _call(app, "POST", "/login", b'{"user": "ann"}')
    cookie = headers["Set-Cookie"].split(";")[0]
    return [_call(app, "POST", "/checkout", cookie=cookie)[0] for _ in range(n)]


def test_checkout_fails_about_5_percent_reproducibly() -> None:
    statuses = _checkout_statuses(seed=7, n=2000)
    assert set(statuses) == {200, 500}
    assert 0.03 < statuses.count(500) / len(statuses) < 0.07
    assert _checkout_statuses(seed=7, n=2000) == statuses
    assert _checkout_statuses(seed=8, n=2000) != statuses


def test_sigterm_and_sigint_stop_the_server_cleanly() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        with subprocess.Popen(
            [sys.executable, "-m", "pytest_loadtest.demo", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        ) as process:
            assert process.stdout is not None
            readable, _, _ = select.select([process.stdout], [], [], 10)
            assert readable, "no ready line within 10 s"
            line = process.stdout.readline()
            assert re.fullmatch(
                r"pytest-loadtest demo listening on http://127\.0\.0\.1:\d+\n", line
            )
            process.send_signal(signum)
            assert process.wait(timeout=10) == 0
            assert process.stdout.read() == ""  # one line, and nothing else


def test_stop_ends_the_process() -> None:
    demo = DemoServer().start()
    url = demo.url
    assert demo.returncode is None
    demo.stop()
    assert demo.returncode == 0
    demo.stop()
    assert demo.returncode == 0
    with pytest.raises(RuntimeError, match="not running"):
        demo.url  # noqa: B018
    with requests.Session() as http:
        http.trust_env = False
        with pytest.raises(requests.ConnectionError):
            http.get(url + "/", timeout=5)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "example.com"])
def test_non_loopback_host_is_refused(host: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_loadtest.demo", "--host", host, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"argument --host: {host!r} is not a loopback address" in result.stderr


def test_server_that_dies_is_reported_with_its_stderr() -> None:
    with pytest.raises(RuntimeError, match=r"exited with code 2 before it was ready") as info:
        DemoServer(host="0.0.0.0").start()
    assert "is not a loopback address" in str(info.value)


def test_server_that_is_slow_to_start_is_stopped() -> None:
    demo = DemoServer(startup_timeout=0.0)
    with pytest.raises(RuntimeError, match=r"did not start within 0 s"):
        demo.start()
    with pytest.raises(RuntimeError, match="not running"):
        demo.url  # noqa: B018


def test_import_loads_neither_gevent_nor_requests() -> None:
    code = (
        "import json, sys, pytest_loadtest.demo; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'gevent', 'greenlet', 'requests', 'urllib3'})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(result.stdout) == []

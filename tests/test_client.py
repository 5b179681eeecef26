"""The instrumented requests client, against a real loopback server."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
import requests
from servers import LoopbackServer, RecordingListener, unused_port

from pytest_loadtest.client import (
    CatchResponse,
    CatchResponseError,
    LoadClient,
    LoadResponse,
    ResponseContextManager,
)
from pytest_loadtest.errors import MissingHostError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from servers import Recorded


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
def client(server: LoopbackServer, recorder: RecordingListener) -> Iterator[LoadClient]:
    with _client(server.base_url, recorder) as client:
        yield client


def _client(base_url: str | None, recorder: RecordingListener) -> LoadClient:
    return LoadClient(base_url, recorder.events())


def _only(recorder: RecordingListener) -> Recorded:
    assert len(recorder.records) == 1, recorder.records
    assert len(recorder.hooked) == 1
    return recorder.records[0]


def test_success_is_recorded_with_name_type_length_and_times(
    client: LoadClient, recorder: RecordingListener, server: LoopbackServer
) -> None:
    before = time.time()
    response = client.get("/bytes/1234")
    after = time.time()

    assert type(response) is LoadResponse
    assert response.status_code == 200
    assert response.error is None
    assert response.content == b"x" * 1234
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
    client: LoadClient, recorder: RecordingListener, server: LoopbackServer
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


def test_context_is_handed_to_the_hook(client: LoadClient, recorder: RecordingListener) -> None:
    context = {"user": 7}
    client.get("/bytes/0", context=context)

    assert recorder.hooked[0]["context"] is context


def test_the_name_is_the_url_as_passed_with_its_query_string(
    client: LoadClient, recorder: RecordingListener, server: LoopbackServer
) -> None:
    client.get("/json?b=2&a=1")
    client.get(server.url("/json"))

    assert [r.name for r in recorder.records] == ["/json?b=2&a=1", server.url("/json")]


def test_name_groups_requests(client: LoadClient, recorder: RecordingListener) -> None:
    client.get("/bytes/1", name="/bytes/[n]")
    client.get("/bytes/2", name="/bytes/[n]")

    assert [(r.name, r.response_length) for r in recorder.records] == [
        ("/bytes/[n]", 1),
        ("/bytes/[n]", 2),
    ]


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "head", "options"])
def test_every_verb_is_instrumented(
    client: LoadClient, recorder: RecordingListener, server: LoopbackServer, method: str
) -> None:
    response = getattr(client, method)("/bytes/5")

    record = _only(recorder)
    assert record.request_type == method.upper()
    assert record.response_length == (0 if method == "head" else 5)
    assert response.status_code == 200
    assert server.counts() == {(method.upper(), "/bytes/5"): 1}


def test_request_takes_a_lowercase_method_and_sends_a_body(
    client: LoadClient, recorder: RecordingListener
) -> None:
    response = client.request("post", "/json", json={"id": 1})

    assert response.json()["body"] == '{"id": 1}'
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
    recorder: RecordingListener, base: str, url: str, expected: str
) -> None:
    assert _client(base, recorder).absolute_url(url) == expected


def test_a_base_url_path_prefix_reaches_the_server(
    server: LoopbackServer, recorder: RecordingListener
) -> None:
    with _client(server.url("/api/"), recorder) as client:
        client.get("/items?page=2")

    assert server.counts() == {("GET", "/api/items"): 1}
    assert _only(recorder).name == "/items?page=2"
    assert recorder.hooked[0]["url"] == server.url("/api/items?page=2")


def test_a_relative_url_without_base_url_raises(
    server: LoopbackServer, recorder: RecordingListener
) -> None:
    with _client(None, recorder) as client:
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
    ],
)
def test_a_status_of_400_or_more_fails_with_http_error(
    client: LoadClient, recorder: RecordingListener, status: int, failed: bool
) -> None:
    response = client.get(f"/status/{status}")

    assert response.status_code == status
    record = _only(recorder)
    if not failed:
        assert record.error is None
        assert response.error is None
        return
    assert type(record.error) is requests.HTTPError
    assert record.error is response.error
    assert str(record.error).startswith(f"{status} ")
    assert str(record.error).endswith(f"for url: {response.url}")
    with pytest.raises(requests.HTTPError) as raised:
        response.raise_for_status()
    assert str(raised.value) == str(record.error)


def test_response_time_covers_a_slow_response(
    client: LoadClient, recorder: RecordingListener
) -> None:
    client.get("/sleep?ms=120")

    assert 120 <= _only(recorder).response_time < 120 + 200


def test_redirects_are_followed_and_reported_with_the_final_url(
    client: LoadClient, recorder: RecordingListener, server: LoopbackServer
) -> None:
    response = client.get("/redirect?to=/bytes/7")

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [302]
    record = _only(recorder)
    assert (record.name, record.response_length, record.error) == ("/redirect?to=/bytes/7", 7, None)
    assert recorder.hooked[0]["url"] == server.url("/bytes/7")
    assert server.counts() == {("GET", "/redirect"): 1, ("GET", "/bytes/7"): 1}


def test_cookies_are_kept_per_client_and_not_shared(
    server: LoopbackServer, recorder: RecordingListener
) -> None:
    with _client(server.base_url, recorder) as alice, _client(server.base_url, recorder) as bob:
        alice.get("/cookie/set?user=alice")
        bob.get("/cookie/set?user=bob&cart=3")

        assert alice.get("/cookie/echo").json() == {"user": "alice"}
        assert bob.get("/cookie/echo").json() == {"user": "bob", "cart": "3"}
        with _client(server.base_url, recorder) as carol:
            assert carol.get("/cookie/echo").json() == {}


def test_user_agent_is_sent(server: LoopbackServer, recorder: RecordingListener) -> None:
    with LoadClient(server.base_url, recorder.events(), user_agent="load/1.0") as client:
        assert client.get("/json").json()["headers"]["User-Agent"] == "load/1.0"


def test_proxies_from_the_environment_are_ignored(
    client: LoadClient, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{unused_port()}")

    assert client.get("/bytes/2").content == b"xx"
    # The control: a default session takes the proxy.
    with requests.Session() as plain, pytest.raises(requests.exceptions.ProxyError):
        plain.get(server.url("/bytes/2"))


def _assert_status_zero(
    response: LoadResponse, recorder: RecordingListener, error: type[Exception]
) -> None:
    assert type(response) is LoadResponse
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


def test_a_refused_connection_returns_status_zero(recorder: RecordingListener) -> None:
    url = f"http://127.0.0.1:{unused_port()}/items?x=1"
    with _client(None, recorder) as client:
        response = client.get(url, name="refused")

    _assert_status_zero(response, recorder, requests.ConnectionError)
    assert response.url == url
    assert _only(recorder).name == "refused"
    assert _only(recorder).request_type == "GET"


def test_a_dropped_connection_returns_status_zero_after_one_attempt(
    client: LoadClient, recorder: RecordingListener, server: LoopbackServer
) -> None:
    response = client.post("/drop", data=b"payload")

    _assert_status_zero(response, recorder, requests.ConnectionError)
    assert response.url == server.url("/drop")
    assert server.counts() == {("POST", "/drop"): 1}


def test_a_timeout_returns_status_zero(client: LoadClient, recorder: RecordingListener) -> None:
    response = client.get("/sleep?ms=400", timeout=0.05)

    _assert_status_zero(response, recorder, requests.Timeout)
    assert 50 <= _only(recorder).response_time < 350


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://", requests.exceptions.InvalidURL),
        ("ftp://127.0.0.1/x", requests.exceptions.InvalidSchema),
    ],
)
def test_an_unusable_url_returns_status_zero(
    recorder: RecordingListener, url: str, error: type[Exception]
) -> None:
    with _client(None, recorder) as client:
        response = client.get(url)

    _assert_status_zero(response, recorder, error)
    assert response.url == url


def test_a_streamed_body_counts_its_content_length(
    client: LoadClient, recorder: RecordingListener
) -> None:
    with client.get("/bytes/300", stream=True) as response:
        assert _only(recorder).response_length == 300
        assert len(response.content) == 300


# catch_response


def test_catch_response_records_once_when_the_block_ends(
    client: LoadClient, recorder: RecordingListener
) -> None:
    with client.get("/bytes/4", catch_response=True) as response:
        assert type(response) is CatchResponse
        assert response.content == b"xxxx"
        assert recorder.records == []

    record = _only(recorder)
    assert (record.name, record.response_length, record.error) == ("/bytes/4", 4, None)
    assert recorder.hooked[0]["response"] is response


def test_catch_response_without_a_verdict_follows_the_status_rule(
    client: LoadClient, recorder: RecordingListener
) -> None:
    with client.get("/status/500", catch_response=True) as response:
        pass

    assert type(_only(recorder).error) is requests.HTTPError
    assert response.error is _only(recorder).error


def test_catch_response_success_overrides_a_failing_status(
    client: LoadClient, recorder: RecordingListener
) -> None:
    with client.get("/status/404", catch_response=True) as response:
        response.success()

    assert _only(recorder).error is None
    assert response.error is None
    assert response.status_code == 404


def test_catch_response_failure_message_fails_a_success(
    client: LoadClient, recorder: RecordingListener
) -> None:
    with client.get("/json", catch_response=True) as response:
        if response.json()["ok"]:
            response.failure("cart refused")

    error = _only(recorder).error
    assert type(error) is CatchResponseError
    assert str(error) == "cart refused"
    assert response.error is error


def test_catch_response_failure_takes_an_exception(
    client: LoadClient, recorder: RecordingListener
) -> None:
    problem = LookupError("no such cart")
    with client.get("/json", catch_response=True) as response:
        response.success()
        response.failure(problem)

    assert _only(recorder).error is problem


def test_an_exception_in_the_block_fails_the_request_and_propagates(
    client: LoadClient, recorder: RecordingListener
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


def test_an_interrupted_block_is_not_recorded(
    client: LoadClient, recorder: RecordingListener
) -> None:
    with pytest.raises(KeyboardInterrupt), client.get("/json", catch_response=True):
        raise KeyboardInterrupt

    assert recorder.records == []


def test_catch_response_passes_the_context_and_the_name(
    client: LoadClient, recorder: RecordingListener
) -> None:
    with client.request("GET", "/bytes/1", catch_response=True, name="one", context={"a": 1}):
        pass

    assert _only(recorder).name == "one"
    assert recorder.hooked[0]["context"] == {"a": 1}


def test_catch_response_on_a_transport_error_fails_unless_told_otherwise(
    recorder: RecordingListener,
) -> None:
    url = f"http://127.0.0.1:{unused_port()}/"
    with _client(None, recorder) as client:
        with client.request("GET", url, catch_response=True) as failed:
            assert failed.status_code == 0
        with client.request("GET", url, catch_response=True) as forgiven:
            forgiven.success()

    assert [type(r.error) for r in recorder.records] == [requests.ConnectionError, type(None)]


def test_catch_response_used_without_with_is_a_clear_error(
    client: LoadClient, recorder: RecordingListener
) -> None:
    result = client.request("GET", "/json", catch_response=True)

    with pytest.raises(AttributeError, match=r"with client\.get\(url, catch_response=True\)"):
        result.status_code  # type: ignore[attr-defined]  # noqa: B018 (the misuse under test)
    assert recorder.records == []


def test_a_verdict_after_the_block_is_refused(client: LoadClient) -> None:
    with client.get("/json", catch_response=True) as response:
        pass

    with pytest.raises(RuntimeError, match="inside the `with` block"):
        response.failure("too late")


def test_the_inherited_verbs_take_catch_response(
    client: LoadClient, recorder: RecordingListener
) -> None:
    manager = client.post("/status/500", catch_response=True)

    assert isinstance(manager, ResponseContextManager)
    with manager as response:
        response.success()
    assert _only(recorder).request_type == "POST"
    assert _only(recorder).error is None

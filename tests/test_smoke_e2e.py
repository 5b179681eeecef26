"""Smoke mode end to end: without --load-users, tasks are plain tests and nothing else changes."""

from __future__ import annotations

import pytest
from servers import LoopbackServer

NOTHING_LOADED = """
import socket, sys

def test_plain_run_loads_nothing_heavy():
    heavy = [m for m in ("gevent", "zmq", "requests", "jinja2", "tabulate", "msgpack")
             if m in sys.modules]
    assert heavy == []
    assert socket.socket.__module__ == "socket"
"""


def test_plain_run_imports_and_patches_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=NOTHING_LOADED)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    without = pytester.runpytest_subprocess("-p", "no:loadtest")
    without.assert_outcomes(passed=1)

    def lines(output: pytest.RunResult) -> list[str]:
        return [
            line
            for line in output.outlines
            if not line.startswith(("plugins:", "running:", "     in:")) and " in " not in line
        ]

    assert lines(result) == lines(without)
    assert result.errlines == without.errlines == []


def test_tasks_run_once_as_tests_with_the_real_client(
    pytester: pytest.Pytester, target: LoopbackServer
) -> None:
    pytester.makepyfile(
        test_smoke=f"""
        import pytest_loadtest as lt

        @lt.task(weight=5)
        def test_ok(load_client, load_user):
            assert load_user.id == 1
            assert load_client.get("/json").json()["ok"] is True

        @lt.task
        def test_server_error(load_client):
            load_client.get("/status/503", name="unavailable")

        @lt.user(host="{target.base_url}")
        class TestClassUser:
            def on_start(self, load_client):
                load_client.get("/cookie/set?session=abc")

            @lt.task
            def test_cookie_from_on_start(self, load_client):
                assert load_client.get("/cookie/echo").json() == {{"session": "abc"}}

            def on_stop(self, load_client):
                load_client.get("/bytes/3")
        """
    )
    result = pytester.runpytest_subprocess("--load-host", target.base_url)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*1 request(s) failed:*", "*GET unavailable: HTTPError('503 Server Error*"]
    )
    assert target.counts() == {
        ("GET", "/json"): 1,
        ("GET", "/status/503"): 1,
        ("GET", "/cookie/set"): 1,
        ("GET", "/cookie/echo"): 1,
        ("GET", "/bytes/3"): 1,
    }


def test_smoke_relative_url_without_host_names_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_nohost="""
        import pytest_loadtest as lt

        @lt.task
        def test_relative(load_client):
            load_client.get("/x")
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*MissingHostError: --load-host: the relative URL '/x' needs a host*"]
    )


def test_smoke_reports_a_raising_hook_once(
    pytester: pytest.Pytester, target: LoopbackServer
) -> None:
    pytester.makeconftest(
        """
        def pytest_loadtest_request_success(name):
            raise RuntimeError("hook broke on " + name)
        """
    )
    pytester.makepyfile(
        test_twice="""
        import pytest_loadtest as lt

        @lt.task
        def test_two_requests(load_client):
            load_client.get("/bytes/1")
            load_client.get("/bytes/2")
        """
    )
    result = pytester.runpytest_subprocess("--load-host", target.base_url)
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert output.count("raised 2 times (reported once; the run goes on)") == 1
    assert "RuntimeError: hook broke on /bytes/1" in output

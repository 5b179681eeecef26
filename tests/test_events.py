"""Event dispatch: the listener always, hook implementations only when there are any."""

from __future__ import annotations

from typing import Any

import pluggy
import pytest

from pytest_loadtest import hooks
from pytest_loadtest.events import Events, HookError, TaskRun, current_task, describe

hookimpl = pluggy.HookimplMarker("pytest")

REQUEST: dict[str, Any] = {
    "request_type": "GET",
    "name": "/x",
    "response_time": 1.5,
    "response_length": 3,
    "response": None,
    "context": {},
    "url": "http://127.0.0.1/x",
    "start_time": 100.0,
}


class Listener:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def record_request(self, *args: Any) -> None:
        self.calls.append(args)


def _events(*plugins: object) -> tuple[Events, Listener, list[HookError]]:
    manager = pytest.PytestPluginManager()
    manager.add_hookspecs(hooks)
    for plugin in plugins:
        manager.register(plugin)
    reported: list[HookError] = []
    listener = Listener()
    return (
        Events(hook=manager.hook, listener=listener, on_hook_error=reported.append),
        listener,
        reported,
    )


def test_without_implementations_no_hook_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    events, listener, _ = _events()

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("dispatch should have been skipped")

    monkeypatch.setattr(events, "fire", fail)
    events.request(exception=None, **REQUEST)
    assert listener.calls == [(None, "GET", "/x", 1.5, 3, None, 100.0)]


def test_implementations_get_only_the_arguments_they_ask_for() -> None:
    seen: list[tuple[str, Any]] = []

    class Plugin:
        @hookimpl
        def pytest_loadtest_request(self, name: str, exception: BaseException | None) -> None:
            seen.append(("request", (name, exception)))

        @hookimpl
        def pytest_loadtest_request_failure(self, exception: BaseException) -> None:
            seen.append(("failure", exception))

    events, listener, _ = _events(Plugin())
    error = ValueError("boom")
    run = TaskRun("t.py::test_a")
    token = current_task.set(run)
    try:
        events.request(exception=None, **REQUEST)
        events.request(exception=error, **REQUEST)
    finally:
        current_task.reset(token)
    assert seen == [("request", ("/x", None)), ("request", ("/x", error)), ("failure", error)]
    assert [call[0] for call in listener.calls] == ["t.py::test_a", "t.py::test_a"]
    assert run.failed  # a failed request marks the running iteration failed


def test_a_raising_implementation_is_reported_once_and_the_others_still_run() -> None:
    later: list[str] = []

    class Broken:
        @hookimpl
        def pytest_loadtest_request(self) -> None:
            raise RuntimeError("broken hook")

    class Fine:
        @hookimpl(trylast=True)
        def pytest_loadtest_request(self, name: str) -> None:
            later.append(name)

    events, listener, reported = _events(Broken(), Fine())
    for _ in range(3):
        events.request(exception=None, **REQUEST)
    assert later == ["/x", "/x", "/x"]
    assert len(listener.calls) == 3
    assert len(reported) == 1
    (error,) = events.errors.values()
    assert (error.hook, error.count) == ("pytest_loadtest_request", 3)
    assert "RuntimeError: broken hook" in error.traceback
    heading, traceback = describe(error)
    assert heading.endswith("raised 3 times (reported once; the run goes on):")
    assert traceback.endswith("RuntimeError: broken hook")

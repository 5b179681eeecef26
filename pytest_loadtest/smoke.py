"""Smoke mode: each task runs once as an ordinary test, with the real client.

A task's test fails when a request it made failed, as the load-mode verdict would say,
and a user class's ``on_start``/``on_stop`` run around it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_loadtest._attrs import TASK_ATTR
from pytest_loadtest.events import Events, TaskRun, current_task, describe

__all__ = ["SmokeRun"]


class SmokeRun:
    """Records failed requests per task and fails the task's test on them."""

    def __init__(self, events: Events) -> None:
        self.events = events
        self.failures: dict[str | None, list[str]] = {}

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for error in self.events.errors.values():
            for line in describe(error):
                terminalreporter.write_line(line)

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
        if error is not None:
            from pytest_loadtest.stats import error_text

            self.failures.setdefault(task, []).append(f"{request_type} {name}: {error_text(error)}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        if not isinstance(item, pytest.Function) or not hasattr(item.function, TASK_ATTR):
            return (yield)
        token = current_task.set(TaskRun(item.nodeid))
        try:
            _call_hook(item, "on_start")
            try:
                result = yield
            finally:
                _call_hook(item, "on_stop")
        finally:
            current_task.reset(token)
        failed = self.failures.pop(item.nodeid, [])
        if failed:
            listed = "\n".join(f"  {line}" for line in failed[:5])
            more = f"\n  ... and {len(failed) - 5} more" if len(failed) > 5 else ""
            pytest.fail(f"{len(failed)} request(s) failed:\n{listed}{more}", pytrace=False)
        return result


def _call_hook(item: pytest.Function, name: str) -> None:
    method = getattr(item.instance, name, None)
    if method is not None:
        from pytest_loadtest.users import hook_argnames

        names = hook_argnames(item.cls, name)
        method(**{arg: item._request.getfixturevalue(arg) for arg in names})

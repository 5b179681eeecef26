"""Load mode: the plugin object registered only when ``--load-users`` is given.

It turns the collected tasks into user types, runs them on gevent before the normal
test loop, reports each task as a test whose outcome is its verdict, and writes the
summary. Importing this module imports gevent; the plugin does so only in load mode.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent
import pytest

from pytest_loadtest import fixtures
from pytest_loadtest.client import LoadClient
from pytest_loadtest.events import Events, HookError
from pytest_loadtest.history import History
from pytest_loadtest.report.results import (
    HookErrorResult,
    RunInfo,
    RunResult,
    TaskInfo,
    TaskResult,
    build_result,
)
from pytest_loadtest.report.terminal import render_progress, render_summary
from pytest_loadtest.runner import Runner
from pytest_loadtest.stats import RequestStats
from pytest_loadtest.users import UserType, collect_user_types

if TYPE_CHECKING:
    from pytest_loadtest.settings import Settings

__all__ = ["LoadRun"]

TTY_PROGRESS_S = 1.0
PLAIN_PROGRESS_S = 10.0


@dataclass
class _Prepared:
    """A user type ready to run, or the error that kept it from setting up."""

    user_type: UserType
    shared_names: list[str]
    setup_error: str | None = None


class LoadRun:
    """The load phase of a pytest session and its verdicts."""

    def __init__(self, config: pytest.Config, settings: Settings, events: Events) -> None:
        self.config = config
        self.settings = settings
        self.events = events
        self.prepared: list[_Prepared] = []
        self.task_items: dict[str, _Prepared] = {}
        self.stats = RequestStats()
        self.result: RunResult | None = None
        self._runner: Runner | None = None
        self.history = History()

    # -- collection ----------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        problems: list[str] = []
        self.prepared = []
        for user_type in collect_user_types(items):
            names: list[str] = []
            try:
                for task in user_type.tasks:
                    names += fixtures.check_fixtures(task.item, task.argnames)
                for hook in ("on_start", "on_stop"):
                    names += fixtures.check_fixtures(
                        user_type.context_item, user_type.hook_argnames(hook)
                    )
            except fixtures.UnsupportedFixture as error:
                problems.append(str(error))
                continue
            prepared = _Prepared(user_type, sorted(set(names)))
            self.prepared.append(prepared)
            for task in user_type.tasks:
                self.task_items[task.node_id] = prepared
        if problems:
            raise pytest.UsageError("\n".join(problems))

    # -- the load phase ---------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            return  # pytest's own loop reports the collection errors
        if session.config.option.collectonly or not self.prepared:
            return
        shared = self._setup_shared()
        runnable = [p.user_type for p in self.prepared if p.setup_error is None]
        interrupted = False
        start = time.time()
        if runnable:
            try:
                self._run(runnable, shared, start)
            except KeyboardInterrupt:
                interrupted = True
        self.result = self._build_result(start, time.time())
        self._teardown_shared(session)
        fatal = self._runner.fatal if self._runner is not None else None
        if fatal is not None:
            pytest.exit(str(fatal), returncode=pytest.ExitCode.USAGE_ERROR)
        if interrupted:
            raise KeyboardInterrupt

    def _setup_shared(self) -> dict[str, dict[str, Any]]:
        shared: dict[str, dict[str, Any]] = {}
        for prepared in self.prepared:
            item = prepared.user_type.context_item
            try:
                shared[prepared.user_type.node_id] = fixtures.setup_shared(
                    item, prepared.shared_names
                )
            except Exception:
                prepared.setup_error = traceback.format_exc()
        return shared

    def _teardown_shared(self, session: pytest.Session) -> None:
        try:
            session._setupstate.teardown_exact(session.items[0] if session.items else None)
        except Exception:
            reporter = self._reporter()
            if reporter is not None:
                reporter.write_line("pytest-loadtest: tearing down shared fixtures failed:")
                reporter.write_line(traceback.format_exc())

    def _run(
        self, user_types: list[UserType], shared: dict[str, dict[str, Any]], start: float
    ) -> None:
        settings = self.settings
        self.events.listener = self.stats
        self.history.sample(start, 0, self.stats)
        self._runner = runner = Runner(
            user_types,
            events=self.events,
            stats=self.stats,
            make_client=lambda host: LoadClient(host, self.events),
            host=settings.host,
            shared=shared,
        )
        users = settings.users or 0
        self.events.fire("pytest_loadtest_test_start", user_count=users)
        runner.set_target(users, settings.spawn_rate)
        sampler = gevent.spawn(self._sample, start)
        try:
            runner.done.wait(timeout=settings.duration_s)
        finally:
            count = runner.user_count
            sampler.kill()
            runner.stop(settings.stop_timeout_s)
            self.history.sample(time.time(), runner.user_count, self.stats)
            self.events.fire("pytest_loadtest_test_stop", user_count=count)
            self.events.fire("pytest_loadtest_quitting")

    def _sample(self, start: float) -> None:
        runner = self._runner
        assert runner is not None
        reporter = self._reporter()
        quiet = self.config.get_verbosity() < 0 or reporter is None
        tty = reporter is not None and reporter.isatty
        every = TTY_PROGRESS_S if tty else PLAIN_PROGRESS_S
        next_line = start + every
        for tick in _ticks(start):
            self.history.sample(tick, runner.user_count, self.stats)
            if quiet or tick < next_line:
                continue
            next_line += every
            line = render_progress(
                tick - start,
                self.settings.duration_s,
                runner.user_count,
                runner.target,
                self.history.current(),
            )
            assert reporter is not None
            if tty:
                reporter.rewrite(line, erase=True)
            else:
                reporter.write_line(line)

    def _build_result(self, start: float, end: float) -> RunResult:
        tasks = [
            TaskInfo(task.node_id, prepared.user_type.node_id, task.spec.weight)
            for prepared in self.prepared
            for task in prepared.user_type.tasks
        ]
        hook_errors = [
            HookErrorResult(e.hook, e.plugin, e.count, e.traceback)
            for e in self.events.errors.values()
        ]
        info = RunInfo(
            start=start,
            end=end,
            duration_s=end - start,
            users=self.settings.users or 0,
            workers=1,
            host=self.settings.host,
        )
        return build_result(self.stats, info, tasks, self.history.rows, hook_errors)

    # -- verdicts -----------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        prepared = self.task_items.get(item.nodeid)
        if prepared is None or self.result is None:
            return None
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for when in ("setup", "call", "teardown"):
            check = (lambda: self._verdict(item.nodeid, prepared)) if when == "call" else _nothing
            call = pytest.CallInfo.from_call(check, when=when)
            report = ihook.pytest_runtest_makereport(item=item, call=call)
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        item.session._setupstate.teardown_exact(nextitem)
        return True

    def _verdict(self, node_id: str, prepared: _Prepared) -> None:
        if prepared.setup_error is not None:
            pytest.fail(
                f"setting up the fixtures of this user type failed:\n{prepared.setup_error}",
                pytrace=False,
            )
        assert self.result is not None
        task = next(t for t in self.result.tasks if t.node_id == node_id)
        if task.iterations == 0:
            pytest.skip("the load phase ran no iteration of this task")
        message = failure_message(task, self.result)
        if message:
            pytest.fail(message, pytrace=False)

    # -- summary ------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.result is None:
            return
        terminalreporter.write_sep("=", "load test summary")
        terminalreporter.write_line(render_summary(self.result))

    def on_hook_error(self, error: HookError) -> None:
        reporter = self._reporter()
        if reporter is not None:
            reporter.write_line(
                f"pytest-loadtest: {error.hook} in {error.plugin} raised "
                "(reported once; the run goes on):"
            )
            reporter.write_line(error.traceback.rstrip())

    def _reporter(self) -> pytest.TerminalReporter | None:
        reporter: pytest.TerminalReporter | None = self.config.pluginmanager.get_plugin(
            "terminalreporter"
        )
        return reporter


def failure_message(task: TaskResult, result: RunResult) -> str:
    """Why a task failed by the default rule (any failed iteration or request), or ''."""
    requests = task.requests
    if task.failures == 0 and requests.num_failures == 0:
        return ""
    lines = [
        f"{task.failures} of {task.iterations} iterations failed; "
        f"{requests.num_failures} of {requests.num_requests} requests failed"
    ]
    errors = [e for e in result.errors if task.node_id in e.tasks]
    exceptions = [e for e in result.exceptions if task.node_id in e.tasks]
    lines += [f"  {e.occurrences}x {e.method} {e.name}: {e.error}" for e in errors[:3]]
    lines += [f"  {e.count}x {e.message}" for e in exceptions[:3]]
    return "\n".join(lines)


def _ticks(start: float) -> Iterator[float]:
    """Wall-clock times about once a second, aligned to the start of the run."""
    tick = start
    while True:
        tick += 1.0
        gevent.sleep(max(0.0, tick - time.time()))
        yield time.time()


def _nothing() -> None:
    return None

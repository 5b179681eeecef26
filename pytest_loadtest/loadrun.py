"""Load mode: the plugin object registered only when ``--load-users`` is given.

It turns the collected tasks into user types, runs them on gevent before the normal
test loop, judges each task (and each whole-run threshold) as a test, writes the
requested files, and prints the summary. Importing this module imports gevent; the
plugin does so only in load mode.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import gevent
import pytest

from pytest_loadtest import fixtures, metrics
from pytest_loadtest.history import History
from pytest_loadtest.report.csvfiles import CsvWriter
from pytest_loadtest.report.results import (
    EntryResult,
    HookErrorResult,
    RunInfo,
    RunResult,
    TaskInfo,
    build_result,
)
from pytest_loadtest.report.terminal import render_progress, render_summary
from pytest_loadtest.runner import Runner
from pytest_loadtest.stats import RequestStats, StatsEntry
from pytest_loadtest.thresholds import Threshold, ThresholdError, evaluate_all, parse_threshold
from pytest_loadtest.users import UserType, collect_user_types
from pytest_loadtest.verdicts import TaskVerdict, judge_tasks, verdict_line, with_outcomes

if TYPE_CHECKING:
    from pytest_loadtest.events import Events
    from pytest_loadtest.settings import Settings
    from pytest_loadtest.thresholds import Verdict

__all__ = ["LoadRun"]

TTY_PROGRESS_S = 1.0
PLAIN_PROGRESS_S = 10.0
TASK_THRESHOLD_SOURCE = "lt.task(thresholds=...)"


@dataclass
class _Prepared:
    """A user type ready to run, or the error that kept it from setting up."""

    user_type: UserType
    shared_names: list[str]
    setup_error: str | None = None


class VerdictItem(pytest.Item):
    """A whole-run threshold or baseline rule, reported as a test of its own."""

    def __init__(self, *, run: LoadRun, expression: str, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = run
        self.expression = expression
        self.index = index  # position among the run's verdicts of that kind

    def runtest(self) -> None:
        verdict = self.run.verdict_for(self)
        if verdict is None:
            pytest.skip("the load phase did not run")
        if not verdict.passed:
            pytest.fail(verdict_line(verdict), pytrace=False)

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "loadtest", None, self.name


class LoadRun:
    """The load phase of a pytest session and its verdicts."""

    def __init__(self, config: pytest.Config, settings: Settings, events: Events) -> None:
        self.config = config
        self.settings = settings
        self.events = events
        self.prepared: list[_Prepared] = []
        self.task_items: dict[str, _Prepared] = {}
        self.task_thresholds: dict[str, tuple[Threshold, ...]] = {}
        self.task_verdicts: dict[str, TaskVerdict] = {}
        self.stats = RequestStats()
        self.metrics = metrics.MetricsRegistry()
        self.result: RunResult | None = None
        self.comparison_text = ""
        self.history = History()
        self._runner: Runner | None = None
        self._csv = CsvWriter(settings.csv_prefix) if settings.csv_prefix else None

    # -- collection ----------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, items: list[pytest.Item]
    ) -> None:
        problems: list[str] = []
        self.prepared = []
        for user_type in collect_user_types(items):
            try:
                prepared = _Prepared(user_type, self._check(user_type))
            except (fixtures.UnsupportedFixture, ValueError) as error:
                problems.append(str(error))
                continue
            self.prepared.append(prepared)
            for task in user_type.tasks:
                self.task_items[task.node_id] = prepared
        if problems:
            raise pytest.UsageError("\n".join(problems))
        if self.prepared:
            items.extend(self._verdict_items(session))

    def _check(self, user_type: UserType) -> list[str]:
        """The shared fixtures the type needs; parses its tasks' thresholds."""
        names: list[str] = []
        for task in user_type.tasks:
            names += fixtures.check_fixtures(task.item, fixtures.requested(task.item))
            try:
                self.task_thresholds[task.node_id] = tuple(
                    parse_threshold(text, source=TASK_THRESHOLD_SOURCE, task=task.node_id)
                    for text in task.spec.thresholds
                )
            except ThresholdError as error:
                raise ValueError(f"{task.node_id}: lt.task(thresholds=...): {error}") from None
        for hook in ("on_start", "on_stop"):
            names += fixtures.check_fixtures(user_type.context_item, user_type.hook_argnames(hook))
        return sorted(set(names))

    def _verdict_items(self, session: pytest.Session) -> list[VerdictItem]:
        kinds = [
            ("threshold", [t.expression for t in self.settings.thresholds]),
            ("baseline", [r.expression for r in self.settings.compare_fail]),
        ]
        return [
            VerdictItem.from_parent(
                session, name=f"{kind}[{expression}]", run=self, expression=expression, index=index
            )
            for kind, expressions in kinds
            for index, expression in enumerate(expressions)
        ]

    def verdict_for(self, item: VerdictItem) -> Verdict | None:
        if self.result is None:
            return None
        verdicts = (
            self.result.comparisons if item.name.startswith("baseline[") else self.run_verdicts
        )
        return verdicts[item.index] if item.index < len(verdicts) else None

    @property
    def run_verdicts(self) -> tuple[Verdict, ...]:
        """The whole-run thresholds' verdicts, in the order they were given."""
        assert self.result is not None
        return tuple(v for v in self.result.thresholds if v.source != TASK_THRESHOLD_SOURCE)

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
        metrics.activate(self.metrics)
        try:
            if runnable:
                self._run(runnable, shared, start)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            metrics.activate(metrics.MetricsRegistry())
            self._finish(start, time.time())
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
            self._say("pytest-loadtest: tearing down shared fixtures failed:")
            self._say(traceback.format_exc())

    def _run(
        self, user_types: list[UserType], shared: dict[str, dict[str, Any]], start: float
    ) -> None:
        settings = self.settings
        client_class = settings.client_class()
        self.events.listener = self.stats
        self.history.sample(start, 0, self.stats)
        if self._csv is not None:
            self._csv.start()
        self._runner = runner = Runner(
            user_types,
            events=self.events,
            stats=self.stats,
            make_client=lambda host: client_class(host, self.events),
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
            self._record_history(time.time(), runner.user_count)
            self.events.fire("pytest_loadtest_test_stop", user_count=count)
            self.events.fire("pytest_loadtest_quitting")

    def _record_history(self, timestamp: float, user_count: int) -> None:
        rows = self.history.sample(timestamp, user_count, self.stats)
        if self._csv is not None:
            self._csv.append_history(rows)

    def _sample(self, start: float) -> None:
        runner = self._runner
        assert runner is not None
        reporter = self._reporter()
        quiet = self.config.get_verbosity() < 0 or reporter is None
        tty = reporter is not None and reporter.isatty
        every = TTY_PROGRESS_S if tty else PLAIN_PROGRESS_S
        next_line = start + every
        for tick in _ticks(start):
            self._record_history(tick, runner.user_count)
            if self._csv is not None:
                self._csv.write_stats(self._build_result(start, tick))
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
        result = build_result(self.stats, info, tasks, self.history.rows, hook_errors)
        return replace(result, metrics=metrics.build_metric_results(self.metrics, info.duration_s))

    def _finish(self, start: float, end: float) -> None:
        """Judge the run and write every requested file, even after an interruption."""
        result = self._build_result(start, end)
        thresholds = [*self.settings.thresholds]
        for task_thresholds in self.task_thresholds.values():
            thresholds += task_thresholds
        result = replace(
            result, thresholds=evaluate_all(thresholds, result, percentile_of=self._percentile_of())
        )
        if self.settings.baseline is not None:
            result = self._compare(result)
        self.task_verdicts = judge_tasks(result, self.task_thresholds, self.settings.thresholds)
        self.result = result = with_outcomes(result, self.task_verdicts)
        self._write_files(result)

    def _percentile_of(self) -> Callable[[EntryResult, float], float | None]:
        """Exact percentiles from the histograms, for those the entries do not store."""
        by_name = self.stats.by_name()

        def percentile_of(entry: EntryResult, p: float) -> float | None:
            if (entry.type, entry.name) == ("", "Aggregated"):
                source: StatsEntry | None = self.stats.total()
            elif entry.type == "" and entry.name in self.stats.tasks:
                source = self.stats.for_task(entry.name)
            elif entry.type == "timer" and entry.name in self.metrics.series:
                source = self.metrics.series[entry.name].timing
            else:
                source = by_name.get((entry.type, entry.name))
            return source.percentile(p) if source is not None and source.num_requests else None

        return percentile_of

    def _compare(self, result: RunResult) -> RunResult:
        from pytest_loadtest.report.compare import check, compare, render_comparison
        from pytest_loadtest.report.jsonfile import to_json

        assert self.settings.baseline is not None
        comparison = compare(self.settings.baseline, to_json(result))
        self.comparison_text = render_comparison(comparison)
        return replace(result, comparisons=check(self.settings.compare_fail, comparison))

    def _write_files(self, result: RunResult) -> None:
        if self.settings.json_path:
            from pytest_loadtest.report.jsonfile import write_json

            write_json(result, self.settings.json_path)
        if self.settings.report_path:
            from pytest_loadtest.report.html import write_report

            write_report(result, self.settings.report_path)
        if self._csv is not None:
            self._csv.finish(result)

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
            check = (lambda: self._judge(item.nodeid, prepared)) if when == "call" else _nothing
            call = pytest.CallInfo.from_call(check, when=when)
            report = ihook.pytest_runtest_makereport(item=item, call=call)
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        item.session._setupstate.teardown_exact(nextitem)
        return True

    def _judge(self, node_id: str, prepared: _Prepared) -> None:
        if prepared.setup_error is not None:
            pytest.fail(
                f"setting up the fixtures of this user type failed:\n{prepared.setup_error}",
                pytrace=False,
            )
        verdict = self.task_verdicts[node_id]
        if verdict.outcome == "skipped":
            pytest.skip(verdict.message)
        if verdict.outcome == "failed":
            pytest.fail(verdict.message, pytrace=False)

    # -- summary ------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.result is None:
            return
        terminalreporter.write_sep("=", "load test summary")
        terminalreporter.write_line(render_summary(self.result))
        if self.result.overflowed:
            terminalreporter.write_line(
                f"pytest-loadtest: warning: {self.result.overflowed:,} requests past the cap of "
                f"{self.stats.max_entries:,} distinct (task, type, name) entries were counted "
                "under the name '(other)'; group URLs with name=",
                yellow=True,
            )
        verdicts = (*self.result.thresholds, *self.result.comparisons)
        if verdicts:
            terminalreporter.write_sep("-", "thresholds")
            for verdict in verdicts:
                scope = "" if verdict.source != TASK_THRESHOLD_SOURCE else f"  [{verdict.scope}]"
                terminalreporter.write_line(verdict_line(verdict) + scope)
        if self.comparison_text:
            terminalreporter.write_line("")
            terminalreporter.write_line(self.comparison_text)
        for path in self._written():
            terminalreporter.write_line(f"pytest-loadtest: wrote {path}")

    def _written(self) -> list[str]:
        paths = [p for p in (self.settings.json_path, self.settings.report_path) if p]
        if self._csv is not None:
            paths += self._csv.paths()
        return paths

    def _say(self, line: str) -> None:
        reporter = self._reporter()
        if reporter is not None:
            reporter.write_line(line)

    def _reporter(self) -> pytest.TerminalReporter | None:
        reporter: pytest.TerminalReporter | None = self.config.pluginmanager.get_plugin(
            "terminalreporter"
        )
        return reporter


def _ticks(start: float) -> Iterator[float]:
    """Wall-clock times about once a second, aligned to the start of the run."""
    tick = start
    while True:
        tick += 1.0
        gevent.sleep(max(0.0, tick - time.time()))
        yield time.time()


def _nothing() -> None:
    return None

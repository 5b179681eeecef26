"""The results of a run as plain frozen data: the one model behind every output.

:func:`build_result` is a pure function of the stats and the facts the caller knows;
the terminal, JSON, CSV and HTML outputs only render what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_loadtest.history import HistoryRow
    from pytest_loadtest.metrics import MetricResult
    from pytest_loadtest.stats import ErrorEntry, RequestStats, StatsEntry
    from pytest_loadtest.thresholds import Verdict


@dataclass(frozen=True)
class EntryResult:
    """The numbers of one (type, name) series or of the total; times in ms, rates per second."""

    type: str
    name: str
    num_requests: int
    num_failures: int
    min_ms: float  # 0 when there were no requests
    max_ms: float
    avg_ms: float
    median_ms: float
    percentiles_ms: dict[str, float]  # keyed by stats.percentile_key, for stats.PERCENTILES
    rps: float
    fail_rps: float
    avg_content_length: float
    fail_ratio: float


@dataclass(frozen=True)
class ErrorResult:
    """One distinct request failure; times are Unix seconds."""

    method: str
    name: str
    error: str
    occurrences: int
    first_seen: float
    last_seen: float
    tasks: tuple[str, ...] = ()  # the tasks whose requests failed so


@dataclass(frozen=True)
class ExceptionResult:
    """One distinct exception from user code, over every task that raised it."""

    count: int
    message: str
    traceback: str
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class TaskInfo:
    """What the caller knows of a task before the run."""

    node_id: str
    user_type: str
    weight: int


@dataclass(frozen=True)
class TaskResult:
    """A task's iterations, and every request it made."""

    node_id: str
    user_type: str
    weight: int
    iterations: int
    failures: int  # failed iterations: raised, or made a failed request
    requests: EntryResult
    outcome: str = ""  # "passed", "failed" or "skipped" once the verdicts are in


@dataclass(frozen=True)
class RunInfo:
    """The run's facts: start and end in Unix seconds."""

    start: float
    end: float
    duration_s: float
    users: int
    workers: int
    host: str | None


@dataclass(frozen=True)
class HookErrorResult:
    """A hook implementation that raised (``count`` times; the first traceback)."""

    hook: str
    plugin: str
    count: int
    traceback: str


@dataclass(frozen=True)
class RunResult:
    """Everything a report shows."""

    run: RunInfo
    entries: tuple[EntryResult, ...]  # sorted by (name, type)
    total: EntryResult
    errors: tuple[ErrorResult, ...]  # most frequent first
    exceptions: tuple[ExceptionResult, ...]  # most frequent first
    tasks: tuple[TaskResult, ...]
    history: tuple[HistoryRow, ...]
    hook_errors: tuple[HookErrorResult, ...]
    overflowed: int  # requests recorded under "(other)" past the entry cap
    metrics: tuple[MetricResult, ...] = ()  # custom metrics (pytest_loadtest.metrics)
    thresholds: tuple[Verdict, ...] = ()  # filled in once the thresholds are evaluated
    comparisons: tuple[Verdict, ...] = ()  # --load-compare-fail verdicts against a baseline


def build_result(
    stats: RequestStats,
    run: RunInfo,
    tasks: Sequence[TaskInfo],
    history: Sequence[HistoryRow],
    hook_errors: Sequence[HookErrorResult] = (),
) -> RunResult:
    """The results of a run; rates are over ``run.duration_s``."""
    by_name = stats.by_name()
    return RunResult(
        run=run,
        entries=tuple(
            entry_result(by_name[key], run.duration_s)
            for key in sorted(by_name, key=lambda k: (k[1], k[0]))
        ),
        total=entry_result(stats.total(), run.duration_s),
        errors=_errors(stats),
        exceptions=_exceptions(stats),
        tasks=tuple(_task(stats, info, run.duration_s) for info in tasks),
        history=tuple(history),
        hook_errors=tuple(hook_errors),
        overflowed=stats.overflowed,
    )


def entry_result(entry: StatsEntry, duration_s: float) -> EntryResult:
    """One entry's numbers, with its rates over ``duration_s`` (0 when that is 0)."""
    return EntryResult(
        type=entry.method,
        name=entry.name,
        num_requests=entry.num_requests,
        num_failures=entry.num_failures,
        min_ms=entry.min_response_time if entry.num_requests else 0.0,
        max_ms=entry.max_response_time,
        avg_ms=entry.avg_response_time,
        median_ms=entry.median_response_time,
        percentiles_ms=entry.percentile_map(),
        rps=entry.num_requests / duration_s if duration_s > 0 else 0.0,
        fail_rps=entry.num_failures / duration_s if duration_s > 0 else 0.0,
        avg_content_length=entry.avg_content_length,
        fail_ratio=entry.fail_ratio,
    )


def _errors(stats: RequestStats) -> tuple[ErrorResult, ...]:
    """The request failures grouped over tasks: one row per (method, name, error)."""
    merged: dict[tuple[str, str, str], ErrorEntry] = {}
    tasks: dict[tuple[str, str, str], set[str]] = {}
    for e in stats.errors.values():
        key = (e.method, e.name, e.error)
        known = merged.get(key)
        if known is None:
            merged[key] = e.copy()
        else:
            known.merge(e)
        if e.task is not None:
            tasks.setdefault(key, set()).add(e.task)
    errors = sorted(merged.values(), key=lambda e: (-e.occurrences, e.name, e.method, e.error))
    return tuple(
        ErrorResult(
            e.method,
            e.name,
            e.error,
            e.occurrences,
            e.first_seen,
            e.last_seen,
            tuple(sorted(tasks.get((e.method, e.name, e.error), ()))),
        )
        for e in errors
    )


def _exceptions(stats: RequestStats) -> tuple[ExceptionResult, ...]:
    """The exceptions grouped over tasks: the same error and traceback is one row."""
    counts: dict[tuple[str, str], int] = {}
    tasks: dict[tuple[str, str], set[str]] = {}
    for exc in stats.exceptions.values():
        key = (exc.message, exc.traceback)
        counts[key] = counts.get(key, 0) + exc.count
        owners = tasks.setdefault(key, set())
        if exc.task is not None:
            owners.add(exc.task)
    return tuple(
        ExceptionResult(counts[key], key[0], key[1], tuple(sorted(tasks[key])))
        for key in sorted(counts, key=lambda k: (-counts[k], k))
    )


def _task(stats: RequestStats, info: TaskInfo, duration_s: float) -> TaskResult:
    counters = stats.tasks.get(info.node_id)
    return TaskResult(
        node_id=info.node_id,
        user_type=info.user_type,
        weight=info.weight,
        iterations=counters.iterations if counters else 0,
        failures=counters.failures if counters else 0,
        requests=entry_result(stats.for_task(info.node_id), duration_s),
    )

"""The JSON results file (``--load-json``): every number of a run, schema ``pytest-loadtest/1``.

:func:`to_json` is pure (the result in, plain data out); :func:`write_json` writes it.
The schema is documented field by field in the docs ("Result files"), and in machine form
in ``pytest-loadtest-1.schema.json`` beside them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pytest_loadtest.report.writing import write_atomic

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_loadtest.history import HistoryRow
    from pytest_loadtest.metrics import MetricResult
    from pytest_loadtest.report.results import EntryResult, RunResult, TaskResult
    from pytest_loadtest.thresholds import Verdict

#: The value of the file's ``"schema"`` key; bumped only by an incompatible change.
SCHEMA = "pytest-loadtest/1"


def to_json(result: RunResult) -> dict[str, Any]:
    """The run as plain JSON data: times in ms, rates per second, timestamps in Unix seconds.

    A number that is not finite (a custom counter incremented by NaN, a comparison against
    a zero baseline) becomes ``None``, so the data always serialises as strict JSON.
    """
    run = result.run
    data = {
        "schema": SCHEMA,
        "run": {
            "start": run.start,
            "end": run.end,
            "start_iso": _iso(run.start),
            "end_iso": _iso(run.end),
            "duration_s": run.duration_s,
            "users": run.users,
            "workers": run.workers,
            "host": run.host,
        },
        "entries": [_entry(e) for e in result.entries],
        "total": _entry(result.total),
        "errors": [asdict(e) for e in result.errors],
        "exceptions": [asdict(e) for e in result.exceptions],
        "tasks": [_task(t) for t in result.tasks],
        "metrics": [_metric(m) for m in result.metrics],
        "thresholds": [_verdict(v) for v in result.thresholds],
        "comparisons": [_verdict(v) for v in result.comparisons],
        "history": [_history(row) for row in result.history],
        "hook_errors": [asdict(h) for h in result.hook_errors],
        "overflowed": result.overflowed,
    }
    cleaned: dict[str, Any] = _finite(data)
    return cleaned


def write_json(result: RunResult, path: str | Path) -> None:
    """Write :func:`to_json` to ``path`` (parent directories created), replacing it atomically."""
    text = json.dumps(to_json(result), indent=2, allow_nan=False, ensure_ascii=False)
    write_atomic(path, text + "\n")


def _iso(timestamp: float) -> str:
    """UTC ISO-8601 with milliseconds: ``2023-11-14T22:13:20.000Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _entry(entry: EntryResult) -> dict[str, Any]:
    return asdict(entry)


def _task(task: TaskResult) -> dict[str, Any]:
    return {
        "node_id": task.node_id,
        "user_type": task.user_type,
        "weight": task.weight,
        "iterations": task.iterations,
        "failures": task.failures,
        "outcome": task.outcome,
        "requests": _entry(task.requests),
    }


def _metric(metric: MetricResult) -> dict[str, Any]:
    return {
        "name": metric.name,
        "kind": metric.kind,
        "count": metric.count,
        "rate": metric.rate,
        "timing": None if metric.timing is None else _entry(metric.timing),
        "tasks": dict(metric.tasks),
    }


def _verdict(verdict: Verdict) -> dict[str, Any]:
    return {
        "expression": verdict.expression,
        "scope": verdict.scope,
        "source": verdict.source,
        "observed": verdict.observed,
        "observed_text": verdict.observed_text,
        "passed": verdict.passed,
    }


def _history(row: HistoryRow) -> dict[str, Any]:
    return {
        "timestamp": row.timestamp,
        "user_count": row.user_count,
        "rps": row.rps,
        "fail_rps": row.fail_rps,
        "percentiles_ms": dict(row.percentiles),
        "num_requests": row.num_requests,
        "num_failures": row.num_failures,
        "median_ms": row.median_ms,
        "avg_ms": row.avg_ms,
        "min_ms": row.min_ms,
        "max_ms": row.max_ms,
        "avg_content_length": row.avg_content_length,
    }


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float, however deeply nested, replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value

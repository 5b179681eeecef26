"""Terminal output: the live progress line and the end-of-run summary tables.

Rendering only: every function returns a string and the caller writes it.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from tabulate import SEPARATING_LINE, tabulate

from pytest_loadtest.stats import PERCENTILES, percentile_key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_loadtest.history import HistoryRow
    from pytest_loadtest.metrics import MetricResult
    from pytest_loadtest.report.results import EntryResult, RunResult

_PERCENTILE_KEYS = tuple(map(percentile_key, PERCENTILES))


def format_ms(value: float) -> str:
    """About three significant digits, whole milliseconds from 100 up.

    ``0.0431 -> "0.043"``, ``3.14159 -> "3.14"``, ``31.4 -> "31.4"``, ``314.2 -> "314"``,
    ``31415 -> "31,415"``, ``0 -> "0"``.
    """
    if value == 0:
        return "0"
    for limit, decimals in ((1, 3), (10, 2), (100, 1)):
        # Judged after rounding, so 9.999 reads "10.0", not "10.00".
        if round(value, decimals) < limit:
            return f"{value:.{decimals}f}"
    return f"{value:,.0f}"


def format_rate(value: float, decimals: int = 2) -> str:
    return f"{value:,.{decimals}f}"


def format_clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def render_progress(
    elapsed_s: float,
    duration_s: float | None,
    users: int,
    target_users: int,
    row: HistoryRow | None,
) -> str:
    """One line of live progress, with the current (windowed) rates and percentiles.

    ``[00:12 / 01:00] users 20/20 | 1,234.5 req/s | fail 0.3% | p50 3.14 ms | p95 12.6 ms``;
    ``duration_s`` is ``None`` for a run without an end time.
    """
    clock = format_clock(elapsed_s)
    if duration_s is not None:
        clock += f" / {format_clock(duration_s)}"
    parts = [f"[{clock}] users {users}/{target_users}"]
    if row is not None:
        failed = row.fail_rps / row.rps if row.rps else 0.0
        parts += [
            f"{format_rate(row.rps, 1)} req/s",
            f"fail {failed:.1%}",
            f"p50 {format_ms(row.percentiles['50'])} ms",
            f"p95 {format_ms(row.percentiles['95'])} ms",
        ]
    return " | ".join(parts)


def render_summary(result: RunResult) -> str:
    """The end-of-run tables, each under a heading; empty sections are left out."""
    sections = [
        _request_table(result),
        _percentile_table(result),
        _metric_table(result),
        _failure_table(result),
        _exception_table(result),
        _task_table(result),
        _hook_error_table(result),
    ]
    return "\n\n".join(section for section in sections if section)


def _table(heading: str, headers: Sequence[str], rows: list[list[str]], align: str) -> str:
    """A table under ``heading``; ``align`` has an ``l`` or ``r`` per column."""
    columns = ["right" if a == "r" else "left" for a in align]
    body = tabulate(rows, headers, tablefmt="simple", disable_numparse=True, colalign=columns)
    return f"{heading}\n{body}"


def _block(title: str, text: str) -> str:
    """``text`` (a traceback) indented under ``title``."""
    return f"{title}\n{textwrap.indent(text.rstrip(), '    ')}"


def _request_table(result: RunResult) -> str:
    def cells(entry: EntryResult) -> list[str]:
        return [
            entry.type,
            entry.name,
            f"{entry.num_requests:,}",
            f"{entry.num_failures:,} ({entry.fail_ratio:.2%})",
            format_ms(entry.avg_ms),
            format_ms(entry.min_ms),
            format_ms(entry.max_ms),
            format_ms(entry.median_ms),
            format_rate(entry.rps),
            format_rate(entry.fail_rps),
        ]

    headers = ["Type", "Name", "# reqs", "# fails (%)", "Avg", "Min", "Max", "Med"]
    headers += ["req/s", "failures/s"]
    return _table(
        "Request statistics (times in ms)",
        headers,
        _with_total([cells(e) for e in result.entries], cells(result.total)),
        "llrrrrrrrr",
    )


def _percentile_table(result: RunResult) -> str:
    def cells(entry: EntryResult) -> list[str]:
        percentiles = [format_ms(entry.percentiles_ms[key]) for key in _PERCENTILE_KEYS]
        return [entry.type, entry.name, *percentiles, f"{entry.num_requests:,}"]

    headers = ["Type", "Name", *(f"{key}%" for key in _PERCENTILE_KEYS), "# reqs"]
    return _table(
        "Response time percentiles (ms)",
        headers,
        _with_total([cells(e) for e in result.entries], cells(result.total)),
        "ll" + "r" * (len(headers) - 2),
    )


def _with_total(rows: list[list[str]], total: list[str]) -> list[list[str]]:
    # tabulate draws SEPARATING_LINE as a rule; its stubs declare rows as lists of cells.
    separator: list[str] = SEPARATING_LINE  # type: ignore[assignment]
    return [*rows, separator, total] if rows else [total]


def _metric_table(result: RunResult) -> str:
    if not result.metrics:
        return ""

    def cells(metric: MetricResult) -> list[str]:
        timing = metric.timing
        if timing is None:
            times = ["-"] * 6  # counters and rates have no times
        else:
            percentiles = [timing.percentiles_ms[key] for key in ("50", "95", "99")]
            values = [timing.avg_ms, timing.min_ms, timing.max_ms, *percentiles]
            times = [format_ms(value) for value in values]
        count, per_s = format_count(metric.count), format_rate(metric.rate)
        return [metric.name, metric.kind, count, per_s, *times]

    headers = ["Name", "Kind", "Count", "rate/s", "Avg", "Min", "Max", "p50", "p95", "p99"]
    rows = [cells(m) for m in result.metrics]
    return _table("Custom metrics (times in ms)", headers, rows, "llrrrrrrrr")


def format_count(value: float) -> str:
    """Whole counts as integers (``1,234``), others with two decimals (``12.50``)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _failure_table(result: RunResult) -> str:
    if not result.errors:
        return ""
    rows = [[f"{e.occurrences:,}", e.method, e.name, e.error] for e in result.errors]
    return _table("Failures", ["# occurrences", "Method", "Name", "Error"], rows, "rlll")


def _exception_table(result: RunResult) -> str:
    if not result.exceptions:
        return ""
    rows = [
        [str(i), f"{e.count:,}", e.message, "\n".join(e.tasks)]
        for i, e in enumerate(result.exceptions, 1)
    ]
    table = _table("Exceptions", ["#", "Count", "Message", "Tasks"], rows, "rrll")
    tracebacks = [
        _block(f"#{i} traceback:", e.traceback) for i, e in enumerate(result.exceptions, 1)
    ]
    return "\n\n".join([table, *tracebacks])


def _task_table(result: RunResult) -> str:
    if not result.tasks:
        return ""
    rows = [
        [
            t.node_id,
            t.user_type,
            str(t.weight),
            f"{t.iterations:,}",
            f"{t.failures:,}",
            f"{t.requests.num_requests:,}",
            format_ms(t.requests.percentiles_ms["95"]) if t.requests.num_requests else "-",
        ]
        for t in result.tasks
    ]
    headers = ["Task", "User type", "Weight", "Iterations", "Failures", "Requests", "p95 (ms)"]
    return _table("Tasks", headers, rows, "llrrrrr")


def _hook_error_table(result: RunResult) -> str:
    if not result.hook_errors:
        return ""
    rows = [[f"{h.count:,}", h.hook, h.plugin] for h in result.hook_errors]
    table = _table("Hook errors", ["Count", "Hook", "Plugin"], rows, "rll")
    tracebacks = [_block(f"{h.hook} in {h.plugin}:", h.traceback) for h in result.hook_errors]
    return "\n\n".join([table, *tracebacks])

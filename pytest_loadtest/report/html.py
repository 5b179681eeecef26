"""The HTML report (``--load-report``): one self-contained file that opens offline.

Three steps, as for every output: :func:`build_report` is pure (the result in, a view
model of formatted cells and chart geometry out), :func:`render_html` fills the jinja2
template with it, and :func:`write_report` writes the page atomically.

The page loads nothing: the CSS is inline, the charts are SVG drawn from coordinates
computed here, and there is no script. A Content-Security-Policy in the page refuses
any load that could still slip in. Every string from the run is escaped by the
template engine.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import jinja2

from pytest_loadtest.report.terminal import format_clock, format_count, format_ms, format_rate
from pytest_loadtest.report.writing import write_atomic
from pytest_loadtest.stats import PERCENTILES, percentile_key

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pytest_loadtest.history import HistoryRow
    from pytest_loadtest.metrics import MetricResult
    from pytest_loadtest.report.results import EntryResult, RunResult
    from pytest_loadtest.thresholds import Verdict

__all__ = [
    "Cell",
    "Chart",
    "Report",
    "Series",
    "Table",
    "Tick",
    "build_report",
    "render_html",
    "write_report",
]

_PERCENTILE_KEYS = tuple(map(percentile_key, PERCENTILES))
_NO_DATA = "-"
_OUTCOMES = {"passed": ("PASS", "pass"), "failed": ("FAIL", "fail"), "skipped": ("SKIP", "skip")}

# Chart geometry, in SVG user units (the SVG scales to the page width).
CHART_WIDTH = 720
CHART_HEIGHT = 220
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 56, 24, 14, 30
_Y_TICKS = 5
_X_TICKS = 8
# With few samples a line says little; dots show where each sample is.
_MAX_DOTTED_SAMPLES = 30
# Seconds between time-axis ticks: the first that keeps the count at most _X_TICKS.
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200)


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, a CSS class, and optional text folded under it."""

    text: str
    css: str = ""  # "pass" | "fail" | "skip" | "lines" (keeps line breaks) | ""
    details: str = ""  # a traceback: shown in <details> under the text


@dataclass(frozen=True)
class Table:
    """A table: ``align`` has an ``l`` or ``r`` per column; ``total`` is its footer row."""

    id: str
    headers: tuple[str, ...]
    align: str
    rows: tuple[tuple[Cell, ...], ...]
    total: tuple[Cell, ...] | None = None
    empty: str = ""  # shown instead of the table when it has no rows


@dataclass(frozen=True)
class Tick:
    """An axis tick at ``pos`` (SVG units along its axis)."""

    pos: float
    label: str


@dataclass(frozen=True)
class Series:
    """One line of a chart: a polyline ``points`` string per unbroken run of samples."""

    label: str
    color: str
    segments: tuple[str, ...]
    dots: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Chart:
    """A line chart over the run's time, as SVG geometry; ``empty`` says why nothing is drawn."""

    id: str
    title: str
    unit: str
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    series: tuple[Series, ...]
    empty: str = ""


@dataclass(frozen=True)
class Report:
    """Everything the page shows, formatted."""

    title: str
    status: Cell  # the verdicts in one line, with "pass", "fail" or "" as its class
    facts: Table
    verdicts: Table
    tasks: Table
    charts: tuple[Chart, ...]
    requests: Table
    percentiles: Table
    failures: Table
    exceptions: Table
    metrics: Table
    hook_errors: Table


def build_report(result: RunResult) -> Report:
    """The report of ``result``: pure, every number formatted, every chart laid out."""
    started = _utc(result.run.start)
    return Report(
        title=f"Load test report, {started} UTC",
        status=_status(result),
        facts=_facts(result),
        verdicts=_verdicts(result),
        tasks=_tasks(result),
        charts=_charts(result),
        requests=_requests(result),
        percentiles=_percentiles(result),
        failures=_failures(result),
        exceptions=_exceptions(result),
        metrics=_metrics(result),
        hook_errors=_hook_errors(result),
    )


def render_html(report: Report) -> str:
    """The page of ``report``, every string escaped."""
    return _environment().get_template("report.html.j2").render(report=report)


def write_report(result: RunResult, path: str | Path) -> None:
    """Write the report of ``result`` to ``path`` (parent directories created), atomically."""
    write_atomic(path, render_html(build_report(result)))


@functools.cache
def _environment() -> jinja2.Environment:
    # autoescape=True, not select_autoescape(): that goes by file extension and would
    # leave a ".j2" template unescaped.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_loadtest.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# -- cells ----------------------------------------------------------------------------


def _row(*cells: str | Cell) -> tuple[Cell, ...]:
    return tuple(cell if isinstance(cell, Cell) else Cell(cell) for cell in cells)


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    """``12.3 s``; from a minute up with the clock too: ``90.0 s (01:30)``."""
    text = f"{seconds:,.1f} s"
    return f"{text} ({format_clock(seconds)})" if seconds >= 60 else text


def _ms(value: float, has_data: bool) -> str:
    return format_ms(value) if has_data else _NO_DATA


def _outcome(passed: bool) -> Cell:
    return Cell("PASS", "pass") if passed else Cell("FAIL", "fail")


def _lines(texts: Sequence[str]) -> Cell:
    return Cell("\n".join(texts), "lines")


# -- sections -----------------------------------------------------------------------


def _status(result: RunResult) -> Cell:
    verdicts = [v.passed for v in (*result.thresholds, *result.comparisons)]
    verdicts += [t.outcome != "failed" for t in result.tasks if t.outcome in ("passed", "failed")]
    if not verdicts:
        return Cell("No verdicts: no task was judged and no threshold was given")
    failed = verdicts.count(False)
    if failed:
        return Cell(f"FAILED: {failed} of {len(verdicts)} verdicts failed", "fail")
    return Cell(f"PASSED: all {len(verdicts)} verdicts held", "pass")


def _facts(result: RunResult) -> Table:
    run, total = result.run, result.total
    facts = [
        ("Start (UTC)", _utc(run.start)),
        ("End (UTC)", _utc(run.end)),
        ("Duration", _duration(run.duration_s)),
        ("Users", f"{run.users:,}"),
        ("Workers", f"{run.workers:,}"),
        ("Host", run.host or _NO_DATA),
        ("Requests", f"{total.num_requests:,}"),
        ("Failures", f"{total.num_failures:,} ({total.fail_ratio:.2%})"),
        ("Throughput", f"{format_rate(total.rps)} req/s"),
    ]
    if result.overflowed:
        facts.append(("Requests under (other)", f"{result.overflowed:,}"))
    return Table("run", ("Fact", "Value"), "ll", tuple(_row(*fact) for fact in facts))


def _verdicts(result: RunResult) -> Table:
    def row(kind: str, verdict: Verdict) -> tuple[Cell, ...]:
        scope = verdict.scope if verdict.scope is not None else "whole run"
        return _row(
            _outcome(verdict.passed),
            kind,
            verdict.expression,
            scope,
            verdict.observed_text,
            verdict.source,
        )

    rows = [row("threshold", v) for v in result.thresholds]
    rows += [row("baseline", v) for v in result.comparisons]
    headers = ("Result", "Kind", "Expression", "Scope", "Observed", "Given by")
    return Table("verdicts", headers, "llllrl", tuple(rows), empty="No thresholds were given.")


def _tasks(result: RunResult) -> Table:
    def outcome(text: str) -> Cell:
        label, css = _OUTCOMES.get(text, (_NO_DATA, ""))
        return Cell(label, css)

    rows = tuple(
        _row(
            outcome(t.outcome),
            t.node_id,
            t.user_type,
            str(t.weight),
            f"{t.iterations:,}",
            f"{t.failures:,}",
            f"{t.requests.num_requests:,}",
            _ms(t.requests.percentiles_ms["95"], t.requests.num_requests > 0),
        )
        for t in result.tasks
    )
    headers = ("Result", "Task", "User type", "Weight", "Iterations", "Failures", "Requests")
    return Table("tasks", (*headers, "p95 (ms)"), "lllrrrrr", rows, empty="No task was collected.")


def _entry_cells(entry: EntryResult) -> tuple[Cell, ...]:
    has_data = entry.num_requests > 0
    return _row(
        entry.type,
        entry.name,
        f"{entry.num_requests:,}",
        f"{entry.num_failures:,} ({entry.fail_ratio:.2%})",
        _ms(entry.avg_ms, has_data),
        _ms(entry.min_ms, has_data),
        _ms(entry.max_ms, has_data),
        _ms(entry.median_ms, has_data),
        format_rate(entry.rps),
        format_rate(entry.fail_rps),
        f"{entry.avg_content_length:,.0f}",
    )


def _requests(result: RunResult) -> Table:
    headers = ("Type", "Name", "# reqs", "# fails (%)", "Avg", "Min", "Max", "Med")
    return Table(
        "requests",
        (*headers, "req/s", "failures/s", "Avg size (B)"),
        "ll" + "r" * 9,
        tuple(map(_entry_cells, result.entries)),
        _entry_cells(result.total),
    )


def _percentile_cells(entry: EntryResult) -> tuple[Cell, ...]:
    has_data = entry.num_requests > 0
    times = [_ms(entry.percentiles_ms[key], has_data) for key in _PERCENTILE_KEYS]
    return _row(entry.type, entry.name, *times, f"{entry.num_requests:,}")


def _percentiles(result: RunResult) -> Table:
    headers = ("Type", "Name", *(f"{key}%" for key in _PERCENTILE_KEYS), "# reqs")
    return Table(
        "percentiles",
        headers,
        "ll" + "r" * (len(headers) - 2),
        tuple(map(_percentile_cells, result.entries)),
        _percentile_cells(result.total),
    )


def _failures(result: RunResult) -> Table:
    rows = tuple(
        _row(f"{e.occurrences:,}", e.method, e.name, e.error, _lines(e.tasks))
        for e in result.errors
    )
    headers = ("# occurrences", "Method", "Name", "Error", "Tasks")
    return Table("failures", headers, "rllll", rows, empty="No request failed.")


def _exceptions(result: RunResult) -> Table:
    rows = tuple(
        _row(f"{e.count:,}", Cell(e.message, details=e.traceback), _lines(e.tasks))
        for e in result.exceptions
    )
    headers = ("Count", "Message (click for the traceback)", "Tasks")
    return Table("exceptions", headers, "rll", rows, empty="No exception was raised.")


def _metric_cells(metric: MetricResult) -> tuple[Cell, ...]:
    timing = metric.timing
    if timing is None:
        times = [_NO_DATA] * 6  # counters and rates have no times
    else:
        has_data = timing.num_requests > 0
        values = [timing.avg_ms, timing.min_ms, timing.max_ms]
        values += [timing.percentiles_ms[key] for key in ("50", "95", "99")]
        times = [_ms(value, has_data) for value in values]
    count = format_count(metric.count)
    return _row(metric.name, metric.kind, count, format_rate(metric.rate), *times)


def _metrics(result: RunResult) -> Table:
    headers = ("Name", "Kind", "Count", "rate/s", "Avg", "Min", "Max", "p50", "p95", "p99")
    rows = tuple(map(_metric_cells, result.metrics))
    return Table("metrics", headers, "ll" + "r" * 8, rows, empty="No custom metric was recorded.")


def _hook_errors(result: RunResult) -> Table:
    rows = tuple(
        _row(f"{h.count:,}", Cell(h.hook, details=h.traceback), h.plugin)
        for h in result.hook_errors
    )
    headers = ("Count", "Hook (click for the traceback)", "Plugin")
    return Table("hook-errors", headers, "rll", rows, empty="No hook raised.")


# -- charts ---------------------------------------------------------------------------

#: A chart line: its label, its colour, and its value at a sample (None: no data there).
_Line = tuple[str, str, Callable[["HistoryRow"], float | None]]


def _window_ms(key: str) -> Callable[[HistoryRow], float | None]:
    # A window without requests has no percentiles; its rate is then 0 (and only then).
    return lambda row: row.percentiles[key] if row.rps > 0 else None


_RATE_LINES: tuple[_Line, ...] = (
    ("requests/s", "#2563eb", lambda row: row.rps),
    ("failures/s", "#dc2626", lambda row: row.fail_rps),
)
_TIME_LINES: tuple[_Line, ...] = (
    ("p50", "#059669", _window_ms("50")),
    ("p95", "#d97706", _window_ms("95")),
    ("p99", "#7c3aed", _window_ms("99")),
)
_USER_LINES: tuple[_Line, ...] = (("users", "#0891b2", lambda row: float(row.user_count)),)


def _charts(result: RunResult) -> tuple[Chart, ...]:
    return (
        _chart(result, "chart-rps", "Requests and failures per second", "per second", _RATE_LINES),
        _chart(result, "chart-times", "Response time percentiles", "ms", _TIME_LINES),
        _chart(result, "chart-users", "Users", "users", _USER_LINES),
    )


def _chart(
    result: RunResult, chart_id: str, title: str, unit: str, lines: Sequence[_Line]
) -> Chart:
    """A chart of ``lines`` over the history; rates and percentiles are the sliding window's."""
    left, top = _MARGIN_LEFT, _MARGIN_TOP
    right, bottom = CHART_WIDTH - _MARGIN_RIGHT, CHART_HEIGHT - _MARGIN_BOTTOM
    rows = result.history
    start = result.run.start
    span = max([result.run.duration_s, *(row.timestamp - start for row in rows)])
    values = [[value(row) for row in rows] for _, _, value in lines]
    known = [v for series in values for v in series if v is not None]
    empty = ""
    if len(rows) < 2 or span <= 0:
        empty = "Not enough samples: the history is sampled once a second."
    elif not known:
        empty = "No data."
    y_max, y_step = _y_scale(max(known, default=0.0))
    x_step = next((s for s in _TIME_STEPS if span / s <= _X_TICKS), _TIME_STEPS[-1])

    def x(seconds: float) -> float:
        return round(left + (right - left) * seconds / span, 1) if span > 0 else left

    def y(value: float) -> float:
        return round(bottom - (bottom - top) * value / y_max, 1)

    xs = [x(row.timestamp - start) for row in rows]
    decimals = max(0, -math.floor(math.log10(y_step)))
    return Chart(
        id=chart_id,
        title=title,
        unit=unit,
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        x_ticks=tuple(
            Tick(x(t * x_step), format_clock(t * x_step))
            for t in range(math.floor(span / x_step) + 1)
        ),
        y_ticks=tuple(
            Tick(y(i * y_step), f"{i * y_step:,.{decimals}f}")
            for i in range(round(y_max / y_step) + 1)
        ),
        series=()
        if empty
        else tuple(
            _series(label, color, xs, [None if v is None else y(v) for v in series])
            for (label, color, _), series in zip(lines, values, strict=True)
        ),
        empty=empty,
    )


def _y_scale(peak: float) -> tuple[float, float]:
    """The axis top and the tick step: a 1, 2 or 5 step, at most ``_Y_TICKS`` to the top."""
    if peak <= 0:
        return 1.0, 0.2
    magnitude = 10.0 ** math.floor(math.log10(peak / _Y_TICKS))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude * _Y_TICKS >= peak)
    return math.ceil(peak / step - 1e-9) * step, step


def _series(label: str, color: str, xs: Sequence[float], ys: Sequence[float | None]) -> Series:
    """One line, broken where a sample has no value."""
    segments: list[list[tuple[float, float]]] = [[]]
    for px, py in zip(xs, ys, strict=True):
        if py is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((px, py))
    points = [p for segment in segments for p in segment]
    return Series(
        label=label,
        color=color,
        segments=tuple(" ".join(f"{px},{py}" for px, py in s) for s in segments if s),
        dots=tuple(points) if len(xs) <= _MAX_DOTTED_SAMPLES else (),
    )

"""Locust-compatible CSV files (``--load-csv PREFIX``), and the file helpers of every report.

The ``*_rows`` functions are pure: the result in, rows of strings out (Locust's headers,
Locust's meanings). :class:`CsvWriter` writes them: the history file grows as the run
goes, the others are replaced whole, atomically, so a reader never sees half a file.

Unlike Locust, times are not rounded to whole milliseconds: they keep microseconds
(``0.412``). A text cell that a spreadsheet would run as a formula is quoted (see
:func:`safe_text`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_loadtest.report.writing import check_writable, write_atomic
from pytest_loadtest.stats import PERCENTILES, percentile_key

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pytest_loadtest.history import HistoryRow
    from pytest_loadtest.metrics import MetricResult
    from pytest_loadtest.report.results import EntryResult, RunResult

_OPTION = "--load-csv"
_PERCENTILE_KEYS = tuple(map(percentile_key, PERCENTILES))
#: Locust's percentile headers: ``50%`` ... ``99.9%`` ... ``100%``.
_PERCENTILE_HEADER = [f"{key}%" for key in _PERCENTILE_KEYS]
#: Locust writes this for every percentile of a series with no requests.
_NO_DATA = "N/A"

STATS_HEADER = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    *_PERCENTILE_HEADER,
]
HISTORY_HEADER = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    *_PERCENTILE_HEADER,
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
]
FAILURES_HEADER = ["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"]
EXCEPTIONS_HEADER = ["Count", "Message", "Traceback", "Nodes"]
#: Ours, not Locust's: one row per custom metric; the time columns are for timers only.
METRICS_HEADER = [
    "Kind",
    "Name",
    "Count",
    "Count/s",
    "Median Time",
    "Average Time",
    "Min Time",
    "Max Time",
    *_PERCENTILE_HEADER,
    "Tasks",
]

#: File name suffixes after PREFIX, with each file's header.
_FILES = {
    "stats": ("_stats.csv", STATS_HEADER),
    "history": ("_stats_history.csv", HISTORY_HEADER),
    "failures": ("_failures.csv", FAILURES_HEADER),
    "exceptions": ("_exceptions.csv", EXCEPTIONS_HEADER),
    "metrics": ("_metrics.csv", METRICS_HEADER),
}

#: What a spreadsheet may take as the start of a formula (OWASP's "CSV injection" list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Response times to the microsecond (the resolution they are measured at); rates, sizes
# and timestamps to six decimals (Locust's history writes rates so, too).
_MS_PLACES = 3
_PLACES = 6


def safe_text(text: str) -> str:
    """``text``, with a ``'`` in front if a spreadsheet would read it as a formula.

    ``"=1+2"`` becomes ``"'=1+2"``; ``"/cart"`` stays. Only text is guarded: numbers are
    written as they are, minus signs included.
    """
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def number(value: float, places: int = _PLACES) -> str:
    """``value`` rounded to ``places`` decimals, trailing zeros dropped: ``12.0 -> "12"``."""
    # Adding 0.0 turns a rounded -0.0 into 0.0, so no cell reads "-0".
    text = f"{round(value, places) + 0.0:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ms(value: float) -> str:
    return number(value, _MS_PLACES)


def _percentiles(percentiles: dict[str, float], has_data: bool) -> list[str]:
    if not has_data:
        return [_NO_DATA] * len(_PERCENTILE_KEYS)
    return [_ms(percentiles[key]) for key in _PERCENTILE_KEYS]


def _entry_row(entry: EntryResult) -> list[str]:
    return [
        safe_text(entry.type),
        safe_text(entry.name),
        str(entry.num_requests),
        str(entry.num_failures),
        _ms(entry.median_ms),
        _ms(entry.avg_ms),
        _ms(entry.min_ms),
        _ms(entry.max_ms),
        number(entry.avg_content_length),
        number(entry.rps),
        number(entry.fail_rps),
        *_percentiles(entry.percentiles_ms, entry.num_requests > 0),
    ]


def stats_rows(result: RunResult) -> list[list[str]]:
    """The stats file: the header, one row per entry, then the ``Aggregated`` total.

    Rates are over the whole run; percentiles are ``N/A`` for an entry without requests.
    """
    return [STATS_HEADER, *map(_entry_row, result.entries), _entry_row(result.total)]


def history_rows(rows: Sequence[HistoryRow]) -> list[list[str]]:
    """History file rows, no header (see :data:`HISTORY_HEADER`), in the order given.

    ``Requests/s``, ``Failures/s`` and the percentiles are the sliding window's, the
    ``Total ...`` columns cumulative. As in Locust, the timestamp is whole Unix seconds
    and the percentiles are ``N/A`` until the series has a request.
    """
    return [
        [
            str(int(row.timestamp)),
            str(row.user_count),
            safe_text(row.method),
            safe_text(row.name),
            number(row.rps),
            number(row.fail_rps),
            *_percentiles(row.percentiles, row.num_requests > 0),
            str(row.num_requests),
            str(row.num_failures),
            _ms(row.median_ms),
            _ms(row.avg_ms),
            _ms(row.min_ms),
            _ms(row.max_ms),
            number(row.avg_content_length),
        ]
        for row in rows
    ]


def failures_rows(result: RunResult) -> list[list[str]]:
    """The failures file: the header, then one row per distinct error, most frequent first.

    ``First Seen`` and ``Last Seen`` are Unix seconds, to the microsecond.
    """
    return [
        FAILURES_HEADER,
        *(
            [
                safe_text(e.method),
                safe_text(e.name),
                safe_text(e.error),
                str(e.occurrences),
                number(e.first_seen),
                number(e.last_seen),
            ]
            for e in result.errors
        ),
    ]


def exceptions_rows(result: RunResult) -> list[list[str]]:
    """The exceptions file: the header, then one row per distinct exception.

    ``Nodes`` lists the node ids of the tasks that raised it, joined with ``", "``.
    """
    return [
        EXCEPTIONS_HEADER,
        *(
            [
                str(e.count),
                safe_text(e.message),
                safe_text(e.traceback),
                safe_text(", ".join(e.tasks)),
            ]
            for e in result.exceptions
        ),
    ]


def _metric_row(metric: MetricResult) -> list[str]:
    timing = metric.timing
    if timing is None:
        times = [""] * (4 + len(_PERCENTILE_KEYS))
    else:
        has_data = timing.num_requests > 0
        times = [_ms(timing.median_ms), _ms(timing.avg_ms), _ms(timing.min_ms), _ms(timing.max_ms)]
        times += _percentiles(timing.percentiles_ms, has_data)
    tasks = ", ".join(f"{node} ({number(count)})" for node, count in metric.tasks.items())
    return [
        safe_text(metric.kind),
        safe_text(metric.name),
        number(metric.count),
        number(metric.rate),
        *times,
        safe_text(tasks),
    ]


def metrics_rows(result: RunResult) -> list[list[str]]:
    """The custom metrics file: the header, then one row per metric.

    ``Count`` is a counter's sum, a timer's number of timings or a rate's number of
    marks; ``Count/s`` is that over the run. The time columns (ms) are a timer's and empty
    for the other kinds. ``Tasks`` is each task's share: ``node id (count)``, joined with
    ``", "``.
    """
    return [METRICS_HEADER, *map(_metric_row, result.metrics)]


def to_csv(rows: Iterable[Sequence[str]]) -> str:
    """``rows`` as CSV text, in the dialect Locust writes (Python's ``excel``: CRLF lines)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


class CsvWriter:
    """Writes the CSV files of one run to ``PREFIX_stats.csv`` and the rest.

    Call :meth:`start` before the run, :meth:`append_history` with each history sample,
    :meth:`write_stats` whenever the stats file should be current, and :meth:`finish`
    with the final result.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._paths = {kind: Path(prefix + suffix) for kind, (suffix, _) in _FILES.items()}

    def paths(self) -> list[str]:
        """The files written: stats, history, failures, exceptions, metrics."""
        return [str(path) for path in self._paths.values()]

    def start(self) -> None:
        """Create every file (and the parent directories) with its header alone."""
        for kind, (_, header) in _FILES.items():
            write_atomic(self._paths[kind], to_csv([header]))

    def append_history(self, rows: Sequence[HistoryRow]) -> None:
        """Add ``rows`` to the end of the history file (written through at once)."""
        with self._paths["history"].open("a", encoding="utf-8", newline="") as file:
            file.write(to_csv(history_rows(rows)))

    def write_stats(self, result: RunResult) -> None:
        """Replace the stats file with the numbers of ``result``."""
        write_atomic(self._paths["stats"], to_csv(stats_rows(result)))

    def finish(self, result: RunResult) -> None:
        """Replace the stats, failures, exceptions and metrics files with their final rows."""
        self.write_stats(result)
        write_atomic(self._paths["failures"], to_csv(failures_rows(result)))
        write_atomic(self._paths["exceptions"], to_csv(exceptions_rows(result)))
        write_atomic(self._paths["metrics"], to_csv(metrics_rows(result)))


def check_prefix(prefix: str) -> None:
    """Raise :class:`ValueError` naming ``--load-csv`` if a file of ``prefix`` cannot be written.

    Nothing is created (see :func:`check_writable`).
    """
    if not prefix:
        raise ValueError(f"{_OPTION}: the prefix is empty")
    for suffix, _ in _FILES.values():
        check_writable(prefix + suffix, _OPTION)

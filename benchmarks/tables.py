"""The benchmark report: built as data, rendered as a terminal table, Markdown and JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from figures import Figure, Target

if TYPE_CHECKING:
    from generators import Throughput

#: (label, numerator row, denominator row): the plugin's rows against the others.
#: (label, top row, bottom row, the performance issue's target for requests/s top/bottom)
RATIOS: tuple[tuple[str, str, str, Target], ...] = (
    ("plugin requests / Locust HttpUser", "plugin-requests", "locust-http", Target(">=", 1.0)),
    (
        "plugin requests / bare requests loop",
        "plugin-requests",
        "bare-requests",
        Target(">=", 0.95),
    ),
    ("plugin fast / Locust FastHttpUser", "plugin-fast", "locust-fast", Target(">=", 1.3)),
    ("plugin fast / bare geventhttpclient loop", "plugin-fast", "bare-ghc", Target(">=", 0.9)),
)


@dataclass(frozen=True)
class Ratio:
    """One row over another: ``None`` where either did not run."""

    key: str
    label: str
    #: Requests/s over requests/s.
    rps: float | None
    #: Requests per CPU-second over requests per CPU-second: unlike requests/s, this
    #: holds when a busy machine takes CPU time away from one row and not another.
    per_cpu: float | None
    target: Target | None = None

    @property
    def verdict(self) -> str:
        """PASS/MISS of the target on the requests/s ratio; "-" when it did not run."""
        if self.target is None or self.rps is None:
            return "-"
        return "PASS" if self.target.holds(self.rps) else "MISS"


@dataclass(frozen=True)
class Report:
    """One run: when, how, with what, and every figure."""

    date: str
    command: str
    #: Setting or tool -> what it was (versions, duration, users, CPUs).
    facts: dict[str, str]
    rows: tuple[Throughput, ...]
    ratios: tuple[Ratio, ...]
    figures: tuple[Figure, ...]


def ratios(rows: tuple[Throughput, ...]) -> tuple[Ratio, ...]:
    """The :data:`RATIOS` of ``rows``."""
    by_key = {row.key: row for row in rows}
    found = []
    for label, top, bottom, target in RATIOS:
        a, b = by_key[top], by_key[bottom]
        rps = _quotient(a.rps, b.rps)
        per_cpu = _quotient(b.cpu_per_10k, a.cpu_per_10k)  # CPU per request, inverted
        found.append(Ratio(f"{top}/{bottom}", label, rps, per_cpu, target))
    return tuple(found)


def _quotient(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _row_cells(row: Throughput) -> list[str]:
    if row.requests is None:
        return [row.label, *["n/a"] * (len(_ROW_HEADERS) - 1)]
    return [
        row.label,
        f"{row.requests:,}",
        _number(row.rps, ",.0f"),
        _number(row.cpu_per_10k, ".2f"),
        _number(None if row.cpu_busy is None else row.cpu_busy * 100, ".0f"),
        " - ".join(f"{rate:,.0f}" for rate in (min(row.rounds_rps), max(row.rounds_rps))),
    ]


def _number(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _ratio_cells(ratio: Ratio) -> list[str]:
    numbers = (_number(value, ".2f") or "n/a" for value in (ratio.rps, ratio.per_cpu))
    return [ratio.label, *numbers, str(ratio.target or "-"), ratio.verdict]


def _figure_cells(figure: Figure) -> list[str]:
    return [figure.label, figure.shown, str(figure.target or "-"), figure.verdict]


_ROW_HEADERS = [
    "generator",
    "requests",
    "requests/s",
    "CPU-s per 10k requests",
    "CPU busy %",
    "requests/s, all rounds",
]
_RATIO_HEADERS = ["ratio", "requests/s", "requests per CPU-s", "target", "verdict"]
_FIGURE_HEADERS = ["figure", "value", "target", "verdict"]


#: Below this CPU busy share, a CPU-bound generator was held back by something else.
BUSY_FLOOR = 0.8


def _contention_notes(rows: tuple[Throughput, ...]) -> list[str]:
    """A warning naming the CPU-bound rows (all but wrk, which nginx bounds) that did not
    get their CPU: their requests/s say more about the machine than about the tool."""
    held = [r.label for r in rows if r.key != "wrk" and (r.cpu_busy or 1.0) < BUSY_FLOOR]
    if not held:
        return []
    return [
        f"CPU busy under {BUSY_FLOOR:.0%} for {', '.join(held)}: something else ran on that "
        "CPU; compare their requests per CPU-second, or run again on a quieter machine."
    ]


def _tables(report: Report, fmt: str) -> list[tuple[str, str]]:
    """(title, table) for each of the report's tables, in ``fmt`` (a tabulate format)."""
    # Imported here: tabulate comes with the plugin, and run.py says so to an interpreter
    # without it before anything imports it.
    from tabulate import tabulate

    def table(headers: list[str], cells: list[list[str]], align: tuple[str, ...]) -> str:
        return str(tabulate(cells, headers, tablefmt=fmt, colalign=align, disable_numparse=True))

    numbers = ("right",) * (len(_ROW_HEADERS) - 1)
    generators = table(_ROW_HEADERS, [_row_cells(r) for r in report.rows], ("left", *numbers))
    notes = [f"{row.label}: not available ({row.note})" for row in report.rows if row.note]
    notes += _contention_notes(report.rows)
    ratio_align = ("left", "right", "right", "left", "left")
    ratios = table(_RATIO_HEADERS, [_ratio_cells(r) for r in report.ratios], ratio_align)
    figures = [_figure_cells(figure) for figure in report.figures]
    return [
        ("Load generators", "\n\n".join([generators, *notes])),
        ("Ratios (same run)", ratios),
        ("Microbenchmarks", table(_FIGURE_HEADERS, figures, ("left", "right", "left", "left"))),
    ]


def _facts_line(report: Report) -> str:
    return "; ".join(f"{key} {value}" for key, value in report.facts.items())


def render_text(report: Report) -> str:
    parts = [f"{report.date}: {report.command}", _facts_line(report)]
    for title, table in _tables(report, "simple"):
        parts += ["", title, table]
    return "\n".join(parts) + "\n"


def render_markdown(report: Report) -> str:
    parts = [
        f"Measured {report.date} with `{report.command}`.",
        "",
        _facts_line(report) + ".",
    ]
    for title, table in _tables(report, "github"):
        parts += ["", f"### {title}", "", table]
    return "\n".join(parts) + "\n"


def to_json(report: Report) -> str:
    """Every figure as plain data (with each row's CPU per 10k and each verdict)."""

    def figure(item: Figure) -> dict[str, Any]:
        return {**dataclasses.asdict(item), "target": str(item.target or ""), "passed": item.passed}

    data = {
        "date": report.date,
        "command": report.command,
        "facts": report.facts,
        "rows": [
            {**dataclasses.asdict(r), "cpu_per_10k": r.cpu_per_10k, "cpu_busy": r.cpu_busy}
            for r in report.rows
        ],
        "ratios": [
            {**dataclasses.asdict(r), "target": str(r.target or ""), "verdict": r.verdict}
            for r in report.ratios
        ],
        "figures": [figure(item) for item in report.figures],
    }
    return json.dumps(data, indent=2) + "\n"

"""Baseline comparison: this run against an earlier ``--load-json`` file.

Both sides are the plain dicts of the JSON file (the current run as ``to_json(result)``), so
the file read back and the run in memory go through one code path. Entries are matched by
(type, name); ``--load-compare-fail`` rules are judged on the Aggregated row.

A rule is ``METRIC:BOUND``. The bound is a percentage and the metric says which way is bad:

- times (``p50`` .. ``p100``, ``avg``, ``med``): ``p95:10%`` fails when this run's p95 is
  more than 10% above the baseline's;
- ``rps``: ``rps:-5%`` fails when the rate fell by more than 5%. Only a fall is a regression,
  so the sign may be left out (``rps:5%`` is the same rule) and ``rps:+5%`` is refused;
- ``fail_ratio``: ``fail_ratio:+0.5%`` fails when the failure ratio rose by more than 0.5
  percentage points (an absolute change: 1.0% -> 1.6% fails, 1.0% -> 1.4% holds).

A change exactly at the bound holds. A relative change from a baseline value of 0 is
undefined, and the rule fails saying so; so does every rule when either run has no requests.
Only :func:`load_baseline` does IO.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabulate import SEPARATING_LINE, tabulate

from pytest_loadtest.report.jsonfile import SCHEMA
from pytest_loadtest.report.terminal import format_ms
from pytest_loadtest.stats import PERCENTILES, percentile_key
from pytest_loadtest.thresholds import Verdict

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "BaselineError",
    "Change",
    "CompareRule",
    "CompareRuleError",
    "Comparison",
    "ComparisonRow",
    "check",
    "compare",
    "load_baseline",
    "parse_compare_fail",
    "render_comparison",
]

#: The ``source`` of every comparison verdict.
SOURCE = "--load-compare-fail"

_PERCENTILE_KEYS = tuple(map(percentile_key, PERCENTILES))
_TIME_METRICS = (*(f"p{key}" for key in _PERCENTILE_KEYS), "avg", "med")
# Metrics whose change is a difference, not a ratio: a failure ratio moving from 0.1% to 0.2%
# has doubled, yet is a tenth of a percentage point, and a baseline of 0% is common.
_ABSOLUTE = frozenset({"fail_ratio"})
# Metrics for which a fall, not a rise, is the regression.
_FALLING_IS_BAD = frozenset({"rps"})
# Floating-point slack, so that a change which prints as exactly the bound holds.
_SLACK = 1e-9

_RULE_FORM = (
    "expected METRIC:BOUND such as p95:10%, rps:-5% or fail_ratio:+0.5%, where METRIC is "
    f"one of {', '.join(_TIME_METRICS)}, rps, fail_ratio"
)
_PERCENTILE = re.compile(r"p(?:(?P<bare>\d+(?:\.\d+)?)|\((?P<paren>\d+(?:\.\d+)?)\))")
_BOUND = re.compile(r"(?P<sign>[+-]?)(?P<number>\d+(?:\.\d+)?)%")


class BaselineError(ValueError):
    """The ``--load-baseline`` file is missing, unreadable, or not a pytest-loadtest result."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"--load-baseline {path}: {reason}")
        self.path = path
        self.reason = reason


class CompareRuleError(ValueError):
    """A ``--load-compare-fail`` expression that cannot be read."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"--load-compare-fail {expression!r}: {reason}; {_RULE_FORM}")
        self.expression = expression
        self.reason = reason


# --- the baseline file -----------------------------------------------------------------------


def load_baseline(path: str) -> dict[str, Any]:
    """The baseline at ``path``, checked to hold every key a comparison reads.

    Raises :class:`BaselineError` naming the path and what is wrong.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(path, "no such file") from None
    except UnicodeDecodeError:
        raise BaselineError(path, "not a JSON file (not UTF-8 text)") from None
    except OSError as exc:
        raise BaselineError(path, f"cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise BaselineError(path, reason) from None
    return _checked(data, path)


def _checked(data: object, path: str) -> dict[str, Any]:
    """``data``, once it is known to hold every key and value a comparison reads."""
    if not isinstance(data, dict):
        raise BaselineError(path, f"expected a JSON object, found {_json_type(data)}")
    schema = data.get("schema")
    if schema != SCHEMA:
        found = "no schema key" if "schema" not in data else f"schema {schema!r}"
        reason = f"{found}; expected schema {SCHEMA!r} (a file written by --load-json)"
        raise BaselineError(path, reason)
    entries = _required(data, "entries", "entries", path)
    if not isinstance(entries, list):
        raise BaselineError(path, f"entries: expected a list, found {_json_type(entries)}")
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(entries):
        _check_entry(entry, f"entries[{i}]", path)
        key = (entry["type"], entry["name"])
        if key in seen:
            raise BaselineError(path, f"entries[{i}]: {_label(*key)!r} appears twice")
        seen.add(key)
    _check_entry(_required(data, "total", "total", path), "total", path)
    return data


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# What each kind of value must be: its description, and the test.
_Kind = tuple[str, Callable[[object], bool]]
_TEXT: _Kind = ("a string", lambda value: isinstance(value, str))
_WHOLE: _Kind = ("a whole number", _is_whole)
_FINITE: _Kind = ("a finite number", _is_finite)
# The keys of an entry that a comparison reads.
_ENTRY_KEYS: dict[str, _Kind] = {
    "type": _TEXT,
    "name": _TEXT,
    "num_requests": _WHOLE,
    "num_failures": _WHOLE,
    "median_ms": _FINITE,
    "avg_ms": _FINITE,
    "rps": _FINITE,
    "fail_ratio": _FINITE,
}


def _check_entry(entry: object, where: str, path: str) -> None:
    if not isinstance(entry, dict):
        raise BaselineError(path, f"{where}: expected an object, found {_json_type(entry)}")
    for key, kind in _ENTRY_KEYS.items():
        _check_value(entry, key, kind, f"{where}.{key}", path)
    percentiles = _required(entry, "percentiles_ms", f"{where}.percentiles_ms", path)
    if not isinstance(percentiles, dict):
        found = _json_type(percentiles)
        raise BaselineError(path, f"{where}.percentiles_ms: expected an object, found {found}")
    for key in _PERCENTILE_KEYS:
        _check_value(percentiles, key, _FINITE, f'{where}.percentiles_ms["{key}"]', path)


def _required(mapping: dict[str, Any], key: str, where: str, path: str) -> Any:
    if key not in mapping:
        raise BaselineError(path, f"{where} is missing")
    return mapping[key]


def _check_value(mapping: dict[str, Any], key: str, kind: _Kind, where: str, path: str) -> None:
    value = _required(mapping, key, where, path)
    expected, test = kind
    if not test(value):
        raise BaselineError(path, f"{where}: expected {expected}, found {value!r}")


def _json_type(value: object) -> str:
    """``value``'s JSON type, for error messages."""
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return next((n for t, n in names.items() if isinstance(value, t)), "a number")


# --- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompareRule:
    """One ``--load-compare-fail`` rule.

    ``metric`` is canonical (``p(99.9)`` reads as ``"p99.9"``); ``bound`` is a fraction >= 0:
    the allowed relative change in the bad direction, or for ``fail_ratio`` the allowed rise
    in the ratio itself (``+0.5%`` is 0.005).
    """

    expression: str
    metric: str
    bound: float

    def regressed(self, change: float) -> bool:
        """Whether ``change`` (relative, or absolute for fail_ratio) breaks the bound."""
        worse = -change if self.metric in _FALLING_IS_BAD else change
        return worse > self.bound + _SLACK


def parse_compare_fail(text: str) -> CompareRule:
    """Read a ``--load-compare-fail`` expression: ``p95:10%``, ``rps:-5%``, ``fail_ratio:+0.5%``.

    Raises :class:`CompareRuleError` naming the option, the expression and the expected form.
    """
    expression = text.strip()
    parts = expression.split(":")
    if len(parts) != 2:
        raise CompareRuleError(expression, _colon_problem(expression, len(parts) - 1))
    metric = _metric(expression, parts[0].strip())
    return CompareRule(expression, metric, _bound(expression, metric, parts[1].strip()))


def _colon_problem(expression: str, colons: int) -> str:
    if not expression:
        return "empty"
    if colons == 0 and any(op in expression for op in "<>="):
        return "that is a threshold (give it to --load-threshold); a comparison has no operator"
    if colons == 0:
        return "no ':' between the metric and the bound"
    return "more than one ':'; a comparison applies to the whole run and takes no scope"


def _metric(expression: str, text: str) -> str:
    if not text:
        raise CompareRuleError(expression, "no metric before ':'")
    match = _PERCENTILE.fullmatch(text)
    if match:
        key = percentile_key(float(match["bare"] or match["paren"]))
        if key not in _PERCENTILE_KEYS:
            stored = ", ".join(_PERCENTILE_KEYS)
            reason = f"percentile {key} is not stored in result files (stored: {stored})"
            raise CompareRuleError(expression, reason)
        return f"p{key}"
    if text in {"avg", "med", "rps", "fail_ratio"}:
        return text
    raise CompareRuleError(expression, f"unknown metric {text!r}")


def _bound(expression: str, metric: str, text: str) -> float:
    if not text:
        raise CompareRuleError(expression, "no bound after ':'")
    match = _BOUND.fullmatch(text)
    if match is None:
        raise CompareRuleError(expression, f"the bound {text!r} is not a percentage like 10%")
    sign, way = ("-", "falls") if metric in _FALLING_IS_BAD else ("+", "rises")
    if match["sign"] not in ("", sign):
        reason = f"{metric} regresses when it {way}, so the bound is {sign}{match['number']}%"
        raise CompareRuleError(expression, reason)
    bound = float(match["number"]) / 100
    # A rate falls by 100% at most (to 0), a ratio rises by 100 points at most (0 to 1).
    if bound >= 1 and (metric in _FALLING_IS_BAD or metric in _ABSOLUTE):
        limit = "100 points" if metric in _ABSOLUTE else "100%"
        reason = f"{metric} cannot {way[:-1]} by more than {limit}, so this rule could never fail"
        raise CompareRuleError(expression, reason)
    return bound


# --- comparing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One metric in both runs.

    ``change`` is relative (``0.125`` for +12.5%), or for ``fail_ratio`` the difference of the
    ratios; ``None`` when relative and the baseline value is 0.
    """

    old: float
    new: float
    change: float | None


@dataclass(frozen=True)
class ComparisonRow:
    """One (type, name) entry, or the Aggregated total, in both runs.

    ``metrics`` holds every comparable metric by rule name (``"p95"``, ``"p99.9"``, ``"avg"``,
    ``"med"``, ``"rps"``, ``"fail_ratio"``).
    """

    type: str
    name: str
    old_requests: int
    new_requests: int
    metrics: dict[str, Change]

    @property
    def p50(self) -> Change:
        return self.metrics["p50"]

    @property
    def p95(self) -> Change:
        return self.metrics["p95"]

    @property
    def p99(self) -> Change:
        return self.metrics["p99"]

    @property
    def rps(self) -> Change:
        return self.metrics["rps"]

    @property
    def fail_ratio(self) -> Change:
        return self.metrics["fail_ratio"]


@dataclass(frozen=True)
class Comparison:
    """The entries of both runs matched by (type, name), the Aggregated row last.

    ``only_in_baseline`` and ``only_in_current`` are the unmatched (type, name) pairs.
    """

    rows: tuple[ComparisonRow, ...]
    only_in_baseline: tuple[tuple[str, str], ...]
    only_in_current: tuple[tuple[str, str], ...]

    @property
    def total(self) -> ComparisonRow:
        return self.rows[-1]


def compare(baseline: dict[str, Any], current: dict[str, Any]) -> Comparison:
    """Match the entries of two result dicts (the ``--load-json`` form); current order."""
    old = {_key(e): e for e in baseline["entries"]}
    new = {_key(e): e for e in current["entries"]}
    rows = [_row(old[key], entry) for key, entry in new.items() if key in old]
    rows.append(_row(baseline["total"], current["total"]))
    return Comparison(
        rows=tuple(rows),
        only_in_baseline=tuple(key for key in old if key not in new),
        only_in_current=tuple(key for key in new if key not in old),
    )


def _key(entry: dict[str, Any]) -> tuple[str, str]:
    return (entry["type"], entry["name"])


def _row(old: dict[str, Any], new: dict[str, Any]) -> ComparisonRow:
    before, after = _metric_values(old), _metric_values(new)
    return ComparisonRow(
        type=new["type"],
        name=new["name"],
        old_requests=old["num_requests"],
        new_requests=new["num_requests"],
        metrics={m: _change(m, before[m], after[m]) for m in after},
    )


def _metric_values(entry: dict[str, Any]) -> dict[str, float]:
    values = {f"p{key}": float(entry["percentiles_ms"][key]) for key in _PERCENTILE_KEYS}
    values.update(
        avg=float(entry["avg_ms"]),
        med=float(entry["median_ms"]),
        rps=float(entry["rps"]),
        fail_ratio=float(entry["fail_ratio"]),
    )
    return values


def _change(metric: str, old: float, new: float) -> Change:
    if metric in _ABSOLUTE:
        return Change(old, new, new - old)
    return Change(old, new, (new - old) / old if old else None)


# --- judging ---------------------------------------------------------------------------------


def check(rules: Sequence[CompareRule], comparison: Comparison) -> tuple[Verdict, ...]:
    """One verdict per rule, judged on the Aggregated row.

    ``observed`` is the change (relative, or absolute for fail_ratio); it is ``None`` and the
    verdict fails when there is nothing to compare.
    """
    return tuple(_verdict(rule, comparison.total) for rule in rules)


def _verdict(rule: CompareRule, total: ComparisonRow) -> Verdict:
    metric = total.metrics[rule.metric]
    values = f"{rule.metric} {_format_values(rule.metric, metric)}{_unit(rule.metric)}"
    if not total.old_requests:
        return _no_data(rule, "the baseline has no requests")
    if not total.new_requests:
        return _no_data(rule, "this run has no requests")
    if metric.change is None:
        return _no_data(rule, f"no relative change from a baseline of 0 ({values})")
    return Verdict(
        expression=rule.expression,
        scope=None,
        source=SOURCE,
        observed=metric.change,
        observed_text=f"{_format_change(rule.metric, metric.change)} ({values})",
        passed=not rule.regressed(metric.change),
    )


def _no_data(rule: CompareRule, why: str) -> Verdict:
    return Verdict(rule.expression, None, SOURCE, None, why, passed=False)


# --- rendering -------------------------------------------------------------------------------

_TABLE_METRICS = ("p50", "p95", "p99", "rps", "fail_ratio")


def render_comparison(comparison: Comparison) -> str:
    """The comparison table, then the entries found in only one of the runs.

    Each cell reads ``old -> new (change)``: ``41.0 -> 46.1 (+12.5%)``; a failure ratio's
    change is in percentage points (``0.50% -> 1.30% (+0.80 pp)``).
    """
    headers = ["Type", "Name", "p50 (ms)", "p95 (ms)", "p99 (ms)", "req/s", "fail ratio"]
    rows = [_cells(row) for row in comparison.rows]
    # tabulate draws SEPARATING_LINE as a rule; its stubs declare rows as lists of cells.
    separator: list[str] = SEPARATING_LINE  # type: ignore[assignment]
    if len(rows) > 1:
        rows.insert(-1, separator)
    columns = ["left", "left"] + ["right"] * len(_TABLE_METRICS)
    table = tabulate(rows, headers, tablefmt="simple", disable_numparse=True, colalign=columns)
    sections = [f"Compared with the baseline\n{table}"]
    for heading, keys in (
        ("Only in this run", comparison.only_in_current),
        ("Only in the baseline", comparison.only_in_baseline),
    ):
        if keys:
            sections.append("\n    ".join([f"{heading}:", *(_label(*key) for key in keys)]))
    return "\n\n".join(sections)


def _cells(row: ComparisonRow) -> list[str]:
    changes = [row.metrics[m] for m in _TABLE_METRICS]
    return [row.type, row.name, *map(_format_cell, _TABLE_METRICS, changes)]


def _format_cell(metric: str, change: Change) -> str:
    return f"{_format_values(metric, change)} ({_format_change(metric, change.change)})"


def _format_values(metric: str, change: Change) -> str:
    return f"{_format_value(metric, change.old)} -> {_format_value(metric, change.new)}"


def _format_value(metric: str, value: float) -> str:
    if metric == "rps":
        return f"{value:,.1f}"
    if metric in _ABSOLUTE:
        return f"{value:.2%}"
    return format_ms(value)


def _format_change(metric: str, change: float | None) -> str:
    if change is None:
        return "n/a"
    if metric in _ABSOLUTE:
        return f"{change * 100:+.2f} pp"
    return f"{change:+.1%}"


def _unit(metric: str) -> str:
    return {"rps": "/s", "fail_ratio": ""}.get(metric, " ms")


def _label(type_: str, name: str) -> str:
    return f"{type_} {name}" if type_ else name

"""Thresholds: ``[SCOPE:] METRIC OP VALUE`` expressions, parsed and judged against a run.

Pure: text in, :class:`Threshold` out; a threshold and a :class:`RunResult` in, a
:class:`Verdict` out. Examples::

    p95<300ms              p(99.9)<1s             fail_ratio<1%          rps>=200
    requests>=1000         failures==0            GET /cart: p99<500ms   /cart: avg<=80ms
    metric:cache_hits>100  metric:logins: rate>=2/s                      metric:db: p95<10ms

**Metrics.** ``avg min max med`` (the median is p50), ``pNN`` (``p95``, also ``p99.9``) and
``p(NN.N)`` for any percentile above 0 and at most 100, ``rps``, ``fail_ratio``,
``failures``, ``requests``. A custom metric (``metric:NAME:``) takes ``count`` and
``rate``, and a timer also the time metrics; ``metric:NAME OP VALUE`` means its ``count``.

**Operators.** ``< <= > >= ==``. Counts (``requests``, ``failures``, ``count``) compare
exactly; every other value is equal to the bound within a relative 1e-9, for every
operator (so ``fail_ratio<=0.3%`` holds at exactly 3 failures in 1,000 requests).

**Values** are numbers >= 0 with a unit that fits the metric, normalised as stored in
:attr:`Threshold.value`: times take ``us``, ``ms`` or ``s`` (a plain number is ms) and are
kept in ms; ``fail_ratio`` takes ``%`` or a plain fraction from 0 to 1 (``<0.01`` is
``<1%``; ``<5`` is an error rather than a silent 500%) and is kept as a fraction;
rates take ``/s`` or a plain number; counts take a plain number. A unit that does
not fit (``p95<5%``, ``rps<3ms``) is an error.

**Scopes.** The scope is everything before the last ``:`` that is followed by a metric
and an operator, so request names may hold colons (``GET http://h:8080/x: p95<1s``).
No scope is the whole run (:attr:`RunResult.total`; ``failures`` and ``fail_ratio`` of
requests). A request scope names one entry as ``TYPE NAME`` or as ``NAME`` alone; a
``NAME`` held by several types is ambiguous, and its verdict fails and says so.
``metric:`` always starts a custom metric scope (a request named ``metric`` must be
given with its type). A task's thresholds (``parse_threshold(..., task=node_id)``) are
scoped to that task: its requests for times, ``rps`` and ``requests``, its failed
iterations for ``failures`` and ``fail_ratio`` (of its iterations).

**No data** (a scope that matched nothing, times of a scope without requests, a ratio
of nothing) fails the verdict, and ``observed_text`` says why. A count or a rate of
nothing is 0, a measurement like any other.

**Percentiles** that an entry does not store (stats.PERCENTILES are stored, e.g. p97.5
is not) come from the ``percentile_of`` hook of :func:`evaluate` when one is given (the
run can compute any percentile from its histograms); otherwise the nearest stored
percentile above is used, and ``observed_text`` says so: ``"41.0 ms (p98: p97.5 is not
stored)"``. That reading is never below the true one, so a ``<`` that holds is true.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from pytest_loadtest.report.results import EntryResult, RunResult

__all__ = [
    "METRIC_PREFIX",
    "PercentileOf",
    "Threshold",
    "ThresholdError",
    "Verdict",
    "evaluate",
    "evaluate_all",
    "format_observed",
    "parse_threshold",
]

#: What starts a custom metric scope: ``metric:NAME``.
METRIC_PREFIX = "metric:"

#: ``percentile_of(entry, p)``: the exact ``p``-th percentile in ms of the series that
#: ``entry`` summarises, or ``None`` when the caller cannot tell.
PercentileOf: TypeAlias = "Callable[[EntryResult, float], float | None]"

_METRICS_HELP = (
    "metrics: avg, min, max, med, pNN, p(NN.N), rps, fail_ratio, failures, requests"
    " (metric:NAME: count, rate)"
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
_REL_TOL = 1e-9

_TIMES = {"avg": "avg_ms", "min": "min_ms", "max": "max_ms", "med": "median_ms"}
_COUNTS = frozenset({"requests", "failures", "count"})
_REQUEST_ONLY = frozenset({"rps", "fail_ratio", "failures", "requests"})
_METRIC_ONLY = frozenset({"count", "rate"})
_NAMED = frozenset(_TIMES) | _REQUEST_ONLY | _METRIC_ONLY

_METRIC_WORD = r"avg|min|max|med|rps|fail_ratio|failures|requests|count|rate"
# A scope's colon is followed by a known metric and an operator...
_SCOPE_END = re.compile(rf"\s*(?:{_METRIC_WORD}|p\d+(?:\.\d+)?|p\([^)]*\))\s*(?:<|>|==)")
# ... or, failing that, by a word and an operator: a misspelt metric after a scope is
# reported as such, not as an unknown metric named after the scope's first word.
_LOOSE_SCOPE_END = re.compile(r"\s*[A-Za-z_(][\w().]*\s*[<>=]")
_METRIC = re.compile(
    r"p\((?P<inner>[^)<>=\s]*)(?P<close>\))?|p(?P<digits>\d+(?:\.\d+)?)(?![\w.])|[A-Za-z_]\w*"
)
_PERCENTILE = re.compile(r"\d+(?:\.\d+)?")
_PERCENTILE_NAME = re.compile(r"p[\d.]+")
_OP = re.compile(r"<=|>=|==|<|>")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_UNIT = re.compile(r"%|/[A-Za-z]*|[A-Za-z]+")
_SHORTHAND_NAME = re.compile(r"[^\s<>=]+")


@dataclass(frozen=True)
class _Family:
    """The units a kind of metric takes, each with its factor to the normalised unit."""

    units: Mapping[str, Decimal]  # "" is a plain number
    hint: str


_TIME = _Family(
    {"us": Decimal("0.001"), "ms": Decimal(1), "s": Decimal(1000), "": Decimal(1)},
    "a time takes us, ms or s (a plain number is ms)",
)
_RATIO = _Family(
    {"%": Decimal("0.01"), "": Decimal(1)}, "a ratio takes % or a plain fraction from 0 to 1"
)
_RATE = _Family({"/s": Decimal(1), "": Decimal(1)}, "a rate takes /s or a plain number")
_COUNT = _Family({"": Decimal(1)}, "a count takes a plain number")
_ALL_UNITS = frozenset().union(*(f.units for f in (_TIME, _RATIO, _RATE)))


def _family(metric: str) -> _Family:
    if metric in _TIMES or _PERCENTILE_NAME.fullmatch(metric):
        return _TIME
    if metric == "fail_ratio":
        return _RATIO
    if metric in ("rps", "rate"):
        return _RATE
    return _COUNT


class ThresholdError(ValueError):
    """A malformed threshold expression.

    The message names the expression and what is wrong, points at the offending
    character, and lists the metrics::

        invalid threshold 'p95<<300ms': expected a number after '<'
          p95<<300ms
              ^
        metrics: avg, min, max, ...
    """

    def __init__(self, expression: str, reason: str, position: int, source: str) -> None:
        super().__init__(
            f"invalid threshold {expression!r}: {reason}\n"
            f"  {expression}\n"
            f"  {' ' * position}^\n"
            f"{_METRICS_HELP}"
        )
        self.expression = expression
        self.reason = reason
        #: The offending character's index in ``expression`` (its length: at the end).
        self.position = position
        self.source = source


@dataclass(frozen=True)
class Verdict:
    """One threshold (or baseline comparison) judged against a run.

    ``observed`` is normalised (ms, a fraction, per second, a count; for a comparison
    the relative change) or ``None`` when there was no data, and then ``passed`` is
    false and ``observed_text`` says why.
    """

    expression: str  # as the user wrote it, stripped
    scope: str | None  # None: the whole run; a request name; "metric:NAME"; a task node id
    source: str  # "--load-threshold", "load_thresholds (ini)", "lt.task(thresholds=...)", ...
    observed: float | None
    observed_text: str  # "412 ms", "1.30%", "203.4/s", "17", or why there is no data
    passed: bool


@dataclass(frozen=True)
class Threshold:
    """A parsed threshold (made by :func:`parse_threshold`).

    ``metric`` is canonical (``"avg"``, ``"min"``, ``"max"``, ``"med"``, ``"p95"``,
    ``"p99.9"``, ``"rps"``, ``"fail_ratio"``, ``"failures"``, ``"requests"``, ``"count"``,
    ``"rate"``); ``percentile`` is set for the ``pNN`` ones; ``value`` is normalised
    (ms, a fraction, per second, a count). ``scope`` is ``None`` for the whole run, a
    request name, ``"metric:NAME"``, or, when ``for_task``, a task node id.
    """

    expression: str
    scope: str | None
    metric: str
    percentile: float | None
    op: str
    value: float
    source: str
    for_task: bool = False

    @property
    def covers_failures(self) -> bool:
        """Whether this threshold judges failures, which turns the default rule off."""
        return self.metric in ("fail_ratio", "failures")

    @property
    def scope_kind(self) -> str:
        """``"run"``, ``"request"``, ``"metric"`` or ``"task"``."""
        if self.scope is None:
            return "run"
        if self.for_task:
            return "task"
        return "metric" if self.scope.startswith(METRIC_PREFIX) else "request"

    def holds(self, observed: float) -> bool:
        """Whether ``observed`` (normalised like :attr:`value`) meets this threshold."""
        if self.metric not in _COUNTS and math.isclose(observed, self.value, rel_tol=_REL_TOL):
            observed = self.value
        return _OPS[self.op](observed, self.value)


# -- parsing -----------------------------------------------------------------------------


class _Cursor:
    """A position in an expression, and errors that point at it."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def take(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """Match ``pattern`` after any spaces, and move past the match."""
        self.skip_spaces()
        match = pattern.match(self.text, self.pos)
        if match is not None:
            self.pos = match.end()
        return match

    def error(self, reason: str, at: int | None = None) -> ThresholdError:
        return ThresholdError(self.text, reason, self.pos if at is None else at, self.source)


def parse_threshold(text: str, *, source: str, task: str | None = None) -> Threshold:
    """Parse one expression; ``source`` says where it was given (for the verdict).

    With ``task`` (a node id) the threshold is scoped to that task, and a scope in the
    expression is an error. Raises :class:`ThresholdError`.
    """
    expression = text.strip()
    cursor = _Cursor(expression, source)
    if not expression:
        raise cursor.error("the expression is empty")
    scope, shorthand = _scope(cursor)
    if task is not None and scope is not None:
        raise cursor.error(
            f"a task's threshold is scoped to its task already: it takes no scope (here {scope!r})",
            at=0,
        )
    is_metric = scope is not None and scope.startswith(METRIC_PREFIX)
    metric, percentile = ("count", None) if shorthand else _metric(cursor, is_metric)
    op = _operator(cursor)
    value = _value(cursor, metric, op)
    cursor.skip_spaces()
    if cursor.pos < len(expression):
        raise cursor.error(f"unexpected {expression[cursor.pos :]!r} after the value")
    return Threshold(
        expression=expression,
        scope=task if task is not None else scope,
        metric=metric,
        percentile=percentile,
        op=op,
        value=value,
        source=source,
        for_task=task is not None,
    )


def _scope(cursor: _Cursor) -> tuple[str | None, bool]:
    """The scope (``None``: none), and whether it is the ``metric:NAME OP VALUE`` shorthand.

    Leaves the cursor at the metric (at the operator for the shorthand).
    """
    text = cursor.text
    colon = _scope_colon(text)
    if colon is not None:
        scope = text[:colon].strip()
        if not scope:
            raise cursor.error(
                "nothing before ':': a scope is a request name ('GET /cart: p95<300ms')"
                " or metric:NAME",
                at=colon,
            )
        if scope.startswith(METRIC_PREFIX):
            name = scope.removeprefix(METRIC_PREFIX).strip()
            if not name:
                raise cursor.error("expected a metric name after 'metric:'", at=len(METRIC_PREFIX))
            scope = METRIC_PREFIX + name
        cursor.pos = colon + 1
        return scope, False
    if text.startswith(METRIC_PREFIX):
        cursor.pos = len(METRIC_PREFIX)
        shorthand = cursor.take(_SHORTHAND_NAME)
        if shorthand is None:
            raise cursor.error("expected a metric name after 'metric:'")
        return METRIC_PREFIX + shorthand.group(), True
    return None, False


def _scope_colon(text: str) -> int | None:
    """The index of the colon that ends the scope, if there is one."""
    colons = [i for i, char in enumerate(text) if char == ":"]
    # "metric:" alone is no scope: in "metric:count>5" the custom metric is named "count".
    colons = [i for i in reversed(colons) if text[:i].strip() != METRIC_PREFIX[:-1]]
    for pattern in (_SCOPE_END, _LOOSE_SCOPE_END):
        for i in colons:
            if pattern.match(text, i + 1):
                return i
    return None


def _metric(cursor: _Cursor, is_metric: bool) -> tuple[str, float | None]:
    """The canonical metric name, and its percentile for the ``pNN`` ones."""
    match = cursor.take(_METRIC)
    if match is None:
        raise cursor.error("expected a metric")
    if match["inner"] is not None:
        if match["close"] is None:
            raise cursor.error("expected ')' to close the percentile")
        return _percentile(cursor, match["inner"], match.start("inner"))
    if match["digits"] is not None:
        return _percentile(cursor, match["digits"], match.start("digits"))
    word = match.group()
    if word not in _NAMED:
        raise cursor.error(f"unknown metric {word!r}", at=match.start())
    if word in _METRIC_ONLY and not is_metric:
        raise cursor.error(
            f"{word!r} needs a custom metric scope, e.g. metric:NAME: {word}>10", at=match.start()
        )
    if word in _REQUEST_ONLY and is_metric:
        raise cursor.error(
            f"a custom metric has no {word}: it has count and rate"
            " (and avg, min, max, med, pNN for a timer)",
            at=match.start(),
        )
    return word, None


def _percentile(cursor: _Cursor, text: str, at: int) -> tuple[str, float]:
    p = float(text) if _PERCENTILE.fullmatch(text) else math.nan
    if not 0 < p <= 100:  # NaN fails too
        raise cursor.error(
            f"bad percentile {text!r}: expected a number above 0 and at most 100", at=at
        )
    return _percentile_name(p), p


def _percentile_name(p: float) -> str:
    """``95.0 -> "p95"``, ``99.9 -> "p99.9"``."""
    return f"p{p:.15g}"


def _operator(cursor: _Cursor) -> str:
    after = cursor.text[: cursor.pos].rstrip()
    match = cursor.take(_OP)
    if match is None:
        hint = " ('=' alone is not one)" if cursor.text.startswith("=", cursor.pos) else ""
        raise cursor.error(f"expected an operator (<, <=, >, >=, ==) after {after!r}{hint}")
    return match.group()


def _value(cursor: _Cursor, metric: str, op: str) -> float:
    """The bound, normalised to the metric's unit."""
    cursor.skip_spaces()
    if cursor.text.startswith("-", cursor.pos):
        raise cursor.error("the value cannot be negative")
    number = cursor.take(_NUMBER)
    if number is None:
        raise cursor.error(f"expected a number after {op!r}")
    unit_match = cursor.take(_UNIT)
    unit = unit_match.group() if unit_match else ""
    family = _family(metric)
    if unit not in family.units:
        assert unit_match is not None  # every family takes a plain number
        wrong = (
            f"{unit!r} does not fit {metric}" if unit in _ALL_UNITS else f"unknown unit {unit!r}"
        )
        raise cursor.error(f"{wrong}: {family.hint}", at=unit_match.start())
    # Decimal, so that 250us is exactly 0.25 and 0.3% exactly the float nearest 0.003.
    value = float(Decimal(number.group()) * family.units[unit])
    if family is _RATIO and value > 1:
        raise cursor.error(
            "a fail_ratio is at most 1 (100%): a plain number is a fraction, e.g. 0.05 or 5%",
            at=number.start(),
        )
    if math.isinf(value):
        raise cursor.error("the value is too large", at=number.start())
    return value


# -- evaluation --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subject:
    """What a scope resolved to: its numbers, and why the ones it lacks are missing."""

    counts: Mapping[str, float]  # the metrics that always have a value (0 is one)
    times: EntryResult | None
    no_times: str  # why there are no times, when ``times`` is None or empty
    fail_ratio: float | None = None
    no_ratio: str = ""


def evaluate(
    threshold: Threshold, result: RunResult, *, percentile_of: PercentileOf | None = None
) -> Verdict:
    """Judge ``threshold`` against ``result``; no data is a failed verdict.

    ``percentile_of`` gives percentiles that the entries do not store (see the module).
    """
    observed = _observe(threshold, result, percentile_of)
    if isinstance(observed, str):
        return Verdict(
            threshold.expression, threshold.scope, threshold.source, None, observed, False
        )
    value, note = observed
    return Verdict(
        threshold.expression,
        threshold.scope,
        threshold.source,
        value,
        format_observed(threshold.metric, value) + note,
        threshold.holds(value),
    )


def evaluate_all(
    thresholds: Sequence[Threshold],
    result: RunResult,
    *,
    percentile_of: PercentileOf | None = None,
) -> tuple[Verdict, ...]:
    """:func:`evaluate` each of ``thresholds``, in order."""
    return tuple(evaluate(t, result, percentile_of=percentile_of) for t in thresholds)


def format_observed(metric: str, value: float) -> str:
    """An observed value as verdicts show it: ``"412 ms"``, ``"1.30%"``, ``"203.4/s"``, ``"17"``."""
    # Imported here: the terminal module loads tabulate, and parsing needs none of it.
    from pytest_loadtest.report.terminal import format_ms

    family = _family(metric)
    if family is _TIME:
        return f"{format_ms(value)} ms"
    if family is _RATIO:
        return f"{value:.2%}"
    if family is _RATE:
        return f"{value:,.1f}/s"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _observe(
    threshold: Threshold, result: RunResult, percentile_of: PercentileOf | None
) -> tuple[float, str] | str:
    """The observed value and a note on how it was read, or why there is none."""
    subject = _subject(threshold, result)
    if isinstance(subject, str):
        return subject
    metric = threshold.metric
    if metric in subject.counts:
        return float(subject.counts[metric]), ""
    if metric == "fail_ratio":
        return subject.no_ratio if subject.fail_ratio is None else (subject.fail_ratio, "")
    entry = subject.times
    if entry is None or not entry.num_requests:
        return subject.no_times
    if threshold.percentile is None:
        return float(getattr(entry, _TIMES[metric])), ""
    return _percentile_of(entry, threshold.percentile, percentile_of)


def _subject(threshold: Threshold, result: RunResult) -> _Subject | str:
    scope = threshold.scope
    kind = threshold.scope_kind
    if scope is None:
        return _entry_subject(result.total, "no requests")
    if kind == "task":
        return _task_subject(scope, result)
    if kind == "metric":
        return _metric_subject(scope.removeprefix(METRIC_PREFIX), result)
    return _request_subject(scope, result)


def _entry_subject(entry: EntryResult, empty: str) -> _Subject:
    return _Subject(
        counts={"requests": entry.num_requests, "failures": entry.num_failures, "rps": entry.rps},
        times=entry,
        no_times=empty,
        fail_ratio=entry.fail_ratio if entry.num_requests else None,
        no_ratio=empty,
    )


def _request_subject(scope: str, result: RunResult) -> _Subject | str:
    # "TYPE NAME" first, so that a request named "GET /a" can still be told from GET /a.
    matches = [e for e in result.entries if f"{e.type} {e.name}" == scope]
    matches = matches or [e for e in result.entries if e.name == scope]
    if not matches:
        return f"no requests named {scope!r}"
    if len(matches) > 1:
        named = [f"{e.type} {e.name}" for e in matches]
        return f"ambiguous: {scope!r} names {', '.join(named)}; give the type, e.g. '{named[0]}:'"
    return _entry_subject(matches[0], "")


def _task_subject(node_id: str, result: RunResult) -> _Subject | str:
    task = next((t for t in result.tasks if t.node_id == node_id), None)
    if task is None:
        return f"no task {node_id!r} in this run"
    requests = task.requests
    return _Subject(
        counts={"requests": requests.num_requests, "failures": task.failures, "rps": requests.rps},
        times=requests,
        no_times="no requests in this task",
        fail_ratio=task.failures / task.iterations if task.iterations else None,
        no_ratio="no iterations of this task",
    )


def _metric_subject(name: str, result: RunResult) -> _Subject | str:
    metric = next((m for m in result.metrics if m.name == name), None)
    if metric is None:
        return f"no metric named {name!r}"
    return _Subject(
        counts={"count": metric.count, "rate": metric.rate},
        times=metric.timing,
        no_times=(
            f"metric {name!r} is a {metric.kind}, not a timer: it has no times"
            if metric.timing is None
            else f"no timings of metric {name!r}"
        ),
    )


def _percentile_of(
    entry: EntryResult, p: float, percentile_of: PercentileOf | None
) -> tuple[float, str] | str:
    stored = {float(key): value for key, value in entry.percentiles_ms.items()}
    if p in stored:
        return stored[p], ""
    exact = None if percentile_of is None else percentile_of(entry, p)
    if exact is not None:
        return exact, ""
    wanted = _percentile_name(p)
    above = [q for q in stored if q > p]
    if not above:
        return f"{wanted} is not stored"
    nearest = min(above)
    return stored[nearest], f" ({_percentile_name(nearest)}: {wanted} is not stored)"

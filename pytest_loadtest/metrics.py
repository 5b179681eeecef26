"""Custom metrics from user code: counters, timers and rates.

::

    import pytest_loadtest as lt

    CACHE_HITS = lt.metrics.counter("cache_hits")

    @lt.task
    def test_browse(load_client):
        CACHE_HITS.inc()                       # or lt.metrics.counter("cache_hits").inc(3)
        with lt.metrics.timer("render"):       # times the block, in ms
            render(load_client.get("/").text)
        lt.metrics.rate("orders").mark()       # events per second over the run

    @lt.metrics.timer("db")                    # times each call
    def query(cursor): ...

Every metric counts per task too (the task running when it was recorded). They are
shown, exported and thresholdable like requests (``metric:cache_hits>100``).

Two layers: the handles (:func:`counter`, :func:`timer`, :func:`rate`) read the clock
and the current task, then hand plain numbers to the active :class:`MetricsRegistry`,
which is pure data: mergeable in any order and serialisable to plain types.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, Self, TypeVar

from pytest_loadtest.events import current_task
from pytest_loadtest.measuring import is_interruption
from pytest_loadtest.stats import StatsEntry

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from pytest_loadtest.report.results import EntryResult

COUNTER = "counter"
TIMER = "timer"
RATE = "rate"

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T", bound="_Tally")


def other_name(kind: str) -> str:
    """The series that new names of ``kind`` fold into past the name cap.

    One per kind, so that names stay unique across kinds: ``"(other counters)"``.
    """
    return f"(other {kind}s)"


@dataclass(slots=True)
class MetricSeries:
    """The numbers of one metric; ``timing`` (in ms) only for timers.

    ``count`` is the sum of ``inc(n)`` for a counter, the number of marks for a rate
    and the number of timings for a timer; ``tasks`` splits it by task node id.
    """

    kind: str
    count: float = 0
    tasks: dict[str, float] = field(default_factory=dict)
    timing: StatsEntry | None = None

    def merge(self, other: MetricSeries, name: str) -> None:
        if other.kind != self.kind:
            raise _kind_clash(name, self.kind, other.kind)
        self.count += other.count
        for task, n in other.tasks.items():
            self.tasks[task] = self.tasks.get(task, 0) + n
        if self.timing is not None and other.timing is not None:
            self.timing.merge(other.timing)

    def copy(self, name: str) -> MetricSeries:
        series = MetricSeries(self.kind, timing=_timing(self.kind, name))
        series.merge(self, name)
        return series

    def to_wire(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "kind": self.kind,
            "count": self.count,
            "tasks": {task: self.tasks[task] for task in sorted(self.tasks)},
            "timing": None if self.timing is None else self.timing.to_wire(),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> MetricSeries:
        timing = data["timing"]
        return cls(
            str(data["kind"]),
            _number(data["count"]),
            {str(task): _number(n) for task, n in data["tasks"].items()},
            None if timing is None else StatsEntry.from_wire(timing),
        )


class MetricsRegistry:
    """Every custom metric of a run (or of one worker's share), by name.

    Only numbers come in: no clock reads. At most ``max_names`` distinct names are kept
    (:attr:`MAX_NAMES` by default, because a name with an id in it would otherwise make
    one series per event): past that, a new name is recorded in the
    :func:`other_name` series of its kind (one per kind, above the cap), and
    :attr:`overflowed` counts those recordings. :meth:`merge` does not apply the cap, so
    that merging stays order-free. A name used as two kinds is a ``ValueError``.
    """

    MAX_NAMES: ClassVar[int] = 1_000

    def __init__(self, max_names: int | None = None) -> None:
        self.max_names = self.MAX_NAMES if max_names is None else max_names
        self.series: dict[str, MetricSeries] = {}
        #: Recordings folded into an "(other ...)" series because the name cap was reached.
        self.overflowed = 0

    def add(self, kind: str, name: str, task: str | None, n: float) -> None:
        """Add ``n`` to a counter's total or a rate's marks, for ``task`` (or no task)."""
        series = self.series.get(name)
        if series is None or series.kind != kind:
            series = self._series(kind, name)
        series.count += n
        if task is not None:
            tasks = series.tasks
            tasks[task] = tasks.get(task, 0) + n

    def record_time(self, name: str, task: str | None, ms: float, failed: bool = False) -> None:
        """Count one timing of ``ms`` milliseconds; ``failed`` when the timed block raised."""
        series = self.series.get(name)
        if series is None or series.kind != TIMER:
            series = self._series(TIMER, name)
        assert series.timing is not None  # every timer series has one
        series.timing.record(ms, 0, failed)
        series.count += 1
        if task is not None:
            tasks = series.tasks
            tasks[task] = tasks.get(task, 0) + 1

    def _series(self, kind: str, name: str) -> MetricSeries:
        """The series to record ``name`` in: the slow path, for a new name or a clash."""
        if name not in self.series and len(self.series) >= self.max_names:
            self.overflowed += 1
            name = other_name(kind)
        series = self.series.get(name)
        if series is None:
            series = self.series[name] = MetricSeries(kind, timing=_timing(kind, name))
        elif series.kind != kind:
            raise _kind_clash(name, series.kind, kind)
        return series

    def merge(self, other: MetricsRegistry) -> None:
        """Add everything ``other`` recorded (another worker's, or a later delta)."""
        for name, series in other.series.items():
            known = self.series.get(name)
            if known is None:
                self.series[name] = series.copy(name)
            else:
                known.merge(series, name)
        self.overflowed += other.overflowed

    def to_wire(self) -> dict[str, Any]:
        """Plain types, in a canonical order: equal registries give equal wire data."""
        return {
            "series": [self.series[name].to_wire(name) for name in sorted(self.series)],
            "overflowed": self.overflowed,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any], max_names: int | None = None) -> Self:
        registry = cls(max_names)
        for item in data["series"]:
            registry.series[str(item["name"])] = MetricSeries.from_wire(item)
        registry.overflowed = int(data["overflowed"])
        return registry


def _timing(kind: str, name: str) -> StatsEntry | None:
    return StatsEntry(TIMER, name) if kind == TIMER else None


def _number(value: Any) -> float:
    """A count from the wire: ints stay ints, so whole counts print as whole numbers."""
    return value if isinstance(value, int) and not isinstance(value, bool) else float(value)


def _kind_clash(name: str, known: str, wanted: str) -> ValueError:
    return ValueError(f"metric {name!r} is a {known}; it cannot also be used as a {wanted}")


# -- the active registry -------------------------------------------------------------

#: The registry of the current run; the plugin installs one per run.
_active = MetricsRegistry()


def active() -> MetricsRegistry:
    """The :class:`MetricsRegistry` of the current run (an inert one outside a run)."""
    return _active


def activate(registry: MetricsRegistry) -> None:
    """Record every metric into ``registry`` from now on.

    The handle cache starts afresh, so that a name's kind is claimed per run.
    """
    global _active
    _active = registry
    _kinds.clear()
    _counters.clear()
    _rates.clear()


# -- the public handles --------------------------------------------------------------


class _Tally:
    """A counter or a rate: a number added to per event."""

    __slots__ = ("name",)
    kind: ClassVar[str]

    def __init__(self, name: str) -> None:
        self.name = name

    def _add(self, n: float, verb: str) -> None:
        # Hot path: one type check, one context lookup, two dict updates.
        if n.__class__ not in (int, float) or not 0 <= n < math.inf:
            raise ValueError(
                f"metric {self.name!r}: {verb}() takes a finite number >= 0, got {n!r}"
            )
        run = current_task.get()
        _active.add(self.kind, self.name, None if run is None else run.node_id, n)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Counter(_Tally):
    """A running total: ``lt.metrics.counter("bytes_in").inc(len(body))``."""

    __slots__ = ()
    kind = COUNTER

    def inc(self, n: float = 1) -> None:
        """Add ``n`` (an int or float >= 0) to the total."""
        self._add(n, "inc")


class Rate(_Tally):
    """Events per second over the run: ``lt.metrics.rate("orders").mark()``."""

    __slots__ = ()
    kind = RATE

    def mark(self, n: float = 1) -> None:
        """Count ``n`` events (an int or float >= 0) happening now."""
        self._add(n, "mark")


class Timer:
    """Times a block, or each call of a function, in milliseconds.

    ``with lt.metrics.timer("db"):`` or ``@lt.metrics.timer("db")``. A block that raises
    is still timed (and counted as failed in the timer's numbers), and the exception
    propagates; a block cut short by Ctrl-C or by its user stopping is not timed. One
    timer object times one block at a time: call :func:`timer` for each ``with``.
    """

    __slots__ = ("_start", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._start: float | None = None

    def __enter__(self) -> Self:
        if self._start is not None:
            raise RuntimeError(
                f"timer {self.name!r} is already timing a block: "
                f"call lt.metrics.timer({self.name!r}) for each block"
            )
        self._start = perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._start is not None  # entered
        elapsed_ms = (perf_counter() - self._start) * 1000
        self._start = None
        if exc is not None and is_interruption(exc):
            return
        run = current_task.get()
        task = None if run is None else run.node_id
        _active.record_time(self.name, task, elapsed_ms, failed=exc is not None)

    def __call__(self, function: Callable[_P, _R]) -> Callable[_P, _R]:
        """Decorate ``function`` to time each call."""
        name = self.name

        @functools.wraps(function)
        def timed(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with Timer(name):
                return function(*args, **kwargs)

        return timed

    def __repr__(self) -> str:
        return f"Timer({self.name!r})"


#: Every name handed out since the last :func:`activate`, and its kind.
_kinds: dict[str, str] = {}
# Counters and rates are cached so that ``counter(name).inc()`` in a loop does not
# allocate; a timer holds the start of its block, so each ``timer()`` call is new.
_counters: dict[str, Counter] = {}
_rates: dict[str, Rate] = {}


def counter(name: str) -> Counter:
    """The counter ``name``: ``lt.metrics.counter("cache_hits").inc()``."""
    try:
        return _counters[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name, which _claim refuses
        return _new_handle(_counters, Counter, name)


def rate(name: str) -> Rate:
    """The rate ``name``: ``lt.metrics.rate("orders").mark()``."""
    try:
        return _rates[name]
    except (KeyError, TypeError):
        return _new_handle(_rates, Rate, name)


def timer(name: str) -> Timer:
    """A new timer for ``name``, as a context manager or a decorator (see :class:`Timer`)."""
    _claim(name, TIMER)
    return Timer(name)


def _new_handle(cache: dict[str, _T], handle_type: type[_T], name: str) -> _T:
    _claim(name, handle_type.kind)
    handle = cache[name] = handle_type(name)
    return handle


def _claim(name: object, kind: str) -> None:
    """Check ``name`` and that it is not already another kind of metric."""
    if not isinstance(name, str) or not name:
        raise (ValueError if isinstance(name, str) else TypeError)(
            f"a metric name must be a non-empty str, got {name!r}"
        )
    known = _kinds.setdefault(name, kind)
    if known != kind:
        raise _kind_clash(name, known, kind)


# -- results -------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricResult:
    """One custom metric's numbers in the results of a run."""

    name: str
    kind: str  # "counter" | "timer" | "rate"
    count: float  # counter: sum of inc(n); timer: number of timings; rate: number of marks
    rate: float  # count / run duration in seconds (0 when the duration is 0)
    timing: EntryResult | None  # timers only: type "timer", name = metric name, ms
    tasks: dict[str, float]  # count per task node id (what was recorded outside tasks is not)


def build_metric_results(registry: MetricsRegistry, duration_s: float) -> tuple[MetricResult, ...]:
    """The registry's metrics sorted by name; rates over ``duration_s``."""
    # Imported here so that importing this module (user code does) stays light.
    from pytest_loadtest.report.results import entry_result

    return tuple(
        MetricResult(
            name=name,
            kind=series.kind,
            count=series.count,
            rate=series.count / duration_s if duration_s > 0 else 0.0,
            timing=None if series.timing is None else entry_result(series.timing, duration_s),
            tasks={task: series.tasks[task] for task in sorted(series.tasks)},
        )
        for name, series in sorted(registry.series.items())
    )

"""Request statistics: pure, mergeable numbers, keyed by task, method and name.

Nothing here reads a clock or does IO: every time comes from the caller (Unix seconds),
every response time is float milliseconds. Everything merges by adding, in any order, and
round-trips through plain types (``to_wire``/``from_wire``) for msgpack and JSON.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar

from pytest_loadtest.histogram import Histogram, bucket_value

if TYPE_CHECKING:
    from collections.abc import Iterable

#: The percentiles shown and exported by default.
PERCENTILES: tuple[float, ...] = (50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100)

#: The name that requests, errors and exceptions are folded into past the entry cap.
OTHER = "(other)"
#: The name of the entry that totals every request.
AGGREGATED = "Aggregated"

_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")


def percentile_key(p: float) -> str:
    """The key of a percentile in tables and files: 50 -> "50", 99.9 -> "99.9"."""
    return f"{p:g}"


def error_text(error: BaseException) -> str:
    """``repr(error)`` with memory addresses masked, so equal errors group together.

    ``<HTTPConnection object at 0x7f3a...>`` becomes ``<HTTPConnection object at 0x...>``.
    """
    return _ADDRESS.sub("at 0x...", repr(error))


@dataclass(slots=True)
class StatsEntry:
    """The numbers of one (method, name) series, or of a total."""

    method: str
    name: str
    num_requests: int = 0
    num_failures: int = 0
    total_response_time: float = 0.0
    min_response_time: float = math.inf
    max_response_time: float = 0.0
    total_content_length: int = 0
    histogram: Histogram = field(default_factory=Histogram)

    def record(self, response_time: float, response_length: int, failed: bool) -> None:
        """Count one request (failed ones too: their times are part of the picture)."""
        self.num_requests += 1
        if failed:
            self.num_failures += 1
        self.total_response_time += response_time
        if response_time < self.min_response_time:
            self.min_response_time = response_time
        if response_time > self.max_response_time:
            self.max_response_time = response_time
        self.total_content_length += response_length
        self.histogram.record(response_time)

    def merge(self, other: StatsEntry) -> None:
        """Add ``other``'s requests to this entry (its method and name stay)."""
        self.num_requests += other.num_requests
        self.num_failures += other.num_failures
        self.total_response_time += other.total_response_time
        self.min_response_time = min(self.min_response_time, other.min_response_time)
        self.max_response_time = max(self.max_response_time, other.max_response_time)
        self.total_content_length += other.total_content_length
        self.histogram.merge(other.histogram)

    def minus(self, earlier: StatsEntry) -> StatsEntry:
        """The requests made since ``earlier``, an earlier copy of this entry.

        The exact minimum and maximum of those requests are unknown; they are read from
        the buckets (within 0.2%) and kept inside this entry's exact range.
        """
        histogram = self.histogram.minus(earlier.histogram)
        lowest, highest = math.inf, 0.0
        if histogram.counts:
            exact = (self.min_response_time, self.max_response_time)
            lowest = _clamp(bucket_value(min(histogram.counts)), *exact)
            highest = _clamp(bucket_value(max(histogram.counts)), *exact)
        return StatsEntry(
            self.method,
            self.name,
            self.num_requests - earlier.num_requests,
            self.num_failures - earlier.num_failures,
            self.total_response_time - earlier.total_response_time,
            lowest,
            highest,
            self.total_content_length - earlier.total_content_length,
            histogram,
        )

    def copy(self) -> StatsEntry:
        entry = StatsEntry(self.method, self.name)
        entry.merge(self)
        return entry

    @property
    def avg_response_time(self) -> float:
        return self.total_response_time / self.num_requests if self.num_requests else 0.0

    @property
    def median_response_time(self) -> float:
        """The median: the 50th percentile, by the same rule as every other percentile."""
        return self.percentile(50)

    @property
    def avg_content_length(self) -> float:
        return self.total_content_length / self.num_requests if self.num_requests else 0.0

    @property
    def fail_ratio(self) -> float:
        """Failed requests as a fraction (0..1) of all requests."""
        return self.num_failures / self.num_requests if self.num_requests else 0.0

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile in ms, within the exact minimum and maximum; 0.0 when empty."""
        return self.percentiles((p,))[0]

    def percentiles(self, ps: Iterable[float]) -> list[float]:
        """:meth:`percentile` for each of ``ps``, in one pass."""
        ps = tuple(ps)
        if not self.num_requests:
            return [0.0] * len(ps)
        return self.histogram.percentiles(ps, self.min_response_time, self.max_response_time)

    def percentile_map(self, ps: Iterable[float] = PERCENTILES) -> dict[str, float]:
        """:meth:`percentiles` keyed by :func:`percentile_key`, as reports show them."""
        ps = tuple(ps)
        return dict(zip(map(percentile_key, ps), self.percentiles(ps), strict=True))

    def to_wire(self) -> dict[str, Any]:
        """Plain types only; an empty entry's minimum (infinity) is ``None``."""
        return {
            "method": self.method,
            "name": self.name,
            "num_requests": self.num_requests,
            "num_failures": self.num_failures,
            "total_response_time": self.total_response_time,
            "min_response_time": (
                None if math.isinf(self.min_response_time) else self.min_response_time
            ),
            "max_response_time": self.max_response_time,
            "total_content_length": self.total_content_length,
            "histogram": self.histogram.to_wire(),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> StatsEntry:
        lowest = data["min_response_time"]
        return cls(
            str(data["method"]),
            str(data["name"]),
            int(data["num_requests"]),
            int(data["num_failures"]),
            float(data["total_response_time"]),
            math.inf if lowest is None else float(lowest),
            float(data["max_response_time"]),
            int(data["total_content_length"]),
            Histogram.from_wire(data["histogram"]),
        )


def aggregate(
    entries: Iterable[StatsEntry], method: str = "", name: str = AGGREGATED
) -> StatsEntry:
    """A new entry holding the sum of ``entries``."""
    total = StatsEntry(method, name)
    for entry in entries:
        total.merge(entry)
    return total


@dataclass(slots=True)
class ErrorEntry:
    """How often one error happened on one (method, name) in one task.

    Times are request start times; ``task`` is a node id, or ``None`` outside tasks.
    """

    method: str
    name: str
    error: str
    task: str | None = None
    occurrences: int = 0
    first_seen: float = math.inf
    last_seen: float = -math.inf

    def seen(self, timestamp: float) -> None:
        self.occurrences += 1
        self.first_seen = min(self.first_seen, timestamp)
        self.last_seen = max(self.last_seen, timestamp)

    def merge(self, other: ErrorEntry) -> None:
        self.occurrences += other.occurrences
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)

    def copy(self) -> ErrorEntry:
        return replace(self)


@dataclass(slots=True)
class ExceptionEntry:
    """An exception raised in user code (``task`` is a node id, or ``None`` outside tasks)."""

    task: str | None
    message: str
    traceback: str
    #: The exception's type name: with task and traceback, what groups exceptions.
    kind: str = ""
    count: int = 0
    first_seen: float = math.inf
    last_seen: float = -math.inf

    def seen(self, timestamp: float) -> None:
        self.count += 1
        self.first_seen = min(self.first_seen, timestamp)
        self.last_seen = max(self.last_seen, timestamp)

    def merge(self, other: ExceptionEntry) -> None:
        self.count += other.count
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)

    def copy(self) -> ExceptionEntry:
        return replace(self)


@dataclass(slots=True)
class TaskCounters:
    """Iterations of one task, and how many of them failed."""

    iterations: int = 0
    failures: int = 0

    def merge(self, other: TaskCounters) -> None:
        self.iterations += other.iterations
        self.failures += other.failures

    def copy(self) -> TaskCounters:
        return replace(self)


EntryKey = tuple[str | None, str, str]


class RequestStats:
    """Every number of a run (or of one worker's share): the run's request listener.

    Requests are keyed by ``(task node id or None, method, name)``. At most
    ``max_entries`` distinct keys are kept (:attr:`MAX_ENTRIES` by default, because a URL
    with an id in it would otherwise make one entry per request): past that, a new name
    is recorded as :data:`OTHER` for its task and method (one such entry per task and
    method, above the cap), and :attr:`overflowed` counts those requests. Distinct errors
    and exceptions are capped the same way. Memory is bounded by entries, never by
    requests. :meth:`merge` does not apply the cap, so that merging stays order-free.
    """

    MAX_ENTRIES: ClassVar[int] = 10_000

    def __init__(self, max_entries: int | None = None) -> None:
        self.max_entries = self.MAX_ENTRIES if max_entries is None else max_entries
        self.entries: dict[EntryKey, StatsEntry] = {}
        #: Keyed ``(task, method, name, error text)``.
        self.errors: dict[tuple[str | None, str, str, str], ErrorEntry] = {}
        #: Keyed ``(task, exception type, traceback)``.
        self.exceptions: dict[tuple[str | None, str, str], ExceptionEntry] = {}
        self.tasks: dict[str, TaskCounters] = {}
        #: Requests recorded under :data:`OTHER` because the entry cap was reached.
        self.overflowed = 0

    def record_request(
        self,
        task: str | None,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        error: BaseException | None,
        start_time: float,
    ) -> None:
        """Count one finished request (``error`` is ``None`` when it succeeded)."""
        entry = self.entries.get((task, request_type, name))
        if entry is None:
            entry = self._new_entry(task, request_type, name)
        entry.record(response_time, response_length, error is not None)
        if error is not None:
            self._record_error(task, entry, error, start_time)

    def _new_entry(self, task: str | None, method: str, name: str) -> StatsEntry:
        if len(self.entries) >= self.max_entries:
            self.overflowed += 1
            name = OTHER
        key = (task, method, name)
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = StatsEntry(method, name)
        return entry

    def _record_error(
        self, task: str | None, entry: StatsEntry, error: BaseException, timestamp: float
    ) -> None:
        # The entry's name, not the request's: an overflowed request's error is "(other)" too.
        key = (task, entry.method, entry.name, error_text(error))
        if key not in self.errors and len(self.errors) >= self.max_entries:
            key = (task, entry.method, entry.name, OTHER)
        known = self.errors.get(key)
        if known is None:
            known = self.errors[key] = ErrorEntry(key[1], key[2], key[3], task)
        known.seen(timestamp)

    def record_iteration(self, task: str, failed: bool) -> None:
        """Count one finished iteration of ``task``."""
        counters = self.tasks.get(task)
        if counters is None:
            counters = self.tasks[task] = TaskCounters()
        counters.iterations += 1
        if failed:
            counters.failures += 1

    def record_exception(
        self, task: str | None, error: BaseException, traceback_text: str, timestamp: float
    ) -> None:
        """Count an exception raised in user code, with its formatted traceback.

        Exceptions group by task, type and traceback, not by message: an assertion's
        message often holds the values that differ per iteration. The first message
        seen is kept.
        """
        kind = type(error).__qualname__
        key = (task, kind, traceback_text)
        if key not in self.exceptions and len(self.exceptions) >= self.max_entries:
            key = (task, OTHER, OTHER)
        known = self.exceptions.get(key)
        if known is None:
            known = ExceptionEntry(task, error_text(error), key[2], key[1])
            self.exceptions[key] = known
        known.seen(timestamp)

    def by_name(self) -> dict[tuple[str, str], StatsEntry]:
        """New entries merged over tasks, keyed ``(method, name)``."""
        merged: dict[tuple[str, str], StatsEntry] = {}
        for (_, method, name), entry in self.entries.items():
            known = merged.get((method, name))
            if known is None:
                merged[method, name] = entry.copy()
            else:
                known.merge(entry)
        return merged

    def total(self) -> StatsEntry:
        """Every request, in a new entry with method ``""`` and name ``"Aggregated"``."""
        return aggregate(self.entries.values())

    def for_task(self, task: str) -> StatsEntry:
        """Every request ``task`` made, in a new entry named after the task."""
        return aggregate(
            (entry for (owner, _, _), entry in self.entries.items() if owner == task),
            name=task,
        )

    def merge(self, other: RequestStats) -> None:
        """Add everything ``other`` counted (another worker's, or a later delta)."""
        _merge_into(self.entries, other.entries)
        _merge_into(self.errors, other.errors)
        _merge_into(self.exceptions, other.exceptions)
        _merge_into(self.tasks, other.tasks)
        self.overflowed += other.overflowed

    def to_wire(self) -> dict[str, Any]:
        """Plain types, in a canonical order: equal stats give equal wire data."""
        return {
            "entries": [
                {"task": key[0], "entry": self.entries[key].to_wire()}
                for key in sorted(self.entries, key=_task_order)
            ],
            "errors": [asdict(self.errors[key]) for key in sorted(self.errors, key=_task_order)],
            "exceptions": [
                asdict(self.exceptions[key]) for key in sorted(self.exceptions, key=_task_order)
            ],
            "tasks": {
                task: [self.tasks[task].iterations, self.tasks[task].failures]
                for task in sorted(self.tasks)
            },
            "overflowed": self.overflowed,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any], max_entries: int | None = None) -> RequestStats:
        stats = cls(max_entries)
        for item in data["entries"]:
            entry = StatsEntry.from_wire(item["entry"])
            stats.entries[item["task"], entry.method, entry.name] = entry
        for item in data["errors"]:
            error = ErrorEntry(**item)
            stats.errors[error.task, error.method, error.name, error.error] = error
        for item in data["exceptions"]:
            exc = ExceptionEntry(**item)
            stats.exceptions[exc.task, exc.kind, exc.traceback] = exc
        for task, (iterations, failures) in data["tasks"].items():
            stats.tasks[task] = TaskCounters(int(iterations), int(failures))
        stats.overflowed = int(data["overflowed"])
        return stats


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi)


class _Mergeable(Protocol):
    def merge(self, other: Self) -> None: ...
    def copy(self) -> Self: ...


_K = TypeVar("_K")
_M = TypeVar("_M", bound=_Mergeable)


def _merge_into(target: dict[_K, _M], source: dict[_K, _M]) -> None:
    for key, item in source.items():
        known = target.get(key)
        if known is None:
            target[key] = item.copy()
        else:
            known.merge(item)


def _task_order(key: tuple[str | None, *tuple[str, ...]]) -> tuple[bool, str, tuple[str, ...]]:
    """Sort key for keys led by an optional task: ``None`` first."""
    task, *rest = key
    return (task is not None, task or "", tuple(rest))

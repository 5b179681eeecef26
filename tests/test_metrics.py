"""Custom metrics: the handles user code calls, and the pure registry behind them."""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

import pytest_loadtest as lt
from pytest_loadtest import metrics
from pytest_loadtest.events import TaskRun, current_task
from pytest_loadtest.metrics import (
    COUNTER,
    RATE,
    TIMER,
    MetricResult,
    MetricsRegistry,
    build_metric_results,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

BROWSE = "tests/test_shop.py::test_browse"
CART = "tests/test_shop.py::TestCheckout::test_cart"


@pytest.fixture
def registry() -> Iterator[MetricsRegistry]:
    """A fresh active registry for the test; the previous one is restored after."""
    previous = metrics.active()
    fresh = MetricsRegistry()
    metrics.activate(fresh)
    yield fresh
    metrics.activate(previous)


@pytest.fixture
def in_task() -> Iterator[None]:
    """Run the test body as if inside the task ``BROWSE``."""
    token = current_task.set(TaskRun(BROWSE))
    yield
    current_task.reset(token)


def exactly(message: str) -> str:
    """A ``pytest.raises(match=)`` pattern for exactly ``message``."""
    return f"^{re.escape(message)}$"


def test_the_public_names() -> None:
    assert lt.metrics is metrics
    assert callable(lt.metrics.counter)
    assert callable(lt.metrics.timer)
    assert callable(lt.metrics.rate)


def test_counter_totals_and_attributes_to_tasks(registry: MetricsRegistry) -> None:
    hits = metrics.counter("cache_hits")
    hits.inc()  # outside any task: in the total only
    for task, n in ((BROWSE, 3), (CART, 0.5), (BROWSE, 2)):
        token = current_task.set(TaskRun(task))
        metrics.counter("cache_hits").inc(n)
        current_task.reset(token)
    series = registry.series["cache_hits"]
    assert (series.kind, series.count, series.tasks) == (COUNTER, 6.5, {BROWSE: 5, CART: 0.5})
    assert series.timing is None
    assert isinstance(registry.series["cache_hits"].tasks[BROWSE], int)


def test_handles_are_cached_per_name(registry: MetricsRegistry) -> None:
    assert metrics.counter("a") is metrics.counter("a")
    assert metrics.rate("r") is metrics.rate("r")
    assert metrics.counter("a") is not metrics.counter("b")
    assert repr(metrics.counter("a")) == "Counter('a')"


@pytest.mark.usefixtures("in_task")
def test_rate_counts_marks(registry: MetricsRegistry) -> None:
    orders = metrics.rate("orders")
    for _ in range(4):
        orders.mark()
    orders.mark(3)
    series = registry.series["orders"]
    assert (series.kind, series.count, series.tasks) == (RATE, 7, {BROWSE: 7})


@pytest.mark.usefixtures("in_task")
def test_timer_as_a_context_manager(registry: MetricsRegistry) -> None:
    with metrics.timer("render") as timer:
        time.sleep(0.02)
    assert repr(timer) == "Timer('render')"
    with metrics.timer("render"):
        pass
    series = registry.series["render"]
    assert (series.kind, series.count, series.tasks) == (TIMER, 2, {BROWSE: 2})
    assert series.timing is not None
    assert (series.timing.method, series.timing.name) == ("timer", "render")
    assert (series.timing.num_requests, series.timing.num_failures) == (2, 0)
    # Milliseconds: the sleep took at least 20 ms, and not seconds.
    assert 20.0 <= series.timing.max_response_time < 2_000.0
    assert series.timing.min_response_time < 20.0


def test_a_timed_block_that_raises_is_timed_and_propagates(registry: MetricsRegistry) -> None:
    with pytest.raises(KeyError, match="'id'"), metrics.timer("db"):
        raise KeyError("id")
    timing = registry.series["db"].timing
    assert timing is not None
    assert (timing.num_requests, timing.num_failures) == (1, 1)


def test_a_block_cut_short_by_ctrl_c_is_not_timed(registry: MetricsRegistry) -> None:
    with pytest.raises(KeyboardInterrupt), metrics.timer("db"):
        raise KeyboardInterrupt
    assert registry.series == {}


def test_timer_as_a_decorator(registry: MetricsRegistry) -> None:
    @metrics.timer("query")
    def query(table: str, *, limit: int) -> str:
        """Fetch rows."""
        if limit < 0:
            raise ValueError("negative limit")
        return f"{table}:{limit}"

    assert (query.__name__, query.__doc__) == ("query", "Fetch rows.")
    token = current_task.set(TaskRun(CART))
    assert query("carts", limit=3) == "carts:3"
    current_task.reset(token)
    assert query("carts", limit=0) == "carts:0"
    with pytest.raises(ValueError, match="negative limit"):
        query("carts", limit=-1)
    series = registry.series["query"]
    assert (series.count, series.tasks) == (3, {CART: 1})
    assert series.timing is not None
    assert (series.timing.num_requests, series.timing.num_failures) == (3, 1)


def test_the_decorated_function_records_into_the_registry_active_at_call_time() -> None:
    @metrics.timer("late")
    def work() -> None:
        pass

    previous = metrics.active()
    later = MetricsRegistry()
    metrics.activate(later)
    try:
        work()
    finally:
        metrics.activate(previous)
    assert later.series["late"].count == 1
    assert "late" not in previous.series


def test_one_timer_object_times_one_block_at_a_time(registry: MetricsRegistry) -> None:
    timer = metrics.timer("db")
    message = "timer 'db' is already timing a block: call lt.metrics.timer('db') for each block"
    with timer, pytest.raises(RuntimeError, match=exactly(message)), timer:
        pass
    with timer:  # usable again once the block ended
        pass
    assert registry.series["db"].count == 2


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("", ValueError, "a metric name must be a non-empty str, got ''"),
        (3, TypeError, "a metric name must be a non-empty str, got 3"),
        (["db"], TypeError, "a metric name must be a non-empty str, got ['db']"),
        (None, TypeError, "a metric name must be a non-empty str, got None"),
    ],
)
@pytest.mark.parametrize("make", [metrics.counter, metrics.timer, metrics.rate])
@pytest.mark.usefixtures("registry")
def test_a_bad_name_is_refused(
    make: object, name: object, error: type[Exception], message: str
) -> None:
    assert callable(make)
    with pytest.raises(error, match=exactly(message)):
        make(name)


@pytest.mark.parametrize("n", [-1, -0.5, "1", None, True, math.nan, math.inf])
def test_a_bad_amount_is_refused(registry: MetricsRegistry, n: object) -> None:
    message = f"metric 'bytes': inc() takes a finite number >= 0, got {n!r}"
    with pytest.raises(ValueError, match=exactly(message)):
        metrics.counter("bytes").inc(n)  # type: ignore[arg-type]
    message = f"metric 'orders': mark() takes a finite number >= 0, got {n!r}"
    with pytest.raises(ValueError, match=exactly(message)):
        metrics.rate("orders").mark(n)  # type: ignore[arg-type]
    assert registry.series == {}


def test_zero_is_a_fine_amount(registry: MetricsRegistry) -> None:
    metrics.counter("bytes").inc(0)
    assert registry.series["bytes"].count == 0


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (metrics.counter, metrics.timer, "is a counter; it cannot also be used as a timer"),
        (metrics.timer, metrics.rate, "is a timer; it cannot also be used as a rate"),
        (metrics.rate, metrics.counter, "is a rate; it cannot also be used as a counter"),
    ],
)
@pytest.mark.usefixtures("registry")
def test_one_name_cannot_be_two_kinds(first: object, second: object, message: str) -> None:
    assert callable(first)
    assert callable(second)
    first("x")
    with pytest.raises(ValueError, match=exactly(f"metric 'x' {message}")):
        second("x")


def test_the_registry_refuses_a_clash_the_handles_could_not_see(
    registry: MetricsRegistry,
) -> None:
    hits = metrics.counter("x")
    hits.inc()
    metrics.activate(registry)  # a new run's handle cache: "x" is unclaimed again
    timer = metrics.timer("x")
    message = "metric 'x' is a counter; it cannot also be used as a timer"
    with pytest.raises(ValueError, match=exactly(message)), timer:
        pass
    assert registry.series["x"].count == 1


def test_activate_switches_where_handles_record(registry: MetricsRegistry) -> None:
    hits = metrics.counter("hits")
    hits.inc()
    second = MetricsRegistry()
    metrics.activate(second)
    assert metrics.active() is second
    hits.inc(2)  # a handle made before the switch records into the new registry
    assert (registry.series["hits"].count, second.series["hits"].count) == (1, 2)


# -- the registry: pure numbers --------------------------------------------------------


def filled(*records: tuple[str, str, str | None, float]) -> MetricsRegistry:
    """A registry from ``(kind, name, task, n)`` records; for timers ``n`` is the ms."""
    registry = MetricsRegistry()
    for kind, name, task, n in records:
        if kind == TIMER:
            registry.record_time(name, task, n, failed=n > 100)
        else:
            registry.add(kind, name, task, n)
    return registry


def three_registries() -> list[MetricsRegistry]:
    return [
        filled((COUNTER, "hits", BROWSE, 2), (TIMER, "db", BROWSE, 3.5), (RATE, "orders", None, 1)),
        filled((COUNTER, "hits", CART, 5), (TIMER, "db", None, 250.0), (COUNTER, "miss", CART, 1)),
        filled((TIMER, "db", CART, 0.25), (RATE, "orders", CART, 4), (COUNTER, "hits", BROWSE, 1)),
    ]


def test_merge_adds_everything() -> None:
    total = MetricsRegistry()
    for part in three_registries():
        total.merge(part)
    hits, db, orders = (total.series[name] for name in ("hits", "db", "orders"))
    assert (hits.count, hits.tasks) == (8, {BROWSE: 3, CART: 5})
    assert (orders.count, orders.tasks) == (5, {CART: 4})
    assert (db.count, db.tasks) == (3, {BROWSE: 1, CART: 1})
    assert db.timing is not None
    assert (db.timing.num_requests, db.timing.num_failures) == (3, 1)
    assert (db.timing.min_response_time, db.timing.max_response_time) == (0.25, 250.0)
    assert db.timing.total_response_time == 253.75
    assert total.series["miss"].count == 1


def test_merge_order_does_not_matter() -> None:
    wires = set()
    for order in itertools.permutations(three_registries()):
        total = MetricsRegistry()
        for part in order:
            total.merge(part)
        wires.add(json.dumps(total.to_wire(), sort_keys=True))
    assert len(wires) == 1


def test_merge_copies_what_it_takes() -> None:
    part = filled((COUNTER, "hits", BROWSE, 2), (TIMER, "db", BROWSE, 3.0))
    total = MetricsRegistry()
    total.merge(part)
    part.add(COUNTER, "hits", BROWSE, 10)
    part.record_time("db", BROWSE, 9.0)
    assert (total.series["hits"].count, total.series["hits"].tasks) == (2, {BROWSE: 2})
    assert total.series["db"].count == 1


def test_merge_refuses_a_name_of_two_kinds() -> None:
    total = filled((COUNTER, "x", None, 1))
    message = "metric 'x' is a counter; it cannot also be used as a rate"
    with pytest.raises(ValueError, match=exactly(message)):
        total.merge(filled((RATE, "x", None, 1)))


def test_wire_round_trip_through_json() -> None:
    registry = MetricsRegistry()
    for part in three_registries():
        registry.merge(part)
    registry.overflowed = 3
    wire = registry.to_wire()
    assert [item["name"] for item in wire["series"]] == ["db", "hits", "miss", "orders"]
    assert wire["series"][1] == {
        "name": "hits",
        "kind": "counter",
        "count": 8,
        "tasks": {CART: 5, BROWSE: 3},
        "timing": None,
    }
    back = MetricsRegistry.from_wire(json.loads(json.dumps(wire)))
    assert back.to_wire() == wire
    assert back.overflowed == 3
    assert isinstance(back.series["hits"].count, int)
    assert back.series["db"].timing == registry.series["db"].timing


def test_wire_round_trip_through_msgpack() -> None:
    msgpack = pytest.importorskip("msgpack")
    registry = three_registries()[0]
    wire = registry.to_wire()
    data = msgpack.unpackb(msgpack.packb(wire), strict_map_key=False)
    assert MetricsRegistry.from_wire(data).to_wire() == wire


def test_names_past_the_cap_fold_into_one_series_per_kind() -> None:
    registry = MetricsRegistry(max_names=2)
    registry.add(COUNTER, "a", BROWSE, 1)
    registry.record_time("t", BROWSE, 5.0)
    registry.add(COUNTER, "user-17", BROWSE, 2)
    registry.add(COUNTER, "user-18", CART, 3)
    registry.record_time("t-17", None, 7.0)
    registry.add(RATE, "r-1", None, 1)
    registry.add(COUNTER, "a", None, 4)  # a known name is still its own series
    assert sorted(registry.series) == [
        "(other counters)",
        "(other rates)",
        "(other timers)",
        "a",
        "t",
    ]
    other = registry.series["(other counters)"]
    assert (other.kind, other.count, other.tasks) == (COUNTER, 5, {BROWSE: 2, CART: 3})
    timing = registry.series["(other timers)"].timing
    assert timing is not None
    assert (timing.name, timing.num_requests) == ("(other timers)", 1)
    assert registry.series["a"].count == 5
    assert registry.overflowed == 4
    assert MetricsRegistry.MAX_NAMES == 1_000


def test_the_cap_bounds_memory_however_many_names() -> None:
    registry = MetricsRegistry(max_names=10)
    for i in range(5_000):
        registry.add(COUNTER, f"user-{i}", None, 1)
    assert len(registry.series) == 11
    assert registry.series["(other counters)"].count == 4_990
    assert registry.overflowed == 4_990


def test_build_metric_results() -> None:
    registry = MetricsRegistry()
    for part in three_registries():
        registry.merge(part)
    db, hits, miss, orders = build_metric_results(registry, 10.0)
    assert hits == MetricResult("hits", "counter", 8, 0.8, None, {BROWSE: 3, CART: 5})
    assert list(hits.tasks) == [CART, BROWSE]  # sorted by node id
    assert orders == MetricResult("orders", "rate", 5, 0.5, None, {CART: 4})
    assert miss.rate == 0.1
    assert (db.name, db.kind, db.count, db.rate, db.tasks) == (
        "db",
        "timer",
        3,
        0.3,
        {BROWSE: 1, CART: 1},
    )
    assert db.timing is not None
    assert (db.timing.type, db.timing.name) == ("timer", "db")
    assert (db.timing.num_requests, db.timing.num_failures) == (3, 1)
    assert (db.timing.min_ms, db.timing.max_ms) == (0.25, 250.0)
    assert db.timing.median_ms == pytest.approx(3.5, rel=0.002)  # a histogram bucket
    assert db.timing.avg_ms == 253.75 / 3
    assert (db.timing.rps, db.timing.percentiles_ms["100"]) == (0.3, 250.0)


def test_results_of_a_zero_duration_and_of_nothing() -> None:
    (hits,) = build_metric_results(filled((COUNTER, "hits", None, 2)), 0.0)
    assert (hits.count, hits.rate, hits.tasks) == (2, 0.0, {})
    assert build_metric_results(MetricsRegistry(), 10.0) == ()


def test_importing_metrics_stays_light() -> None:
    code = (
        "import sys, pytest_loadtest.metrics; "
        "print(sorted(m for m in ('tabulate', 'gevent', 'pytest_loadtest.report.results') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"

"""Request statistics with plain numbers: exact totals, merging, the wire form, the cap."""

from __future__ import annotations

import json
import math

import pytest

from pytest_loadtest.stats import (
    OTHER,
    PERCENTILES,
    RequestStats,
    StatsEntry,
    error_text,
    percentile_key,
)

TASK_A = "tests/test_shop.py::test_browse"
TASK_B = "tests/test_shop.py::TestCheckout::test_cart"


def entry_of(times: list[float], failed: frozenset[int] = frozenset()) -> StatsEntry:
    entry = StatsEntry("GET", "/x")
    for i, value in enumerate(times):
        entry.record(value, 10 * (i + 1), i in failed)
    return entry


def sample_stats(offset: float = 0.0) -> RequestStats:
    """A few requests over two tasks, with failures, iterations and an exception."""
    stats = RequestStats()
    for i in range(1, 11):
        stats.record_request(TASK_A, "GET", "/products", i + offset, 100, None, 1000.0 + i)
    stats.record_request(TASK_B, "POST", "/cart", 2.5 + offset, 20, None, 1001.0)
    stats.record_request(TASK_B, "GET", "/products", 4.0, 50, ValueError("nope"), 1002.0 + offset)
    stats.record_request(None, "custom", "db", 0.25, 0, None, 1003.0)
    stats.record_iteration(TASK_A, failed=False)
    stats.record_iteration(TASK_B, failed=True)
    stats.record_exception(TASK_B, KeyError("k"), "Traceback ...\nKeyError: 'k'\n", 1004.0 + offset)
    return stats


def test_percentile_keys() -> None:
    assert [percentile_key(p) for p in PERCENTILES] == [
        "50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100",
    ]  # fmt: skip


def test_error_text_masks_addresses() -> None:
    class Thing:
        pass

    things = Thing(), Thing()  # both alive, so at different addresses
    first, second = (ConnectionError(f"pool: {thing!r} refused") for thing in things)
    assert repr(first) != repr(second)
    assert error_text(first) == error_text(second)
    assert error_text(first).endswith(".Thing object at 0x...> refused')")
    assert error_text(ValueError("0xff is fine")) == "ValueError('0xff is fine')"


def test_entry_counts_are_exact() -> None:
    entry = entry_of([3.0, 1.5, 7.25, 0.125], failed=frozenset({1}))
    assert entry.num_requests == 4
    assert entry.num_failures == 1
    assert entry.min_response_time == 0.125
    assert entry.max_response_time == 7.25
    assert entry.avg_response_time == (3.0 + 1.5 + 7.25 + 0.125) / 4
    assert entry.total_content_length == 10 + 20 + 30 + 40
    assert entry.avg_content_length == 25.0
    assert entry.fail_ratio == 0.25
    assert entry.median_response_time == entry.percentile(50)
    assert entry.percentile(50) == pytest.approx(1.5, rel=0.002)  # rank 2 of 4
    assert entry.percentile(100) == 7.25
    assert entry.percentile(0) == 0.125


def test_empty_entry() -> None:
    entry = StatsEntry("GET", "/x")
    assert entry.avg_response_time == entry.avg_content_length == entry.fail_ratio == 0.0
    assert entry.percentile(95) == 0.0
    assert entry.percentile_map() == {percentile_key(p): 0.0 for p in PERCENTILES}


def test_entry_merge_and_copy() -> None:
    a, b = entry_of([1.0, 2.0]), entry_of([0.5, 8.0], failed=frozenset({0}))
    merged = a.copy()
    merged.merge(b)
    assert (merged.num_requests, merged.num_failures) == (4, 1)
    assert (merged.min_response_time, merged.max_response_time) == (0.5, 8.0)
    assert merged.total_response_time == 11.5
    assert a.num_requests == 2  # the copy was independent
    assert merged.histogram == entry_of([1.0, 2.0, 0.5, 8.0]).histogram


def test_entry_minus_gives_the_requests_since() -> None:
    entry = entry_of([5.0, 6.0])
    earlier = entry.copy()
    for value in (2.0, 3.0, 4.0):
        entry.record(value, 1, failed=value == 3.0)
    since = entry.minus(earlier)
    assert (since.num_requests, since.num_failures) == (3, 1)
    assert since.total_response_time == 9.0
    assert since.total_content_length == 3
    assert since.min_response_time == pytest.approx(2.0, rel=0.002)  # from the buckets
    assert since.max_response_time == pytest.approx(4.0, rel=0.002)
    assert since.percentile(100) == since.max_response_time
    single = entry_of([8.0]).minus(StatsEntry("GET", "/x"))
    assert single.min_response_time == single.max_response_time == single.percentile(50) == 8.0
    empty = entry.minus(entry.copy())
    assert (empty.num_requests, empty.min_response_time, empty.max_response_time) == (
        0,
        math.inf,
        0.0,
    )


def test_entry_wire_round_trip_through_json() -> None:
    for entry in (entry_of([1.0, 2.0, 3.0]), StatsEntry("GET", "/empty")):
        wire = json.loads(json.dumps(entry.to_wire(), allow_nan=False))
        assert StatsEntry.from_wire(wire) == entry


def test_request_stats_keys_and_views() -> None:
    stats = sample_stats()
    assert set(stats.entries) == {
        (TASK_A, "GET", "/products"),
        (TASK_B, "POST", "/cart"),
        (TASK_B, "GET", "/products"),
        (None, "custom", "db"),
    }
    by_name = stats.by_name()
    assert set(by_name) == {("GET", "/products"), ("POST", "/cart"), ("custom", "db")}
    products = by_name["GET", "/products"]
    assert (products.num_requests, products.num_failures) == (11, 1)
    assert (products.min_response_time, products.max_response_time) == (1.0, 10.0)
    assert products.total_response_time == 55.0 + 4.0

    total = stats.total()
    assert (total.method, total.name) == ("", "Aggregated")
    assert (total.num_requests, total.num_failures) == (13, 1)
    assert total.total_response_time == 55.0 + 4.0 + 2.5 + 0.25
    assert total.min_response_time == 0.25
    assert total.total_content_length == 1000 + 20 + 50

    task_b = stats.for_task(TASK_B)
    assert (task_b.name, task_b.num_requests, task_b.num_failures) == (TASK_B, 2, 1)
    assert task_b.total_response_time == 6.5
    parts = sum(stats.for_task(t).num_requests for t in (TASK_A, TASK_B))
    assert parts + stats.entries[None, "custom", "db"].num_requests == total.num_requests
    assert stats.for_task("no such task").num_requests == 0


def test_views_are_copies() -> None:
    stats = sample_stats()
    stats.by_name()["GET", "/products"].record(1.0, 1, False)
    stats.total().record(1.0, 1, False)
    assert stats.entries[TASK_A, "GET", "/products"].num_requests == 10
    assert stats.total().num_requests == 13


def test_errors_exceptions_and_iterations() -> None:
    stats = sample_stats()
    stats.record_request(TASK_B, "GET", "/products", 1.0, 0, ValueError("nope"), 990.0)
    error = stats.errors[TASK_B, "GET", "/products", "ValueError('nope')"]
    assert (error.occurrences, error.first_seen, error.last_seen) == (2, 990.0, 1002.0)
    exception = stats.exceptions[TASK_B, "KeyError", "Traceback ...\nKeyError: 'k'\n"]
    assert (exception.count, exception.first_seen, exception.last_seen) == (1, 1004.0, 1004.0)
    assert (stats.tasks[TASK_A].iterations, stats.tasks[TASK_A].failures) == (1, 0)
    assert (stats.tasks[TASK_B].iterations, stats.tasks[TASK_B].failures) == (1, 1)


def merged(*parts: RequestStats) -> RequestStats:
    total = RequestStats()
    for part in parts:
        total.merge(part)
    return total


def test_merge_is_commutative_and_associative() -> None:
    # Offsets that are exact in binary, so float sums do not depend on the order.
    a, b, c = sample_stats(0.0), sample_stats(0.5), sample_stats(0.25)
    assert merged(a, b).to_wire() == merged(b, a).to_wire()
    ab_c, a_bc = merged(a, b), merged(b, c)
    ab_c.merge(c)
    a_bc.merge(a)
    assert ab_c.to_wire() == a_bc.to_wire() == merged(c, b, a).to_wire()
    assert ab_c.total().num_requests == 3 * 13
    assert ab_c.errors[TASK_B, "GET", "/products", "ValueError('nope')"].first_seen == 1002.0
    assert ab_c.errors[TASK_B, "GET", "/products", "ValueError('nope')"].last_seen == 1002.5
    assert ab_c.tasks[TASK_B].failures == 3


def test_merge_equals_recording_in_one_place() -> None:
    one, a, b = RequestStats(), RequestStats(), RequestStats()
    for i in range(40):
        part = a if i % 3 else b
        for target in (one, part):
            error = RuntimeError("x") if i % 7 == 0 else None
            target.record_request(TASK_A, "GET", f"/{i % 4}", i / 4, i, error, float(i))
    assert merged(a, b).to_wire() == one.to_wire()


def test_merge_does_not_alias() -> None:
    source = sample_stats()
    target = merged(source)
    target.record_request(TASK_A, "GET", "/products", 1.0, 1, ValueError("nope"), 0.0)
    target.record_iteration(TASK_A, failed=False)
    assert source.to_wire() == sample_stats().to_wire()


def test_wire_round_trip_through_json() -> None:
    stats = sample_stats()
    stats.overflowed = 3
    wire = json.loads(json.dumps(stats.to_wire(), allow_nan=False))
    assert RequestStats.from_wire(wire).to_wire() == stats.to_wire()


def test_entry_cap_folds_new_names_into_other() -> None:
    stats = RequestStats(max_entries=3)
    for i in range(5):
        stats.record_request(TASK_A, "GET", f"/item/{i}", 1.0, 0, None, 0.0)
    stats.record_request(TASK_A, "GET", "/item/4", 2.0, 0, ValueError("e"), 0.0)
    stats.record_request(TASK_A, "GET", "/item/0", 1.0, 0, None, 0.0)  # known: no overflow
    assert set(stats.entries) == {
        (TASK_A, "GET", "/item/0"),
        (TASK_A, "GET", "/item/1"),
        (TASK_A, "GET", "/item/2"),
        (TASK_A, "GET", OTHER),
    }
    assert stats.entries[TASK_A, "GET", OTHER].num_requests == 3
    assert stats.overflowed == 3
    assert list(stats.errors) == [(TASK_A, "GET", OTHER, "ValueError('e')")]
    assert stats.total().num_requests == 7


def test_error_and_exception_caps() -> None:
    stats = RequestStats(max_entries=2)
    for i in range(4):
        stats.record_request(TASK_A, "GET", "/x", 1.0, 0, ValueError(i), float(i))
        stats.record_exception(TASK_A, KeyError(i), f"tb {i}", float(i))
    assert stats.errors[TASK_A, "GET", "/x", OTHER].occurrences == 2
    assert len(stats.errors) == 3
    assert stats.exceptions[TASK_A, OTHER, OTHER].count == 2
    assert len(stats.exceptions) == 3

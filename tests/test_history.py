"""History: windowed rates and percentiles from synthetic timestamps."""

from __future__ import annotations

import pytest

from pytest_loadtest.history import History
from pytest_loadtest.stats import RequestStats

START = 1_700_000_000.0
TASK = "tests/test_shop.py::test_browse"


def add(
    stats: RequestStats, n: int, response_time: float, failed: int = 0, name: str = "/a"
) -> None:
    for i in range(n):
        error = ValueError("x") if i < failed else None
        stats.record_request(TASK, "GET", name, response_time, 100, error, START)


def started(window_s: float = 10.0) -> tuple[History, RequestStats]:
    history = History(window_s)
    history.sample(START, 0, RequestStats())
    return history, RequestStats()


def test_baseline_row() -> None:
    history = History()
    assert history.current() is None
    (row,) = history.sample(START, 0, RequestStats())
    assert (row.method, row.name, row.rps, row.num_requests) == ("", "Aggregated", 0.0, 0)
    assert (row.min_ms, row.max_ms, row.median_ms) == (0.0, 0.0, 0.0)
    assert set(row.percentiles.values()) == {0.0}
    assert history.current() == row


def test_rps_since_the_start_while_younger_than_the_window() -> None:
    history, stats = started()
    add(stats, 30, 5.0, failed=3)
    rows = history.sample(START + 1, 4, stats)
    add(stats, 50, 5.0)
    rows = history.sample(START + 2, 4, stats)
    total = rows[0]
    assert (total.timestamp, total.user_count) == (START + 2, 4)
    assert total.rps == 40.0  # 80 requests over 2 s
    assert total.fail_rps == 1.5
    assert (total.num_requests, total.num_failures) == (80, 3)


def test_rps_over_a_sliding_window() -> None:
    history, stats = started(window_s=3.0)
    rates = [10, 20, 30, 40, 50, 60]
    got = []
    for second, rate in enumerate(rates, 1):
        add(stats, rate, 2.0)
        got.append(history.sample(START + second, 1, stats)[0].rps)
    # Before the window fills, since the start; then the last 3 seconds exactly.
    assert got == [10.0, 15.0, 20.0, 30.0, 40.0, 50.0]
    assert len(history._snapshots) == 4  # the window's edge, and what came after it


def test_a_gap_longer_than_the_window_reaches_back_to_the_last_sample() -> None:
    history, stats = started(window_s=2.0)
    add(stats, 10, 1.0)
    history.sample(START + 1, 1, stats)
    add(stats, 70, 1.0)
    assert history.sample(START + 8, 1, stats)[0].rps == 10.0  # 70 over the 7 s gap


def test_window_percentiles_reflect_only_recent_requests() -> None:
    history, stats = started(window_s=2.0)
    add(stats, 100, 1000.0)  # a slow start ...
    history.sample(START + 1, 1, stats)
    history.sample(START + 2, 1, stats)
    add(stats, 100, 10.0)  # ... then fast
    history.sample(START + 3, 1, stats)
    add(stats, 100, 10.0)
    row = history.sample(START + 4, 1, stats)[0]
    assert row.percentiles["50"] == row.percentiles["100"] == pytest.approx(10.0, rel=0.002)
    assert row.rps == 100.0
    # The cumulative numbers still see the slow start.
    assert (row.num_requests, row.min_ms, row.max_ms) == (300, 10.0, 1000.0)
    assert row.avg_ms == pytest.approx((100 * 1000.0 + 200 * 10.0) / 300)
    assert row.median_ms == pytest.approx(10.0, rel=0.002)
    assert row.avg_content_length == 100.0


def test_a_quiet_window_has_no_rate_and_no_percentiles() -> None:
    history, stats = started(window_s=1.0)
    add(stats, 5, 3.0)
    history.sample(START + 1, 1, stats)
    row = history.sample(START + 2, 1, stats)[0]
    assert (row.rps, row.fail_rps, row.percentiles["95"]) == (0.0, 0.0, 0.0)
    assert (row.num_requests, row.max_ms) == (5, 3.0)


def test_rows_per_name_after_the_aggregated_row() -> None:
    history, stats = started()
    add(stats, 4, 1.0, name="/b")
    add(stats, 6, 2.0, failed=6, name="/a")
    stats.record_request(None, "POST", "/a", 8.0, 0, None, START)
    rows = history.sample(START + 2, 3, stats)
    assert [(r.method, r.name) for r in rows] == [
        ("", "Aggregated"),
        ("GET", "/a"),
        ("POST", "/a"),
        ("GET", "/b"),
    ]
    assert [r.rps for r in rows] == [5.5, 3.0, 0.5, 2.0]
    assert rows[1].fail_rps == 3.0
    assert rows[2].percentiles["50"] == 8.0
    # Only the Aggregated rows are kept.
    assert history.rows == [history.rows[0], rows[0]]
    assert history.current() == rows[0]


def test_a_name_new_in_this_window() -> None:
    history, stats = started(window_s=5.0)
    add(stats, 10, 1.0, name="/old")
    history.sample(START + 1, 1, stats)
    add(stats, 3, 7.0, name="/new")
    rows = {r.name: r for r in history.sample(START + 2, 1, stats)}
    assert rows["/new"].rps == 1.5
    assert rows["/new"].percentiles["50"] == rows["/new"].percentiles["99"] == 7.0

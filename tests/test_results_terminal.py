"""The results model built from known stats, and its terminal rendering, cell by cell."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from pytest_loadtest.history import History, HistoryRow
from pytest_loadtest.metrics import (
    COUNTER,
    TIMER,
    MetricResult,
    MetricsRegistry,
    build_metric_results,
)
from pytest_loadtest.report.results import (
    EntryResult,
    ErrorResult,
    ExceptionResult,
    HookErrorResult,
    RunInfo,
    RunResult,
    TaskInfo,
    TaskResult,
    build_result,
)
from pytest_loadtest.report.terminal import format_ms, render_progress, render_summary
from pytest_loadtest.stats import PERCENTILES, RequestStats, percentile_key

START = 1_700_000_000.0
BROWSE = "tests/test_shop.py::test_browse"
CART = "tests/test_shop.py::TestCheckout::test_cart"
RUN = RunInfo(START, START + 10, 10.0, users=4, workers=1, host="http://127.0.0.1:8080")
TASKS = (
    TaskInfo(BROWSE, "tests/test_shop.py", 3),
    TaskInfo(CART, "TestCheckout", 1),
    TaskInfo("tests/test_shop.py::test_idle", "tests/test_shop.py", 1),
)


def known_stats() -> RequestStats:
    stats = RequestStats()
    for _ in range(20):
        stats.record_request(BROWSE, "GET", "/products", 4.0, 1000, None, START + 1)
    for i in range(5):
        error = ValueError("refused") if i < 2 else None
        stats.record_request(CART, "POST", "/cart", 12.0, 50, error, START + 2 + i)
    stats.record_request(CART, "GET", "/products", 8.0, 0, RuntimeError("503"), START + 3)
    stats.record_iteration(BROWSE, failed=False)
    stats.record_iteration(CART, failed=True)
    for task in (BROWSE, CART, CART):
        stats.record_exception(task, KeyError("id"), "Traceback\nKeyError: 'id'\n", START + 4)
    stats.record_exception(CART, OSError("disk"), "Traceback\nOSError: disk\n", START + 5)
    return stats


def test_build_result() -> None:
    history = History()
    history.sample(START, 0, RequestStats())
    hook_error = HookErrorResult("pytest_loadtest_request", "conftest", 2, "Traceback\n")
    result = build_result(known_stats(), RUN, TASKS, history.rows, [hook_error])

    assert [(e.type, e.name) for e in result.entries] == [("POST", "/cart"), ("GET", "/products")]
    cart, products = result.entries
    assert (cart.num_requests, cart.num_failures, cart.fail_ratio) == (5, 2, 0.4)
    assert (cart.min_ms, cart.max_ms, cart.avg_ms, cart.median_ms) == (12.0, 12.0, 12.0, 12.0)
    assert cart.percentiles_ms == {percentile_key(p): 12.0 for p in PERCENTILES}
    assert (cart.rps, cart.fail_rps, cart.avg_content_length) == (0.5, 0.2, 50.0)
    assert (products.num_requests, products.min_ms, products.max_ms) == (21, 4.0, 8.0)
    assert products.percentiles_ms["100"] == 8.0

    total = result.total
    assert (total.type, total.name, total.num_requests, total.num_failures) == (
        "",
        "Aggregated",
        26,
        3,
    )
    assert total.rps == 2.6
    assert total.avg_ms == (20 * 4.0 + 5 * 12.0 + 8.0) / 26
    assert total.avg_content_length == (20 * 1000 + 5 * 50) / 26

    assert result.errors == (
        ErrorResult("POST", "/cart", "ValueError('refused')", 2, START + 2, START + 3, (CART,)),
        ErrorResult("GET", "/products", "RuntimeError('503')", 1, START + 3, START + 3, (CART,)),
    )
    assert result.exceptions == (
        ExceptionResult(3, "KeyError('id')", "Traceback\nKeyError: 'id'\n", (CART, BROWSE)),
        ExceptionResult(1, "OSError('disk')", "Traceback\nOSError: disk\n", (CART,)),
    )
    browse, cart_task, idle = result.tasks
    assert (browse.iterations, browse.failures, browse.weight) == (1, 0, 3)
    assert (browse.requests.num_requests, browse.requests.name) == (20, BROWSE)
    assert (cart_task.failures, cart_task.requests.num_requests) == (1, 6)
    assert cart_task.requests.num_failures == 3
    assert (idle.iterations, idle.requests.num_requests, idle.requests.min_ms) == (0, 0, 0.0)
    assert result.history == tuple(history.rows)
    assert result.hook_errors == (hook_error,)
    assert (result.run, result.overflowed) == (RUN, 0)


def test_rates_are_zero_for_a_zero_duration() -> None:
    run = RunInfo(START, START, 0.0, users=1, workers=1, host=None)
    result = build_result(known_stats(), run, (), ())
    assert (result.total.rps, result.total.fail_rps) == (0.0, 0.0)


def test_an_empty_run() -> None:
    result = build_result(RequestStats(), RUN, (), ())
    assert (result.entries, result.errors, result.exceptions, result.tasks) == ((), (), (), ())
    assert (result.total.num_requests, result.total.min_ms, result.total.max_ms) == (0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0431, "0.043"),
        (3.14159, "3.14"),
        (31.4, "31.4"),
        (314.2, "314"),
        (31415, "31,415"),
        (0, "0"),
        (0.9996, "1.00"),
        (9.999, "10.0"),
        (99.96, "100"),
        (1_234_567.8, "1,234,568"),
    ],
)
def test_format_ms(value: float, text: str) -> None:
    assert format_ms(value) == text


def history_row(rps: float, fail_rps: float, p50: float, p95: float) -> HistoryRow:
    percentiles = {percentile_key(p): 0.0 for p in PERCENTILES} | {"50": p50, "95": p95}
    return HistoryRow(START, 20, "", "Aggregated", rps, fail_rps, percentiles, 0, 0, 0, 0, 0, 0, 0)


def test_render_progress() -> None:
    row = history_row(1234.5, 3.7035, 3.14159, 12.6)
    assert render_progress(12.7, 60.0, 20, 20, row) == (
        "[00:12 / 01:00] users 20/20 | 1,234.5 req/s | fail 0.3% | p50 3.14 ms | p95 12.6 ms"
    )


def test_render_progress_without_a_row_or_an_end() -> None:
    assert render_progress(3723.0, None, 3, 10, None) == "[1:02:03] users 3/10"
    quiet = history_row(0.0, 0.0, 0.0, 0.0)
    assert render_progress(0.0, 90.0, 0, 10, quiet) == (
        "[00:00 / 01:30] users 0/10 | 0.0 req/s | fail 0.0% | p50 0 ms | p95 0 ms"
    )


def entry(
    kind: str, name: str, n: int, failures: int, times: tuple[float, float, float]
) -> EntryResult:
    lo, mid, hi = times
    percentiles = {percentile_key(p): mid if p < 90 else hi for p in PERCENTILES}
    return EntryResult(
        type=kind,
        name=name,
        num_requests=n,
        num_failures=failures,
        min_ms=lo,
        max_ms=hi,
        avg_ms=mid,
        median_ms=mid,
        percentiles_ms=percentiles,
        rps=n / 10,
        fail_rps=failures / 10,
        avg_content_length=0.0,
        fail_ratio=failures / n if n else 0.0,
    )


GET = entry("GET", "/products", 1200, 3, (0.0431, 3.14159, 31415.0))
POST = entry("POST", "/cart", 40, 0, (1.0, 2.0, 314.2))
TOTAL = entry("", "Aggregated", 1240, 3, (0.0431, 3.1, 31415.0))


def run_result(**changes: object) -> RunResult:
    fields: dict[str, object] = {
        "run": RUN,
        "entries": (POST, GET),
        "total": TOTAL,
        "errors": (),
        "exceptions": (),
        "tasks": (),
        "history": (),
        "hook_errors": (),
        "overflowed": 0,
    }
    return RunResult(**(fields | changes))  # type: ignore[arg-type]


def cells(text: str, first: str) -> list[str]:
    """The cells of the table line whose first cell is ``first``."""
    for line in text.splitlines():
        row = re.split(r"\s{2,}", line.strip())
        if row[0] == first:
            return row
    raise AssertionError(f"no row {first!r} in\n{text}")


def sections(text: str) -> dict[str, str]:
    """The summary's blocks, by their first line."""
    return {block.splitlines()[0]: block for block in text.split("\n\n")}


def test_summary_of_a_clean_run_has_only_the_stats_tables() -> None:
    text = render_summary(run_result())
    headings = [line for line in text.splitlines() if line and line[0].isupper()]
    assert headings[0] == "Request statistics (times in ms)"
    assert "Response time percentiles (ms)" in headings
    for section in (
        "Custom metrics (times in ms)",
        "Failures",
        "Exceptions",
        "Tasks",
        "Hook errors",
    ):
        assert section not in headings
    assert cells(text, "Type")[:4] == ["Type", "Name", "# reqs", "# fails (%)"]
    assert cells(text, "GET") == [
        "GET", "/products", "1,200", "3 (0.25%)", "3.14", "0.043", "31,415", "3.14",
        "120.00", "0.30",
    ]  # fmt: skip
    assert cells(text, "Aggregated") == [
        "Aggregated", "1,240", "3 (0.24%)", "3.10", "0.043", "31,415", "3.10", "124.00", "0.30",
    ]  # fmt: skip


def test_summary_rows_keep_the_result_order_and_end_with_the_total() -> None:
    _heading, _header, rule, first, second, above_total, total = (
        render_summary(run_result()).split("\n\n")[0].splitlines()
    )
    assert first.startswith("POST ")
    assert second.startswith("GET ")
    assert above_total == rule
    assert set(rule) == {"-", " "}
    assert total.split()[0] == "Aggregated"


def test_percentile_table() -> None:
    text = render_summary(run_result()).split("\n\n")[1]
    assert text.splitlines()[0] == "Response time percentiles (ms)"
    assert cells(text, "Type") == [
        "Type", "Name", "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%",
        "99.99%", "100%", "# reqs",
    ]  # fmt: skip
    assert cells(text, "POST") == ["POST", "/cart", *["2.00"] * 4, *["314"] * 7, "40"]


def test_an_empty_run_still_shows_the_stats_table() -> None:
    empty = entry("", "Aggregated", 0, 0, (0.0, 0.0, 0.0))
    text = render_summary(run_result(entries=(), total=empty))
    assert text.splitlines()[0] == "Request statistics (times in ms)"
    assert cells(text, "Aggregated") == ["Aggregated", "0", "0 (0.00%)", *["0"] * 4, "0.00", "0.00"]


def test_failures_exceptions_tasks_and_hook_errors() -> None:
    result = run_result(
        errors=(ErrorResult("POST", "/cart", "ValueError('refused')", 1234, START, START + 1),),
        exceptions=(
            ExceptionResult(7, "KeyError('id')", "Traceback\n  line 3\nKeyError: 'id'\n", (CART,)),
        ),
        tasks=(
            TaskResult(BROWSE, "tests/test_shop.py", 3, 1500, 2, GET),
            TaskResult(CART, "TestCheckout", 1, 10, 0, entry("", CART, 0, 0, (0.0, 0.0, 0.0))),
        ),
        hook_errors=(HookErrorResult("pytest_loadtest_request", "conftest", 5, "Traceback\nboom"),),
    )
    blocks = sections(render_summary(result))
    assert cells(blocks["Failures"], "# occurrences") == [
        "# occurrences",
        "Method",
        "Name",
        "Error",
    ]
    assert cells(blocks["Failures"], "1,234") == [
        "1,234",
        "POST",
        "/cart",
        "ValueError('refused')",
    ]
    assert cells(blocks["Exceptions"], "1") == ["1", "7", "KeyError('id')", CART]
    assert (
        blocks["#1 traceback:"] == "#1 traceback:\n    Traceback\n      line 3\n    KeyError: 'id'"
    )
    assert cells(blocks["Tasks"], "Task") == [
        "Task", "User type", "Weight", "Iterations", "Failures", "Requests", "p95 (ms)",
    ]  # fmt: skip
    assert cells(blocks["Tasks"], BROWSE) == [
        BROWSE, "tests/test_shop.py", "3", "1,500", "2", "1,200", "31,415",
    ]  # fmt: skip
    assert cells(blocks["Tasks"], CART) == [CART, "TestCheckout", "1", "10", "0", "0", "-"]
    assert cells(blocks["Hook errors"], "5") == ["5", "pytest_loadtest_request", "conftest"]
    assert blocks["pytest_loadtest_request in conftest:"].endswith("\n    Traceback\n    boom")


def test_custom_metrics_table() -> None:
    timing = entry("timer", "db", 40, 1, (0.0431, 3.14159, 314.2))
    result = run_result(
        metrics=(
            MetricResult("cache_hits", "counter", 1234, 123.4, None, {BROWSE: 1234}),
            MetricResult("db", "timer", 40, 4.0, timing, {}),
            MetricResult("orders", "rate", 12.5, 1.25, None, {}),
        )
    )
    text = render_summary(result)
    assert list(sections(text))[:3] == [
        "Request statistics (times in ms)",
        "Response time percentiles (ms)",
        "Custom metrics (times in ms)",
    ]
    table = sections(text)["Custom metrics (times in ms)"]
    assert cells(table, "Name") == [
        "Name", "Kind", "Count", "rate/s", "Avg", "Min", "Max", "p50", "p95", "p99",
    ]  # fmt: skip
    assert cells(table, "cache_hits") == ["cache_hits", "counter", "1,234", "123.40", *["-"] * 6]
    assert cells(table, "db") == [
        "db", "timer", "40", "4.00", "3.14", "0.043", "314", "3.14", "314", "314",
    ]  # fmt: skip
    assert cells(table, "orders") == ["orders", "rate", "12.50", "1.25", *["-"] * 6]
    assert [line.split()[0] for line in table.splitlines()[3:]] == ["cache_hits", "db", "orders"]


def test_custom_metrics_built_from_a_registry_render() -> None:
    registry = MetricsRegistry()
    registry.add(COUNTER, "cache_hits", BROWSE, 30)
    for ms in (2.0, 4.0, 6.0):
        registry.record_time("db", CART, ms)
    metrics = build_metric_results(registry, RUN.duration_s)
    result = replace(build_result(RequestStats(), RUN, (), ()), metrics=metrics)
    table = sections(render_summary(result))["Custom metrics (times in ms)"]
    assert cells(table, "cache_hits") == ["cache_hits", "counter", "30", "3.00", *["-"] * 6]
    assert cells(table, "db")[:7] == ["db", TIMER, "3", "0.30", "4.00", "2.00", "6.00"]


def test_a_built_result_renders() -> None:
    blocks = sections(render_summary(build_result(known_stats(), RUN, TASKS, ())))
    stats_table = blocks["Request statistics (times in ms)"]
    assert cells(stats_table, "POST")[:4] == ["POST", "/cart", "5", "2 (40.00%)"]
    assert cells(blocks["Failures"], "2") == ["2", "POST", "/cart", "ValueError('refused')"]
    assert blocks["Exceptions"].splitlines()[3:5] == [
        "  1        3  KeyError('id')   " + CART,
        "                               " + BROWSE,
    ]
    tasks = blocks["Tasks"]
    assert cells(tasks, BROWSE) == [BROWSE, "tests/test_shop.py", "3", "1", "0", "20", "4.00"]


def test_errors_of_two_tasks_are_one_row_naming_both() -> None:
    stats = RequestStats()
    for task in ("t.py::test_b", "t.py::test_a"):
        stats.record_request(task, "GET", "/x", 1.0, 0, ValueError("no"), 5.0)
    stats.record_request(None, "GET", "/x", 1.0, 0, ValueError("no"), 4.0)
    result = build_result(stats, RunInfo(0.0, 1.0, 1.0, 1, 1, None), [], [])
    assert result.errors == (
        ErrorResult("GET", "/x", "ValueError('no')", 3, 4.0, 5.0, ("t.py::test_a", "t.py::test_b")),
    )

"""Threshold expressions: parsing (and its errors, caret by caret), and verdicts on real numbers."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_loadtest.metrics import (
    COUNTER,
    RATE,
    MetricResult,
    MetricsRegistry,
    build_metric_results,
)
from pytest_loadtest.report.results import (
    EntryResult,
    RunInfo,
    RunResult,
    TaskInfo,
    build_result,
    entry_result,
)
from pytest_loadtest.stats import RequestStats, StatsEntry
from pytest_loadtest.thresholds import (
    Threshold,
    ThresholdError,
    Verdict,
    evaluate,
    evaluate_all,
    format_observed,
    parse_threshold,
)

SOURCE = "--load-threshold"
START = 1_700_000_000.0
RUN = RunInfo(START, START + 10, 10.0, users=2, workers=1, host=None)
BROWSE = "tests/test_shop.py::test_browse"
CART = "tests/test_shop.py::TestCheckout::test_cart"
IDLE = "tests/test_shop.py::test_idle"
TASKS = (
    TaskInfo(BROWSE, "tests/test_shop.py", 3),
    TaskInfo(CART, "TestCheckout", 1),
    TaskInfo(IDLE, "tests/test_shop.py", 1),
)


def shop_result() -> RunResult:
    """35 requests over 10 s, 2 of them failed; 3 of CART's 10 iterations failed.

    BROWSE: 20 x GET /products at 4 ms. CART: POST /cart at 10, 20, ..., 100 ms (the 4th
    and 8th failed) and 5 x GET /cart at 50 ms. IDLE ran nothing. Custom metrics:
    cache_hits counted 40 in BROWSE and 2 outside tasks, logins marked 25 times, and
    the db timer timed 1, 2, ..., 10 ms.
    """
    stats = RequestStats()
    for _ in range(20):
        stats.record_request(BROWSE, "GET", "/products", 4.0, 100, None, START + 1)
    for i in range(10):
        error = ValueError("refused") if i in (3, 7) else None
        stats.record_request(CART, "POST", "/cart", 10.0 * (i + 1), 10, error, START + 2)
    for _ in range(5):
        stats.record_request(CART, "GET", "/cart", 50.0, 10, None, START + 3)
    for _ in range(20):
        stats.record_iteration(BROWSE, failed=False)
    for i in range(10):
        stats.record_iteration(CART, failed=i < 3)
    registry = MetricsRegistry()
    registry.add(COUNTER, "cache_hits", BROWSE, 40)
    registry.add(COUNTER, "cache_hits", None, 2)
    registry.add(RATE, "logins", CART, 25)
    for ms in range(1, 11):
        registry.record_time("db", CART, float(ms))
    result = build_result(stats, RUN, TASKS, ())
    return dataclasses.replace(result, metrics=build_metric_results(registry, RUN.duration_s))


RESULT = shop_result()


def judge(expression: str, result: RunResult = RESULT, task: str | None = None) -> Verdict:
    return evaluate(parse_threshold(expression, source=SOURCE, task=task), result)


# -- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scope", "metric", "percentile", "op", "value"),
    [
        ("p95<300ms", None, "p95", 95.0, "<", 300.0),
        ("p95<300", None, "p95", 95.0, "<", 300.0),  # a plain time is ms
        ("p95<1.5s", None, "p95", 95.0, "<", 1500.0),
        ("avg<250us", None, "avg", None, "<", 0.25),
        ("avg<.5ms", None, "avg", None, "<", 0.5),
        ("min>=0.1ms", None, "min", None, ">=", 0.1),
        ("max<2s", None, "max", None, "<", 2000.0),
        ("med<50ms", None, "med", None, "<", 50.0),
        ("p(99.9)<1s", None, "p99.9", 99.9, "<", 1000.0),
        ("p99.9<1s", None, "p99.9", 99.9, "<", 1000.0),
        ("p(50)<=2", None, "p50", 50.0, "<=", 2.0),
        ("p100<1s", None, "p100", 100.0, "<", 1000.0),
        ("fail_ratio<1%", None, "fail_ratio", None, "<", 0.01),
        ("fail_ratio<0.01", None, "fail_ratio", None, "<", 0.01),
        ("fail_ratio<=0.3%", None, "fail_ratio", None, "<=", 0.003),
        ("fail_ratio<=100%", None, "fail_ratio", None, "<=", 1.0),
        ("rps>=200", None, "rps", None, ">=", 200.0),
        ("rps>=200/s", None, "rps", None, ">=", 200.0),
        ("requests>=1000", None, "requests", None, ">=", 1000.0),
        ("failures==0", None, "failures", None, "==", 0.0),
        (" p95 < 300 ms ", None, "p95", 95.0, "<", 300.0),
        ("GET /cart: p99<500ms", "GET /cart", "p99", 99.0, "<", 500.0),
        ("/cart: avg<=80ms", "/cart", "avg", None, "<=", 80.0),
        ("GET http://h:8080/x: p95<1s", "GET http://h:8080/x", "p95", 95.0, "<", 1000.0),
        ("metric:cache_hits>100", "metric:cache_hits", "count", None, ">", 100.0),
        ("metric:cache_hits: count>100", "metric:cache_hits", "count", None, ">", 100.0),
        ("metric: cache_hits : count>1", "metric:cache_hits", "count", None, ">", 1.0),
        ("metric:logins: rate>=2/s", "metric:logins", "rate", None, ">=", 2.0),
        ("metric:db_query: p95<10ms", "metric:db_query", "p95", 95.0, "<", 10.0),
        ("metric:a:b: count>1", "metric:a:b", "count", None, ">", 1.0),
        ("metric:count>5", "metric:count", "count", None, ">", 5.0),  # a metric named count
    ],
)
def test_parse(
    text: str, scope: str | None, metric: str, percentile: float | None, op: str, value: float
) -> None:
    threshold = parse_threshold(text, source=SOURCE)
    assert threshold == Threshold(text.strip(), scope, metric, percentile, op, value, SOURCE)
    kind = "run" if scope is None else "metric" if scope.startswith("metric:") else "request"
    assert (threshold.scope_kind, threshold.for_task) == (kind, False)


def test_parse_for_a_task() -> None:
    threshold = parse_threshold("fail_ratio<15%", source="lt.task(thresholds=...)", task=CART)
    assert (threshold.scope, threshold.for_task, threshold.scope_kind) == (CART, True, "task")
    assert (threshold.metric, threshold.value) == ("fail_ratio", 0.15)


@pytest.mark.parametrize(
    ("text", "covers"),
    [("fail_ratio<1%", True), ("/cart: failures==0", True), ("p95<1s", False), ("rps>1", False)],
)
def test_covers_failures(text: str, covers: bool) -> None:
    assert parse_threshold(text, source=SOURCE).covers_failures is covers


def test_error_message_points_at_the_character() -> None:
    with pytest.raises(ThresholdError) as caught:
        parse_threshold("p95<<300ms", source=SOURCE)
    assert str(caught.value) == (
        "invalid threshold 'p95<<300ms': expected a number after '<'\n"
        "  p95<<300ms\n"
        "      ^\n"
        "metrics: avg, min, max, med, pNN, p(NN.N), rps, fail_ratio, failures, requests"
        " (metric:NAME: count, rate)"
    )
    error = caught.value
    assert (error.expression, error.position, error.source) == ("p95<<300ms", 4, SOURCE)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        ("", "the expression is empty", 0),
        ("   ", "the expression is empty", 0),
        ("p95", "expected an operator (<, <=, >, >=, ==) after 'p95'", 3),
        ("p95 300ms", "expected an operator (<, <=, >, >=, ==) after 'p95'", 4),
        ("failures=0", "after 'failures' ('=' alone is not one)", 8),
        ("p95x<1", "unknown metric 'p95x'", 0),
        ("latency<1s", "unknown metric 'latency'", 0),
        ("GET /cart: p95x<1", "unknown metric 'p95x'", 11),
        ("<1s", "expected a metric", 0),
        ("p(0)<1", "bad percentile '0': expected a number above 0 and at most 100", 2),
        ("p(101)<1", "bad percentile '101'", 2),
        ("p(abc)<1", "bad percentile 'abc'", 2),
        ("p()<1", "bad percentile ''", 2),
        ("p0<1", "bad percentile '0'", 1),
        ("p(99<1", "expected ')' to close the percentile", 4),
        ("p(99", "expected ')' to close the percentile", 4),
        ("p95<", "expected a number after '<'", 4),
        ("p95< ms", "expected a number after '<'", 5),
        ("p95<-1s", "the value cannot be negative", 4),
        ("p95<300xs", "unknown unit 'xs': a time takes us, ms or s (a plain number is ms)", 7),
        ("rps>2/m", "unknown unit '/m'", 5),
        ("p95<5%", "'%' does not fit p95: a time takes us, ms or s", 5),
        ("rps<3ms", "'ms' does not fit rps: a rate takes /s or a plain number", 5),
        ("failures<1%", "'%' does not fit failures: a count takes a plain number", 10),
        ("fail_ratio<2/s", "'/s' does not fit fail_ratio: a ratio takes %", 12),
        ("fail_ratio<5", "a fail_ratio is at most 1 (100%): a plain number is a fraction", 11),
        ("fail_ratio<101%", "a fail_ratio is at most 1 (100%)", 11),
        ("p95<1s x", "unexpected 'x' after the value", 7),
        ("p95<1s: x", "unexpected ': x' after the value", 6),
        (": p95<1s", "nothing before ':': a scope is a request name", 0),
        ("metric:: count>1", "expected a metric name after 'metric:'", 7),
        ("metric:", "expected a metric name after 'metric:'", 7),
        ("metric:db p95<1ms", "expected an operator (<, <=, >, >=, ==) after 'metric:db'", 10),
        ("metric:logins>=2/s", "'/s' does not fit count: a count takes a plain number", 16),
        ("count>1", "'count' needs a custom metric scope, e.g. metric:NAME: count>10", 0),
        ("/cart: rate>1", "'rate' needs a custom metric scope", 7),
        ("metric:db: rps>1", "a custom metric has no rps: it has count and rate", 11),
        ("metric:db: fail_ratio<1%", "a custom metric has no fail_ratio", 11),
        ("p95<" + "9" * 400, "the value is too large", 4),
    ],
)
def test_parse_error(text: str, reason: str, position: int) -> None:
    with pytest.raises(ThresholdError) as caught:
        parse_threshold(text, source=SOURCE)
    error = caught.value
    expression = text.strip()
    head, shown, caret, metrics = str(error).split("\n")
    assert head.startswith(f"invalid threshold {expression!r}: ")
    assert reason in error.reason
    assert (shown, caret) == (f"  {expression}", "  " + " " * position + "^")
    assert error.position == position
    assert metrics.startswith("metrics: avg, min, max, med, pNN, p(NN.N), rps, fail_ratio")


@pytest.mark.parametrize("text", ["GET /cart: p95<1s", "metric:cache_hits>1"])
def test_a_task_threshold_takes_no_scope(text: str) -> None:
    with pytest.raises(ThresholdError, match="scoped to its task already: it takes no scope") as c:
        parse_threshold(text, source="lt.task(thresholds=...)", task=CART)
    assert c.value.position == 0


# -- evaluation: the whole run -----------------------------------------------------------

TOTAL_AVG = (20 * 4.0 + 550.0 + 5 * 50.0) / 35


@pytest.mark.parametrize(
    ("text", "observed", "passed"),
    [
        ("avg<26ms", TOTAL_AVG, True),
        ("avg<25ms", TOTAL_AVG, False),
        ("avg<25200us", TOTAL_AVG, True),
        ("avg>0.0252s", TOTAL_AVG, False),
        ("min>=4ms", 4.0, True),
        ("min>4", 4.0, False),
        ("max<=100ms", 100.0, True),
        ("max<0.1s", 100.0, False),
        ("med<5ms", pytest.approx(4.0, rel=0.01), True),
        ("med>=5ms", pytest.approx(4.0, rel=0.01), False),
        ("p50<5ms", pytest.approx(4.0, rel=0.01), True),
        ("p95<91ms", pytest.approx(90.0, rel=0.01), True),  # the 34th of 35: 90 ms
        ("p95<89ms", pytest.approx(90.0, rel=0.01), False),
        ("p(99.9)<=100ms", 100.0, True),
        ("p(99.9)<99999us", 100.0, False),
        ("rps>=3.5", 3.5, True),
        ("rps>3.5/s", 3.5, False),
        ("fail_ratio<6%", 2 / 35, True),
        ("fail_ratio<0.05", 2 / 35, False),
        ("failures==2", 2.0, True),
        ("failures<2", 2.0, False),
        ("requests>=35", 35.0, True),
        ("requests>35", 35.0, False),
    ],
)
def test_run_scope(text: str, observed: float, passed: bool) -> None:
    verdict = judge(text)
    assert (verdict.observed, verdict.passed) == (observed, passed)
    assert (verdict.expression, verdict.scope, verdict.source) == (text, None, SOURCE)


@pytest.mark.parametrize(
    ("op", "passed"), [("<", False), ("<=", True), (">", False), (">=", True), ("==", True)]
)
@pytest.mark.parametrize("bound", ["requests 35", "rps 3.5/s", "max 0.1s", "fail_ratio 0.4%"])
def test_every_operator_at_the_bound(op: str, passed: bool, bound: str) -> None:
    metric, value = bound.split()
    result = RESULT
    if metric == "fail_ratio":  # 4 failures in 1,000 requests: 0.4% exactly as the bound
        result = one_entry_result(1000, failures=4)
    assert judge(f"{metric}{op}{value}", result).passed is passed


@pytest.mark.parametrize(
    ("op", "passed"), [("<", True), ("<=", True), (">", False), (">=", False), ("==", False)]
)
def test_every_operator_above(op: str, passed: bool) -> None:
    assert judge(f"requests{op}36").passed is passed
    assert judge(f"avg{op}{TOTAL_AVG * 1.01}ms").passed is passed


def test_equal_within_a_relative_tolerance_except_counts() -> None:
    time = parse_threshold("avg==0.3ms", source=SOURCE)
    assert time.holds(0.1 + 0.2)  # 0.30000000000000004
    assert not time.holds(0.3 * (1 + 1e-8))
    assert parse_threshold("avg<0.3ms", source=SOURCE).holds(0.1 + 0.2) is False
    count = parse_threshold("metric:hits==0.3", source=SOURCE)
    assert not count.holds(0.1 + 0.2)
    assert count.holds(0.3)


def test_verdict_texts() -> None:
    assert judge("max<300ms").observed_text == "100 ms"
    assert judge("avg<26ms").observed_text == "25.1 ms"
    assert judge("fail_ratio<6%").observed_text == "5.71%"
    assert judge("rps>=3").observed_text == "3.5/s"
    assert judge("requests>=35").observed_text == "35"


def test_evaluate_all_keeps_the_order() -> None:
    thresholds = [parse_threshold(t, source=SOURCE) for t in ("requests>1", "p95<1ms", "max<1s")]
    verdicts = evaluate_all(thresholds, RESULT)
    assert [(v.expression, v.passed) for v in verdicts] == [
        ("requests>1", True),
        ("p95<1ms", False),
        ("max<1s", True),
    ]


def test_a_run_without_requests() -> None:
    empty = build_result(RequestStats(), RUN, (), ())
    for text in ("p95<1s", "avg<1s", "fail_ratio<1%"):
        verdict = judge(text, empty)
        assert (verdict.observed, verdict.observed_text, verdict.passed) == (
            None,
            "no requests",
            False,
        )
    for text in ("requests==0", "failures==0", "rps==0"):
        verdict = judge(text, empty)
        assert (verdict.observed, verdict.passed) == (0.0, True)


# -- evaluation: requests, tasks, custom metrics ------------------------------------------


@pytest.mark.parametrize(
    ("text", "observed", "passed"),
    [
        ("POST /cart: failures==2", 2.0, True),
        ("POST /cart: fail_ratio==20%", 0.2, True),
        ("POST /cart: fail_ratio<20%", 0.2, False),
        ("POST /cart: avg==55ms", 55.0, True),
        ("POST /cart: min>10ms", 10.0, False),
        ("POST /cart: rps==1", 1.0, True),
        ("GET /cart: requests==5", 5.0, True),
        ("GET /cart: max<50ms", 50.0, False),
        ("/products: requests==20", 20.0, True),  # by NAME alone: one type has it
        ("GET /products: avg==4ms", 4.0, True),
        ("GET /products: fail_ratio==0", 0.0, True),
    ],
)
def test_request_scope(text: str, observed: float, passed: bool) -> None:
    verdict = judge(text)
    assert (verdict.observed, verdict.passed) == (observed, passed)
    assert verdict.scope == text.split(":")[0]


def test_request_scope_ambiguous_name() -> None:
    verdict = judge("/cart: p95<1s")
    assert (verdict.observed, verdict.passed, verdict.scope) == (None, False, "/cart")
    assert verdict.observed_text == (
        "ambiguous: '/cart' names GET /cart, POST /cart; give the type, e.g. 'GET /cart:'"
    )


def test_request_scope_without_requests() -> None:
    verdict = judge("/nope: requests==0")
    assert (verdict.observed, verdict.observed_text, verdict.passed) == (
        None,
        "no requests named '/nope'",
        False,
    )


def test_request_scope_prefers_type_and_name() -> None:
    stats = RequestStats()
    stats.record_request(None, "GET", "/x", 1.0, 0, None, START)
    stats.record_request(None, "custom", "GET /x", 9.0, 0, None, START)
    result = build_result(stats, RUN, (), ())
    assert judge("GET /x: max==1ms", result).passed
    assert judge("custom GET /x: max==9ms", result).passed


@pytest.mark.parametrize(
    ("text", "observed", "passed"),
    [
        ("failures==3", 3.0, True),  # failed iterations, not failed requests (2)
        ("fail_ratio<=30%", 0.3, True),  # of iterations (10), not of requests (15)
        ("fail_ratio<30%", 0.3, False),
        ("requests==15", 15.0, True),
        ("rps>=1.5", 1.5, True),
        ("avg<53ms", (550.0 + 250.0) / 15, False),
        ("max<=100ms", 100.0, True),
        ("p95<101ms", pytest.approx(100.0, rel=0.01), True),
    ],
)
def test_task_scope(text: str, observed: float, passed: bool) -> None:
    verdict = judge(text, task=CART)
    assert (verdict.observed, verdict.passed, verdict.scope) == (observed, passed, CART)


@pytest.mark.parametrize(
    ("text", "task", "why"),
    [
        ("p95<1s", IDLE, "no requests in this task"),
        ("fail_ratio<1%", IDLE, "no iterations of this task"),
        ("p95<1s", "tests/test_gone.py::test_gone", "no task 'tests/test_gone.py::test_gone'"),
    ],
)
def test_task_scope_without_data(text: str, task: str, why: str) -> None:
    verdict = judge(text, task=task)
    assert (verdict.observed, verdict.passed) == (None, False)
    assert verdict.observed_text.startswith(why)


def test_task_scope_counts_of_nothing_are_zero() -> None:
    assert judge("requests==0", task=IDLE).observed == 0.0
    assert judge("failures==0", task=IDLE).passed


@pytest.mark.parametrize(
    ("text", "observed", "passed"),
    [
        ("metric:cache_hits>41", 42.0, True),  # the shorthand: the count
        ("metric:cache_hits>42", 42.0, False),
        ("metric:cache_hits: count==42", 42.0, True),
        ("metric:cache_hits: rate==4.2/s", 4.2, True),
        ("metric:logins: rate>=2/s", 2.5, True),
        ("metric:logins: rate>3", 2.5, False),
        ("metric:logins<=25", 25.0, True),
        ("metric:db: count==10", 10.0, True),
        ("metric:db: avg<5ms", 5.5, False),
        ("metric:db: max<=10ms", 10.0, True),
        ("metric:db: min>=1000us", 1.0, True),
        ("metric:db: p95<10.5ms", pytest.approx(10.0, rel=0.01), True),
        ("metric:db: p(50)>6ms", pytest.approx(5.0, rel=0.01), False),
    ],
)
def test_metric_scope(text: str, observed: float, passed: bool) -> None:
    verdict = judge(text)
    assert (verdict.observed, verdict.passed) == (observed, passed)
    assert verdict.scope in ("metric:cache_hits", "metric:logins", "metric:db")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("metric:nope>1", "no metric named 'nope'"),
        ("metric:cache_hits: p95<1s", "metric 'cache_hits' is a counter, not a timer"),
        ("metric:logins: avg<1s", "metric 'logins' is a rate, not a timer"),
        ("metric:idle: p95<1s", "no timings of metric 'idle'"),
    ],
)
def test_metric_scope_without_data(text: str, why: str) -> None:
    idle = MetricResult("idle", "timer", 0, 0.0, entry_result(StatsEntry("timer", "idle"), 10), {})
    result = dataclasses.replace(RESULT, metrics=(*RESULT.metrics, idle))
    verdict = judge(text, result)
    assert (verdict.observed, verdict.passed) == (None, False)
    assert verdict.observed_text.startswith(why)


# -- percentiles that are not stored -----------------------------------------------------


def spread() -> tuple[RequestStats, RunResult]:
    """GET /spread at 10, 20, ..., 1000 ms: the p-th percentile is 10 * ceil(p) ms."""
    stats = RequestStats()
    for i in range(1, 101):
        stats.record_request(None, "GET", "/spread", 10.0 * i, 0, None, START)
    return stats, build_result(stats, RUN, (), ())


def test_unstored_percentile_reads_the_nearest_stored_one_above() -> None:
    verdict = judge("GET /spread: p(90.5)<1s", spread()[1])
    assert verdict.observed == pytest.approx(950.0, rel=0.01)  # p95, where p90.5 is 910
    assert verdict.observed_text.endswith(" ms (p95: p90.5 is not stored)")
    assert verdict.passed


def test_unstored_percentile_from_the_hook() -> None:
    stats, result = spread()
    series = stats.by_name()

    def percentile_of(entry: EntryResult, p: float) -> float:
        return series[entry.type, entry.name].percentile(p)

    threshold = parse_threshold("GET /spread: p(90.5)<915ms", source=SOURCE)
    verdict = evaluate(threshold, result, percentile_of=percentile_of)
    assert verdict.observed == pytest.approx(910.0, rel=0.01)
    assert verdict.observed_text.endswith(" ms")
    assert "not stored" not in verdict.observed_text
    assert verdict.passed
    (again,) = evaluate_all([threshold], result, percentile_of=percentile_of)
    assert again == verdict


def test_hook_without_an_answer_falls_back() -> None:
    threshold = parse_threshold("GET /spread: p(90.5)<1s", source=SOURCE)
    verdict = evaluate(threshold, spread()[1], percentile_of=lambda entry, p: None)
    assert verdict.observed_text.endswith("(p95: p90.5 is not stored)")


# -- formatting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "value", "text"),
    [
        ("p95", 412.3, "412 ms"),
        ("avg", 3.14159, "3.14 ms"),
        ("p99.9", 0.0431, "0.043 ms"),
        ("max", 31_415.0, "31,415 ms"),
        ("fail_ratio", 0.013, "1.30%"),
        ("rps", 203.44, "203.4/s"),
        ("rate", 1234.56, "1,234.6/s"),
        ("requests", 17, "17"),
        ("count", 1_234_567.0, "1,234,567"),
        ("count", 2.5, "2.50"),
    ],
)
def test_format_observed(metric: str, value: float, text: str) -> None:
    assert format_observed(metric, value) == text


def one_entry_result(requests: int, failures: int) -> RunResult:
    stats = RequestStats()
    for i in range(requests):
        error = RuntimeError("503") if i < failures else None
        stats.record_request(None, "GET", "/", 1.0, 0, error, START)
    return build_result(stats, RUN, (), ())

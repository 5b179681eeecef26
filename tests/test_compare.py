"""Baseline comparison: reading the baseline, the rules, matching entries, verdicts, table."""

from __future__ import annotations

import json
import re
from dataclasses import astuple
from typing import TYPE_CHECKING, Any

import pytest

from pytest_loadtest.report.compare import (
    BaselineError,
    Change,
    CompareRule,
    CompareRuleError,
    check,
    compare,
    load_baseline,
    parse_compare_fail,
    render_comparison,
)
from pytest_loadtest.report.jsonfile import to_json, write_json
from pytest_loadtest.report.results import RunInfo, build_result
from pytest_loadtest.stats import PERCENTILES, RequestStats, percentile_key
from pytest_loadtest.thresholds import Verdict

if TYPE_CHECKING:
    from pathlib import Path

KEYS = [percentile_key(p) for p in PERCENTILES]


def entry(
    type_: str = "GET",
    name: str = "/a",
    *,
    requests: int = 100,
    p50: float = 10.0,
    p95: float = 40.0,
    p99: float = 50.0,
    avg: float = 12.0,
    rps: float = 200.0,
    fail_ratio: float = 0.0,
    **other_percentiles: float,
) -> dict[str, Any]:
    """An entry as the JSON file holds it; ``p99_9=80`` sets percentile "99.9"."""
    percentiles = dict.fromkeys(KEYS, p99) | {"50": p50, "95": p95, "99": p99}
    percentiles |= {key[1:].replace("_", "."): v for key, v in other_percentiles.items()}
    return {
        "type": type_,
        "name": name,
        "num_requests": requests,
        "num_failures": round(requests * fail_ratio),
        "min_ms": 1.0,
        "max_ms": percentiles["100"],
        "avg_ms": avg,
        "median_ms": p50,
        "percentiles_ms": percentiles,
        "rps": rps,
        "fail_rps": rps * fail_ratio,
        "avg_content_length": 10.0,
        "fail_ratio": fail_ratio,
    }


def results(*entries: dict[str, Any], **total: Any) -> dict[str, Any]:
    """A result file's data; ``total`` are :func:`entry` arguments for the Aggregated row."""
    return {
        "schema": "pytest-loadtest/1",
        "entries": list(entries),
        "total": entry("", "Aggregated", **total),
    }


def verdicts(rule: str, baseline: dict[str, Any], current: dict[str, Any]) -> Verdict:
    (verdict,) = check([parse_compare_fail(rule)], compare(baseline, current))
    return verdict


# --- rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metric", "bound"),
    [
        ("p95:10%", "p95", 0.10),
        ("p95:+10%", "p95", 0.10),
        ("  p50:0%  ", "p50", 0.0),
        ("p(99.9):2.5%", "p99.9", 0.025),
        ("p99.90:200%", "p99.9", 2.0),
        ("p100:50%", "p100", 0.5),
        ("avg:15%", "avg", 0.15),
        ("med : 20%", "med", 0.20),
        ("rps:-5%", "rps", 0.05),
        ("rps:5%", "rps", 0.05),
        ("rps:-99.5%", "rps", 0.995),
        ("fail_ratio:+0.5%", "fail_ratio", 0.005),
        ("fail_ratio:1%", "fail_ratio", 0.01),
    ],
)
def test_parse_rule(text: str, metric: str, bound: float) -> None:
    rule = parse_compare_fail(text)
    assert rule == CompareRule(text.strip(), metric, rule.bound)
    assert rule.bound == pytest.approx(bound)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("p95", "no ':' between the metric and the bound"),
        ("p95<300ms", "that is a threshold (give it to --load-threshold)"),
        ("p95:", "no bound after ':'"),
        (":10%", "no metric before ':'"),
        ("GET /cart: p95:10%", "more than one ':'"),
        ("p95:10", "the bound '10' is not a percentage like 10%"),
        ("p95:10ms", "the bound '10ms' is not a percentage like 10%"),
        ("p95:ten%", "the bound 'ten%' is not a percentage like 10%"),
        ("p95:1e3%", "the bound '1e3%' is not a percentage like 10%"),
        ("p97:10%", "percentile 97 is not stored in result files (stored: 50, 66,"),
        ("p(99.9:10%", "unknown metric 'p(99.9'"),
        ("max:10%", "unknown metric 'max'"),
        ("P95:10%", "unknown metric 'P95'"),
        ("p95:-10%", "p95 regresses when it rises, so the bound is +10%"),
        ("avg:-1%", "avg regresses when it rises, so the bound is +1%"),
        ("rps:+5%", "rps regresses when it falls, so the bound is -5%"),
        ("fail_ratio:-0.5%", "fail_ratio regresses when it rises, so the bound is +0.5%"),
        ("rps:-100%", "rps cannot fall by more than 100%, so this rule could never fail"),
        (
            "fail_ratio:100%",
            "fail_ratio cannot rise by more than 100 points, so this rule could never fail",
        ),
    ],
)
def test_bad_rule(text: str, reason: str) -> None:
    with pytest.raises(CompareRuleError) as info:
        parse_compare_fail(text)
    message = str(info.value)
    assert message.startswith(f"--load-compare-fail {text.strip()!r}: {reason}")
    assert "expected METRIC:BOUND such as p95:10%, rps:-5% or fail_ratio:+0.5%" in message
    assert message.endswith("p99.99, p100, avg, med, rps, fail_ratio")
    assert isinstance(info.value, ValueError)


# --- verdicts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "old", "new", "observed", "text", "passed"),
    [
        ("p95:10%", {"p95": 40.0}, {"p95": 44.0}, 0.10, "+10.0% (p95 40.0 -> 44.0 ms)", True),
        ("p95:10%", {"p95": 40.0}, {"p95": 44.2}, 0.105, "+10.5% (p95 40.0 -> 44.2 ms)", False),
        ("p95:10%", {"p95": 40.0}, {"p95": 20.0}, -0.5, "-50.0% (p95 40.0 -> 20.0 ms)", True),
        ("p50:0%", {"p50": 10.0}, {"p50": 10.0}, 0.0, "+0.0% (p50 10.0 -> 10.0 ms)", True),
        ("p50:0%", {"p50": 10.0}, {"p50": 10.1}, 0.01, "+1.0% (p50 10.0 -> 10.1 ms)", False),
        ("p99:25%", {"p99": 400}, {"p99": 500}, 0.25, "+25.0% (p99 400 -> 500 ms)", True),
        ("p99:25%", {"p99": 400}, {"p99": 510}, 0.275, "+27.5% (p99 400 -> 510 ms)", False),
        (
            "p(99.9):50%",
            {"p99_9": 80.0},
            {"p99_9": 121.0},
            0.5125,
            "+51.2% (p99.9 80.0 -> 121 ms)",
            False,
        ),
        # (2.1 - 2.0) / 2.0 is 0.050000000000000044: still at the bound
        ("avg:5%", {"avg": 2.0}, {"avg": 2.1}, 0.05, "+5.0% (avg 2.00 -> 2.10 ms)", True),
        ("avg:5%", {"avg": 2.0}, {"avg": 2.2}, 0.1, "+10.0% (avg 2.00 -> 2.20 ms)", False),
        ("med:20%", {"p50": 0.5}, {"p50": 0.6}, 0.2, "+20.0% (med 0.500 -> 0.600 ms)", True),
        ("med:20%", {"p50": 0.5}, {"p50": 0.61}, 0.22, "+22.0% (med 0.500 -> 0.610 ms)", False),
        ("rps:-5%", {"rps": 200.0}, {"rps": 190.0}, -0.05, "-5.0% (rps 200.0 -> 190.0/s)", True),
        ("rps:-5%", {"rps": 200.0}, {"rps": 189.0}, -0.055, "-5.5% (rps 200.0 -> 189.0/s)", False),
        ("rps:5%", {"rps": 200.0}, {"rps": 189.0}, -0.055, "-5.5% (rps 200.0 -> 189.0/s)", False),
        (
            "rps:-5%",
            {"rps": 2000.0},
            {"rps": 3000.0},
            0.5,
            "+50.0% (rps 2,000.0 -> 3,000.0/s)",
            True,
        ),
        (
            "fail_ratio:+0.5%",
            {"fail_ratio": 0.01},
            {"fail_ratio": 0.015},
            0.005,
            "+0.50 pp (fail_ratio 1.00% -> 1.50%)",
            True,
        ),
        (
            "fail_ratio:+0.5%",
            {"fail_ratio": 0.01},
            {"fail_ratio": 0.0151},
            0.0051,
            "+0.51 pp (fail_ratio 1.00% -> 1.51%)",
            False,
        ),
        (
            "fail_ratio:+0.5%",
            {"fail_ratio": 0.0},
            {"fail_ratio": 0.006},
            0.006,
            "+0.60 pp (fail_ratio 0.00% -> 0.60%)",
            False,
        ),
        (  # 0.04 - 0.03 is 0.010000000000000002 in floating point: still at the bound
            "fail_ratio:1%",
            {"fail_ratio": 0.03},
            {"fail_ratio": 0.04},
            0.01,
            "+1.00 pp (fail_ratio 3.00% -> 4.00%)",
            True,
        ),
        (
            "fail_ratio:0%",
            {"fail_ratio": 0.02},
            {"fail_ratio": 0.0},
            -0.02,
            "-2.00 pp (fail_ratio 2.00% -> 0.00%)",
            True,
        ),
    ],
)
def test_rule_verdict(
    rule: str,
    old: dict[str, Any],
    new: dict[str, Any],
    observed: float,
    text: str,
    passed: bool,
) -> None:
    verdict = verdicts(rule, results(**old), results(**new))
    assert verdict == Verdict(
        expression=rule,
        scope=None,
        source="--load-compare-fail",
        observed=verdict.observed,
        observed_text=text,
        passed=passed,
    )
    assert verdict.observed == pytest.approx(observed)


def test_rules_judge_the_aggregated_row_only() -> None:
    baseline = results(entry(p95=10.0), p95=40.0)
    current = results(entry(p95=100.0), p95=41.0)
    assert verdicts("p95:10%", baseline, current).passed


@pytest.mark.parametrize(
    ("rule", "old", "new", "text"),
    [
        ("rps:-5%", {"rps": 0.0}, {"rps": 10.0}, "no relative change from a baseline of 0"),
        ("p95:10%", {"p95": 0.0}, {"p95": 3.0}, "no relative change from a baseline of 0"),
        ("p95:10%", {"requests": 0}, {}, "the baseline has no requests"),
        ("fail_ratio:1%", {"requests": 0}, {}, "the baseline has no requests"),
        ("p95:10%", {}, {"requests": 0, "p95": 0.0}, "this run has no requests"),
    ],
)
def test_no_comparison_fails(
    rule: str, old: dict[str, Any], new: dict[str, Any], text: str
) -> None:
    verdict = verdicts(rule, results(**old), results(**new))
    assert (verdict.passed, verdict.observed) == (False, None)
    assert verdict.observed_text.startswith(text)


def test_zero_baseline_text_shows_both_values() -> None:
    verdict = verdicts("rps:-5%", results(rps=0.0), results(rps=12.5))
    assert verdict.observed_text == "no relative change from a baseline of 0 (rps 0.0 -> 12.5/s)"


def test_check_keeps_rule_order() -> None:
    rules = [parse_compare_fail(text) for text in ("rps:-5%", "p95:10%", "rps:-50%")]
    comparison = compare(results(p95=40.0, rps=100.0), results(p95=40.0, rps=90.0))
    outcomes = [(v.expression, v.passed) for v in check(rules, comparison)]
    assert outcomes == [("rps:-5%", False), ("p95:10%", True), ("rps:-50%", True)]
    assert check([], comparison) == ()


# --- comparing -------------------------------------------------------------------------------


def test_compare_matches_entries_by_type_and_name() -> None:
    baseline = results(
        entry("GET", "/a", p95=40.0),
        entry("POST", "/a", p95=80.0),
        entry("GET", "/old"),
        p95=50.0,
    )
    current = results(
        entry("GET", "/a", p95=46.0),
        entry("GET", "/new"),
        entry("POST", "/a", p95=60.0),
        p95=55.0,
    )
    comparison = compare(baseline, current)
    assert [(r.type, r.name) for r in comparison.rows] == [
        ("GET", "/a"),
        ("POST", "/a"),
        ("", "Aggregated"),
    ]
    p95 = [value for row in comparison.rows for value in astuple(row.p95)]
    assert p95 == pytest.approx([40.0, 46.0, 0.15, 80.0, 60.0, -0.25, 50.0, 55.0, 0.1])
    assert comparison.total is comparison.rows[-1]
    assert comparison.only_in_baseline == (("GET", "/old"),)
    assert comparison.only_in_current == (("GET", "/new"),)


def test_row_holds_every_metric() -> None:
    old = entry(requests=10, p50=1.0, p95=2.0, p99=4.0, avg=1.5, rps=50.0, fail_ratio=0.1)
    new = entry(requests=30, p50=2.0, p95=3.0, p99=2.0, avg=3.0, rps=25.0, fail_ratio=0.25)
    (row, _) = compare(results(old), results(new)).rows
    assert (row.old_requests, row.new_requests) == (10, 30)
    assert sorted(row.metrics) == sorted(
        ["avg", "med", "rps", "fail_ratio", *(f"p{key}" for key in KEYS)]
    )
    assert row.p50 == Change(1.0, 2.0, 1.0)
    assert row.p95 == Change(2.0, 3.0, 0.5)
    assert row.p99 == Change(4.0, 2.0, -0.5)
    assert row.metrics["avg"] == Change(1.5, 3.0, 1.0)
    assert row.metrics["med"] == row.p50
    assert row.rps == Change(50.0, 25.0, -0.5)
    assert astuple(row.fail_ratio) == pytest.approx((0.1, 0.25, 0.15))
    assert compare(results(entry(rps=0.0)), results(entry(rps=3.0))).rows[0].rps.change is None


# --- the table -------------------------------------------------------------------------------


def test_render_comparison() -> None:
    baseline = results(
        entry("GET", "/products", p50=4.0, p95=41.0, p99=120.0, rps=203.4, fail_ratio=0.005),
        entry("POST", "/cart", p50=0.0, p95=0.0, p99=0.0, rps=0.0),
        entry("GET", "/gone"),
        p50=5.0,
        p95=41.0,
        p99=150.0,
        rps=1500.0,
        fail_ratio=0.005,
    )
    current = results(
        entry("GET", "/products", p50=4.5, p95=46.125, p99=118.0, rps=190.0, fail_ratio=0.013),
        entry("POST", "/cart", p50=2.0, p95=3.0, p99=4.0, rps=10.0),
        entry("", "db: orders"),
        p50=5.0,
        p95=46.125,
        p99=150.0,
        rps=1234.5,
        fail_ratio=0.01,
    )
    text = render_comparison(compare(baseline, current))
    heading, headers, rule, *rows = text.split("\n\n")[0].splitlines()
    assert heading == "Compared with the baseline"
    assert cells(headers) == [
        "Type",
        "Name",
        "p50 (ms)",
        "p95 (ms)",
        "p99 (ms)",
        "req/s",
        "fail ratio",
    ]
    assert [cells(row) for row in rows] == [
        [
            "GET",
            "/products",
            "4.00 -> 4.50 (+12.5%)",
            "41.0 -> 46.1 (+12.5%)",
            "120 -> 118 (-1.7%)",
            "203.4 -> 190.0 (-6.6%)",
            "0.50% -> 1.30% (+0.80 pp)",
        ],
        [
            "POST",
            "/cart",
            "0 -> 2.00 (n/a)",
            "0 -> 3.00 (n/a)",
            "0 -> 4.00 (n/a)",
            "0.0 -> 10.0 (n/a)",
            "0.00% -> 0.00% (+0.00 pp)",
        ],
        [],  # the rule above the total
        [
            "Aggregated",
            "5.00 -> 5.00 (+0.0%)",
            "41.0 -> 46.1 (+12.5%)",
            "150 -> 150 (+0.0%)",
            "1,500.0 -> 1,234.5 (-17.7%)",
            "0.50% -> 1.00% (+0.50 pp)",
        ],
    ]
    # Numbers are right-aligned: every row ends in the same column.
    assert len({len(line) for line in [headers, rule, *rows]}) == 1
    assert rows[-1].startswith(" " * len("Type  "))


def cells(line: str) -> list[str]:
    """A table line's cells (they hold single spaces; columns are 2 or more apart)."""
    if set(line) <= {"-", " "}:
        return []
    return re.split(r"\s{2,}", line.strip())


def test_render_lists_unmatched_entries() -> None:
    baseline = results(entry("GET", "/gone"), entry("GET", "/also gone"))
    current = results(entry("", "db: orders"))
    text = render_comparison(compare(baseline, current))
    assert text.split("\n\n")[1:] == [
        "Only in this run:\n    db: orders",
        "Only in the baseline:\n    GET /gone\n    GET /also gone",
    ]
    assert text.split("\n\n")[0].splitlines()[-1].startswith("        Aggregated")


def test_render_without_unmatched_entries_is_one_table() -> None:
    text = render_comparison(compare(results(), results()))
    assert "\n\n" not in text
    assert len(text.splitlines()) == 4  # heading, headers, rule, Aggregated


# --- the baseline file -----------------------------------------------------------------------


def write(tmp_path: Path, data: object) -> str:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_load_baseline(tmp_path: Path) -> None:
    data = results(entry("GET", "/a"), entry("POST", "/a"), p95=3.5)
    assert load_baseline(write(tmp_path, data)) == data


def test_load_baseline_written_by_load_json(tmp_path: Path) -> None:
    stats = RequestStats()
    for ms in (10.0, 20.0, 30.0, 40.0):
        stats.record_request(None, "GET", "/a", ms, 100, None, 1_700_000_000.0)
    result = build_result(stats, RunInfo(1_700_000_000.0, 1_700_000_002.0, 2.0, 1, 1, None), (), ())
    path = tmp_path / "earlier.json"
    write_json(result, path)
    comparison = compare(load_baseline(str(path)), to_json(result))
    assert [(r.type, r.name) for r in comparison.rows] == [("GET", "/a"), ("", "Aggregated")]
    assert comparison.total.rps == Change(2.0, 2.0, 0.0)
    assert check([parse_compare_fail("p95:0%")], comparison)[0].passed


def baseline_error(path: str) -> str:
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    assert isinstance(info.value, ValueError)
    return str(info.value)


def test_baseline_missing(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.json")
    assert baseline_error(path) == f"--load-baseline {path}: no such file"


def test_baseline_is_a_directory(tmp_path: Path) -> None:
    message = baseline_error(str(tmp_path))
    assert message.startswith(f"--load-baseline {tmp_path}: cannot be read: ")


def test_baseline_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_bytes(b"\xff\xfe{}")
    assert baseline_error(str(path)) == f"--load-baseline {path}: not a JSON file (not UTF-8 text)"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not JSON: Expecting value at line 1 column 1"),
        ('{\n  "schema": "pytest-loadtest/1",\n  "entries": [,]\n}', "at line 3 column 15"),
        ("Type,Name,Request Count\n", "not JSON: Expecting value at line 1 column 1"),
    ],
)
def test_baseline_not_json(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(text, encoding="utf-8")
    message = baseline_error(str(path))
    assert message.startswith(f"--load-baseline {path}: not JSON: ")
    assert message.endswith(reason)


def broken(change: str) -> dict[str, Any]:
    """A valid baseline with one thing changed; ``change`` names it."""
    data = results(entry("GET", "/a"), entry("GET", "/b"))
    first, total = data["entries"][0], data["total"]
    if change == "no schema":
        del data["schema"]
    elif change == "old schema":
        data["schema"] = "pytest-loadtest/0"
    elif change == "no entries":
        del data["entries"]
    elif change == "entries object":
        data["entries"] = {}
    elif change == "entry list":
        data["entries"][1] = []
    elif change == "duplicate":
        data["entries"][1] = first
    elif change == "no total":
        del data["total"]
    elif change == "total null":
        data["total"] = None
    elif change == "no rps":
        del first["rps"]
    elif change == "rps text":
        first["rps"] = "200"
    elif change == "rps null":
        first["rps"] = None
    elif change == "requests float":
        total["num_requests"] = 1.5
    elif change == "requests bool":
        total["num_requests"] = True
    elif change == "name number":
        first["name"] = 7
    elif change == "no percentiles":
        del total["percentiles_ms"]
    elif change == "percentiles list":
        total["percentiles_ms"] = [1, 2]
    elif change == "no p99.9":
        del first["percentiles_ms"]["99.9"]
    return data


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("no schema", "no schema key; expected schema 'pytest-loadtest/1' (a file written by"),
        ("old schema", "schema 'pytest-loadtest/0'; expected schema 'pytest-loadtest/1'"),
        ("no entries", "entries is missing"),
        ("entries object", "entries: expected a list, found an object"),
        ("entry list", "entries[1]: expected an object, found a list"),
        ("duplicate", "entries[1]: 'GET /a' appears twice"),
        ("no total", "total is missing"),
        ("total null", "total: expected an object, found null"),
        ("no rps", "entries[0].rps is missing"),
        ("rps text", "entries[0].rps: expected a finite number, found '200'"),
        ("rps null", "entries[0].rps: expected a finite number, found None"),
        ("requests float", "total.num_requests: expected a whole number, found 1.5"),
        ("requests bool", "total.num_requests: expected a whole number, found True"),
        ("name number", "entries[0].name: expected a string, found 7"),
        ("no percentiles", "total.percentiles_ms is missing"),
        ("percentiles list", "total.percentiles_ms: expected an object, found a list"),
        ("no p99.9", 'entries[0].percentiles_ms["99.9"] is missing'),
    ],
)
def test_baseline_malformed(tmp_path: Path, change: str, reason: str) -> None:
    path = write(tmp_path, broken(change))
    assert baseline_error(path).startswith(f"--load-baseline {path}: {reason}")


@pytest.mark.parametrize(
    ("data", "found"),
    [([], "a list"), ("x", "a string"), (3, "a number"), (None, "null"), (False, "a boolean")],
)
def test_baseline_not_an_object(tmp_path: Path, data: object, found: str) -> None:
    path = write(tmp_path, data)
    assert baseline_error(path) == f"--load-baseline {path}: expected a JSON object, found {found}"


def test_baseline_non_finite_number(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    text = json.dumps(results()).replace('"rps": 200.0', '"rps": Infinity', 1)
    path.write_text(text, encoding="utf-8")
    reason = "total.rps: expected a finite number, found inf"
    assert baseline_error(str(path)) == f"--load-baseline {path}: {reason}"

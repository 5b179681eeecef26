"""The JSON and CSV result files, rendered from known stats and parsed back, cell by cell."""

from __future__ import annotations

import csv
import json
import math
import os
import stat
from dataclasses import fields, replace
from pathlib import Path

import jsonschema
import pytest

from pytest_loadtest.history import History
from pytest_loadtest.metrics import MetricsRegistry, build_metric_results
from pytest_loadtest.report.csvfiles import (
    HISTORY_HEADER,
    CsvWriter,
    check_prefix,
    exceptions_rows,
    failures_rows,
    history_rows,
    metrics_rows,
    number,
    safe_text,
    stats_rows,
)
from pytest_loadtest.report.jsonfile import to_json, write_json
from pytest_loadtest.report.results import (
    EntryResult,
    HookErrorResult,
    RunInfo,
    RunResult,
    TaskInfo,
    build_result,
)
from pytest_loadtest.report.writing import check_writable
from pytest_loadtest.stats import PERCENTILES, RequestStats, percentile_key
from pytest_loadtest.thresholds import Verdict

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "pytest-loadtest-1.schema.json"

# The header lines of SPEC section 6, as Locust writes them, character for character.
STATS_LINE = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)
HISTORY_LINE = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
    "Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size"
)
FAILURES_LINE = "Method,Name,Error,Occurrences,First Seen,Last Seen"
EXCEPTIONS_LINE = "Count,Message,Traceback,Nodes"
STATS_HEADER, LOCUST_HISTORY_HEADER, FAILURES_HEADER, EXCEPTIONS_HEADER = (
    line.split(",") for line in (STATS_LINE, HISTORY_LINE, FAILURES_LINE, EXCEPTIONS_LINE)
)

START = 1_700_000_000.0
BROWSE = "tests/test_shop.py::test_browse"
CART = "tests/test_shop.py::TestCheckout::test_cart"
EVIL = "=cmd|' /C calc'!A0"
TRACEBACK = "Traceback (most recent call last):\n  ...\nKeyError: 'id'\n"
RUN = RunInfo(START, START + 10, 10.0, users=4, workers=2, host="http://127.0.0.1:8080")
TASKS = (TaskInfo(BROWSE, "tests/test_shop.py", 3), TaskInfo(CART, "TestCheckout", 1))
PASSED = Verdict("p95<300ms", None, "--load-threshold", 12.5, "12.5 ms", True)
NO_DATA = Verdict(
    "GET /nope: p99<1s",
    "GET /nope",
    "--load-threshold",
    None,
    "no requests named 'GET /nope'",
    False,
)
# A relative change from a zero baseline: not a finite number.
UNBOUNDED = Verdict("p95:10%", None, "--load-compare-fail", math.inf, "+inf%", False)
HOOK_ERROR = HookErrorResult("pytest_loadtest_request", "conftest.py", 2, "Traceback\n")


def known_stats() -> RequestStats:
    stats = RequestStats()
    for _ in range(20):
        stats.record_request(BROWSE, "GET", "/products", 4.0, 1000, None, START + 1)
    for i in range(5):
        error = ValueError("refused") if i < 2 else None
        stats.record_request(CART, "POST", "/cart", 12.5, 50, error, START + 2 + 1.25 * i)
    stats.record_request(BROWSE, "GET", EVIL, 0.412, 0, None, START + 4)
    stats.record_iteration(BROWSE, failed=False)
    stats.record_iteration(CART, failed=True)
    for task in (BROWSE, CART, CART):
        stats.record_exception(task, KeyError("id"), TRACEBACK, START + 4)
    return stats


def known_metrics() -> MetricsRegistry:
    registry = MetricsRegistry()
    registry.add("counter", "cache_hits", BROWSE, 3)
    registry.add("counter", "cache_hits", None, 2)
    registry.add("counter", "=evil", None, -3)
    for _ in range(2):
        registry.record_time("db", CART, 2.5)
    registry.add("rate", "signups", CART, 1)
    return registry


def known_result() -> RunResult:
    history = History()
    history.sample(START, 0, RequestStats())
    history.sample(START + 1, 4, known_stats())
    result = build_result(known_stats(), RUN, TASKS, history.rows, [HOOK_ERROR])
    return replace(
        result,
        tasks=tuple(
            replace(t, outcome=o) for t, o in zip(result.tasks, ["passed", "failed"], strict=True)
        ),
        metrics=build_metric_results(known_metrics(), RUN.duration_s),
        thresholds=(PASSED, NO_DATA),
        comparisons=(UNBOUNDED,),
    )


def same(value: str) -> list[str]:
    """One value in every percentile column."""
    return [value] * len(PERCENTILES)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


# --- JSON --------------------------------------------------------------------------------


def test_json_run_and_entries() -> None:
    data = to_json(known_result())
    assert data["schema"] == "pytest-loadtest/1"
    assert data["run"] == {
        "start": START,
        "end": START + 10,
        "start_iso": "2023-11-14T22:13:20.000Z",
        "end_iso": "2023-11-14T22:13:30.000Z",
        "duration_s": 10.0,
        "users": 4,
        "workers": 2,
        "host": "http://127.0.0.1:8080",
    }
    assert [(e["type"], e["name"]) for e in data["entries"]] == [
        ("POST", "/cart"),
        ("GET", "/products"),
        ("GET", EVIL),
    ]
    assert data["entries"][0] == {
        "type": "POST",
        "name": "/cart",
        "num_requests": 5,
        "num_failures": 2,
        "min_ms": 12.5,
        "max_ms": 12.5,
        "avg_ms": 12.5,
        "median_ms": 12.5,
        "percentiles_ms": {percentile_key(p): 12.5 for p in PERCENTILES},
        "rps": 0.5,
        "fail_rps": 0.2,
        "avg_content_length": 50.0,
        "fail_ratio": 0.4,
    }
    total = data["total"]
    assert (total["type"], total["name"], total["num_requests"], total["num_failures"]) == (
        "",
        "Aggregated",
        26,
        2,
    )
    assert list(total["percentiles_ms"]) == [
        "50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100",
    ]  # fmt: skip
    assert (total["min_ms"], total["percentiles_ms"]["100"]) == (0.412, 12.5)


def test_json_errors_tasks_metrics_and_verdicts() -> None:
    data = to_json(known_result())
    assert data["errors"] == [
        {
            "method": "POST",
            "name": "/cart",
            "error": "ValueError('refused')",
            "occurrences": 2,
            "first_seen": START + 2,
            "last_seen": START + 3.25,
            "tasks": [CART],
        }
    ]
    assert data["exceptions"] == [
        {"count": 3, "message": "KeyError('id')", "traceback": TRACEBACK, "tasks": [CART, BROWSE]}
    ]
    browse, cart = data["tasks"]
    assert {k: v for k, v in cart.items() if k != "requests"} == {
        "node_id": CART,
        "user_type": "TestCheckout",
        "weight": 1,
        "iterations": 1,
        "failures": 1,
        "outcome": "failed",
    }
    assert (browse["outcome"], browse["requests"]["name"], browse["requests"]["num_requests"]) == (
        "passed",
        BROWSE,
        21,
    )
    metrics = {m["name"]: m for m in data["metrics"]}
    assert metrics["cache_hits"] == {
        "name": "cache_hits",
        "kind": "counter",
        "count": 5,
        "rate": 0.5,
        "timing": None,
        "tasks": {BROWSE: 3},
    }
    db = metrics["db"]
    assert (db["kind"], db["count"], db["tasks"]) == ("timer", 2, {CART: 2})
    assert (db["timing"]["type"], db["timing"]["name"], db["timing"]["median_ms"]) == (
        "timer",
        "db",
        2.5,
    )
    assert data["thresholds"] == [
        {
            "expression": "p95<300ms",
            "scope": None,
            "source": "--load-threshold",
            "observed": 12.5,
            "observed_text": "12.5 ms",
            "passed": True,
        },
        {
            "expression": "GET /nope: p99<1s",
            "scope": "GET /nope",
            "source": "--load-threshold",
            "observed": None,
            "observed_text": "no requests named 'GET /nope'",
            "passed": False,
        },
    ]
    assert data["comparisons"][0]["observed"] is None
    assert data["hook_errors"] == [
        {
            "hook": "pytest_loadtest_request",
            "plugin": "conftest.py",
            "count": 2,
            "traceback": "Traceback\n",
        }
    ]
    assert data["overflowed"] == 0


def test_json_history_is_the_aggregated_rows() -> None:
    first, second = to_json(known_result())["history"]
    assert (first["timestamp"], first["num_requests"], first["rps"]) == (START, 0, 0.0)
    assert first["percentiles_ms"] == {percentile_key(p): 0.0 for p in PERCENTILES}
    assert set(second) == {
        "timestamp", "user_count", "rps", "fail_rps", "percentiles_ms", "num_requests",
        "num_failures", "median_ms", "avg_ms", "min_ms", "max_ms", "avg_content_length",
    }  # fmt: skip
    assert (second["timestamp"], second["user_count"], second["rps"], second["fail_rps"]) == (
        START + 1,
        4,
        26.0,
        2.0,
    )
    assert (second["num_requests"], second["min_ms"], second["max_ms"]) == (26, 0.412, 12.5)


def test_json_is_strict_and_matches_the_schema() -> None:
    registry = known_metrics()
    registry.add("counter", "broken", None, math.nan)
    result = replace(known_result(), metrics=build_metric_results(registry, 10.0))
    data = to_json(result)
    assert {m["name"]: m["count"] for m in data["metrics"]}["broken"] is None
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(data)
    validator.validate(to_json(build_result(RequestStats(), RUN, (), ())))

    del data["total"]["rps"]
    with pytest.raises(jsonschema.ValidationError, match="'rps' is a required property"):
        validator.validate(data)


def test_the_schema_lists_every_field_of_the_model() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["$defs"]["entry"]["required"] == [f.name for f in fields(EntryResult)]
    assert schema["$defs"]["verdict"]["required"] == [f.name for f in fields(Verdict)]
    assert schema["required"] == list(to_json(known_result()))


def test_write_json_creates_directories_and_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "out" / "deep" / "run.json"
    write_json(build_result(RequestStats(), RUN, (), ()), path)
    result = known_result()
    write_json(result, path)
    assert json.loads(path.read_text(encoding="utf-8")) == to_json(result)
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# --- CSV rows ----------------------------------------------------------------------------


def test_stats_rows() -> None:
    header, cart, products, evil, total = stats_rows(known_result())
    assert header == STATS_HEADER
    assert cart == [
        "POST", "/cart", "5", "2", "12.5", "12.5", "12.5", "12.5", "50", "0.5", "0.2",
        *same("12.5"),
    ]  # fmt: skip
    assert products == [
        "GET", "/products", "20", "0", "4", "4", "4", "4", "1000", "2", "0", *same("4"),
    ]  # fmt: skip
    assert evil[:3] == ["GET", "'" + EVIL, "1"]
    assert evil[4:9] == ["0.412", "0.412", "0.412", "0.412", "0"]  # sub-ms kept, not rounded
    assert total[:4] == ["", "Aggregated", "26", "2"]
    # (20 * 4 + 5 * 12.5 + 0.412) / 26 ms; (20 * 1000 + 5 * 50) / 26 bytes
    assert total[5:11] == ["5.497", "0.412", "12.5", "778.846154", "2.6", "0.2"]
    assert float(total[4]) == pytest.approx(4.0, rel=0.01)  # the histogram's p50
    assert total[-1] == "12.5"


def test_stats_rows_of_an_empty_run_say_n_a_for_percentiles() -> None:
    assert stats_rows(build_result(RequestStats(), RUN, (), ())) == [
        STATS_HEADER,
        ["", "Aggregated", "0", "0", "0", "0", "0", "0", "0", "0", "0", *same("N/A")],
    ]


def test_history_rows_have_window_percentiles_and_cumulative_totals() -> None:
    stats = RequestStats()
    history = History(window_s=10.0)
    batches = [history.sample(START, 0, stats)]
    for _ in range(5):
        stats.record_request(CART, "POST", "/cart", 12.5, 50, None, START + 1)
    batches.append(history.sample(START + 1.5, 3, stats))
    for _ in range(5):
        stats.record_request(CART, "POST", "/cart", 100.0, 50, ValueError("x"), START + 5)
    batches.append(history.sample(START + 12, 3, stats))

    assert HISTORY_HEADER == LOCUST_HISTORY_HEADER
    empty, (_, cart_early), (_, cart_late) = (history_rows(b) for b in batches)
    assert empty == [
        [
            "1700000000",
            "0",
            "",
            "Aggregated",
            "0",
            "0",
            *same("N/A"),
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
        ]
    ]
    assert cart_early == [
        "1700000001", "3", "POST", "/cart", "3.333333", "0", *same("12.5"),
        "5", "0", "12.5", "12.5", "12.5", "12.5", "50",
    ]  # fmt: skip
    # The window (from START + 1.5) holds only the five 100 ms requests.
    assert cart_late[:6] == ["1700000012", "3", "POST", "/cart", "0.47619", "0.47619"]
    assert cart_late[6:17] == same("100")
    assert cart_late[17:19] == ["10", "5"]
    assert cart_late[20:] == ["56.25", "12.5", "100", "50"]
    assert float(cart_late[19]) == pytest.approx(12.5, rel=0.01)


def test_failures_and_exceptions_rows() -> None:
    result = known_result()
    assert failures_rows(result) == [
        FAILURES_HEADER,
        ["POST", "/cart", "ValueError('refused')", "2", "1700000002", "1700000003.25"],
    ]
    assert exceptions_rows(result) == [
        EXCEPTIONS_HEADER,
        ["3", "KeyError('id')", TRACEBACK, f"{CART}, {BROWSE}"],
    ]


def test_metrics_rows() -> None:
    no_times = [""] * (4 + len(PERCENTILES))
    assert metrics_rows(known_result()) == [
        [
            "Kind", "Name", "Count", "Count/s", "Median Time", "Average Time", "Min Time",
            "Max Time", *(f"{percentile_key(p)}%" for p in PERCENTILES), "Tasks",
        ],
        ["counter", "'=evil", "-3", "-0.3", *no_times, ""],
        ["counter", "cache_hits", "5", "0.5", *no_times, f"{BROWSE} (3)"],
        ["timer", "db", "2", "0.2", "2.5", "2.5", "2.5", "2.5", *same("2.5"), f"{CART} (2)"],
        ["rate", "signups", "1", "0.1", *no_times, f"{CART} (1)"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("/cart", "/cart"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_safe_text_guards_formulas(text: str, cell: str) -> None:
    assert safe_text(text) == cell


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [(12.0, 3, "12"), (0.4124, 3, "0.412"), (2.6, 6, "2.6"), (-3.0, 6, "-3"), (-1e-9, 3, "0")],
)
def test_number(value: float, places: int, text: str) -> None:
    assert number(value, places) == text


# --- files -------------------------------------------------------------------------------


def test_csv_writer_writes_complete_files(tmp_path: Path) -> None:
    prefix = tmp_path / "results" / "run1"
    writer = CsvWriter(str(prefix))
    writer.start()
    names = ["_stats", "_stats_history", "_failures", "_exceptions", "_metrics"]
    assert writer.paths() == [f"{prefix}{name}.csv" for name in names]
    paths = list(map(Path, writer.paths()))
    headers = [read_csv(path) for path in paths]
    assert headers[:4] == [
        [STATS_HEADER],
        [LOCUST_HISTORY_HEADER],
        [FAILURES_HEADER],
        [EXCEPTIONS_HEADER],
    ]
    assert headers[4][0][:2] == ["Kind", "Name"]

    stats = known_stats()
    history = History()
    first = history.sample(START, 0, RequestStats())
    second = history.sample(START + 1, 4, stats)
    writer.append_history(first)
    result = known_result()
    writer.write_stats(result)
    assert read_csv(paths[0]) == stats_rows(result)
    writer.append_history(second)
    writer.finish(result)

    stats_file, history_file, failures, exceptions, metrics = map(read_csv, paths)
    assert stats_file == stats_rows(result)
    assert history_file == [LOCUST_HISTORY_HEADER, *history_rows([*first, *second])]
    assert len(history_file) == 1 + 1 + 4  # header; Aggregated; Aggregated and three entries
    assert failures == failures_rows(result)
    assert exceptions == exceptions_rows(result)
    assert exceptions[1][2] == TRACEBACK  # a multi-line cell survives the round trip
    assert metrics == metrics_rows(result)
    assert sorted(p.name for p in prefix.parent.iterdir()) == sorted(p.name for p in paths)


def test_check_prefix_and_path_accept_new_directories(tmp_path: Path) -> None:
    check_prefix(str(tmp_path / "new" / "deep" / "run"))
    check_writable(str(tmp_path / "new" / "run.json"), "--load-json")
    existing = tmp_path / "run.json"
    existing.write_text("{}")
    check_writable(str(existing), "--load-json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]  # nothing created


def test_check_prefix_refuses_what_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"^--load-csv: cannot create '.*/file/run_stats\.csv': "):
        check_prefix(str(blocker / "run"))
    (tmp_path / "run_stats_history.csv").mkdir()
    with pytest.raises(
        ValueError, match=r"^--load-csv: '.*/run_stats_history\.csv' is a directory"
    ):
        check_prefix(str(tmp_path / "run"))
    with pytest.raises(ValueError, match=r"^--load-csv: the prefix is empty"):
        check_prefix("")


def test_check_path_refuses_what_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^--load-json: '.*' is a directory, not a file"):
        check_writable(str(tmp_path), "--load-json")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"'.*/file' is not a directory"):
        check_writable(str(tmp_path / "file" / "run.json"), "--load-json")
    with pytest.raises(ValueError, match=r"^--load-json: the path is empty"):
        check_writable("", "--load-json")

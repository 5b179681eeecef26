"""Verdicts and result files end to end: thresholds, JUnit, JSON, CSV, baseline, Ctrl-C."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from servers import LoopbackServer

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "pytest-loadtest-1.schema.json"

FOUR_ENDPOINTS = """
import pytest_loadtest as lt

@lt.task
def test_a(load_client):
    load_client.get("/bytes/10")

@lt.task
def test_b(load_client):
    load_client.get("/bytes/20")

@lt.task
def test_c(load_client):
    load_client.get("/bytes/30")

@lt.task
def test_broken(load_client):
    load_client.get("/status/500")
"""


def _load(pytester: pytest.Pytester, target: LoopbackServer, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--load-users", "4", "--load-duration", "2s", "--load-host", target.base_url, *args
    )


def test_p95_threshold_fails_the_run_and_junit_names_it(
    pytester: pytest.Pytester, target: LoopbackServer
) -> None:
    pytester.makepyfile(
        test_fast="""
        import pytest_loadtest as lt

        @lt.task
        def test_sleepy(load_client):
            load_client.get("/sleep?ms=3", name="/sleep")
        """
    )
    junit = pytester.path / "junit.xml"
    strict = _load(pytester, target, "--load-threshold", "p95<1ms", f"--junitxml={junit}")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.assert_outcomes(passed=1, failed=1)
    strict.stdout.fnmatch_lines(["*FAIL p95<1ms  (observed * ms)*"])
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {"test_sleepy", "threshold[p95<1ms]"}
    failure = cases["threshold[p95<1ms]"].find("failure")
    assert failure is not None
    assert "p95<1ms" in failure.get("message", "")
    assert " ms)" in failure.get("message", "")

    lenient = _load(
        pytester, target, "--load-threshold", "p95<10s", "--load-threshold", "p(97.5)<10s"
    )
    assert lenient.ret == pytest.ExitCode.OK
    lenient.assert_outcomes(passed=3)
    # p(97.5) is not a stored column: it is read exactly from the histogram
    lenient.stdout.fnmatch_lines(
        ["PASS p95<10s  (observed * ms)", "PASS p(97.5)<10s  (observed * ms)"]
    )


def test_fail_ratio_threshold_holds_where_the_default_rule_fails(
    pytester: pytest.Pytester, target: LoopbackServer
) -> None:
    pytester.makepyfile(test_four=FOUR_ENDPOINTS)
    default = _load(pytester, target)
    assert default.ret == pytest.ExitCode.TESTS_FAILED
    default.assert_outcomes(passed=3, failed=1)

    tolerant = _load(pytester, target, "--load-threshold", "fail_ratio<30%")
    assert tolerant.ret == pytest.ExitCode.OK
    tolerant.assert_outcomes(passed=5)
    tolerant.stdout.fnmatch_lines(["*PASS fail_ratio<30%  (observed 2?.*%)*"])


def test_task_thresholds_are_scoped_to_the_task(
    pytester: pytest.Pytester, target: LoopbackServer
) -> None:
    pytester.makepyfile(
        test_scoped="""
        import pytest_loadtest as lt

        @lt.task(thresholds=["fail_ratio<60%"])
        def test_half_broken(load_user, load_client):
            load_user.state["n"] = load_user.state.get("n", 0) + 1
            load_client.get("/status/500" if load_user.state["n"] % 2 else "/bytes/1")

        @lt.task(thresholds=["p99<1ms"])
        def test_slow(load_client):
            load_client.get("/sleep?ms=5", name="/sleep")
        """
    )
    result = _load(pytester, target)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_slow*", "FAIL p99<1ms  (observed * ms)"])


def test_malformed_threshold_points_at_the_character(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest_subprocess("--load-threshold", "p95<<300ms")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--load-threshold:*p95<<300ms*", "*p95<<300ms", "*    ^"])


def test_json_and_csv_agree_with_each_other_and_the_server(
    pytester: pytest.Pytester, target: LoopbackServer
) -> None:
    pytester.makepyfile(test_four=FOUR_ENDPOINTS)
    result = _load(
        pytester,
        target,
        "--load-json",
        "out/results.json",
        "--load-csv",
        "out/run",
        "--load-threshold",
        "fail_ratio<50%",
    )
    result.assert_outcomes(passed=5)
    served = target.counts()
    data = json.loads((pytester.path / "out" / "results.json").read_text())
    assert data["schema"] == "pytest-loadtest/1"
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    from_json = {(e["type"], e["name"]): e["num_requests"] for e in data["entries"]}
    assert from_json == {("GET", path): count for (_, path), count in served.items()}
    with open(pytester.path / "out" / "run_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[-1]["Name"] == "Aggregated"
    from_csv = {(r["Type"], r["Name"]): int(r["Request Count"]) for r in rows[:-1]}
    assert from_csv == from_json
    assert int(rows[-1]["Request Count"]) == sum(served.values()) == data["total"]["num_requests"]
    assert int(rows[-1]["Failure Count"]) == served[("GET", "/status/500")]
    outcomes = {t["node_id"].split("::")[-1]: t["outcome"] for t in data["tasks"]}
    assert outcomes == dict.fromkeys(("test_a", "test_b", "test_c", "test_broken"), "passed")
    assert [(v["expression"], v["passed"]) for v in data["thresholds"]] == [
        ("fail_ratio<50%", True)
    ]
    with open(pytester.path / "out" / "run_stats_history.csv", newline="") as f:
        history = list(csv.DictReader(f))
    assert len(history) >= 2
    for name in ("failures", "exceptions", "metrics"):
        assert (pytester.path / "out" / f"run_{name}.csv").is_file()


def test_baseline_regression_fails_as_a_verdict(
    pytester: pytest.Pytester, target: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_base="""
        import os
        import pytest_loadtest as lt

        @lt.task
        def test_get(load_client):
            load_client.get("/sleep?ms=" + os.environ["SLEEP_MS"], name="/sleep")
        """
    )
    monkeypatch.setenv("SLEEP_MS", "1")
    _load(pytester, target, "--load-json", "base.json").assert_outcomes(passed=1)
    monkeypatch.setenv("SLEEP_MS", "20")
    regressed = _load(
        pytester, target, "--load-baseline", "base.json", "--load-compare-fail", "p95:10%"
    )
    assert regressed.ret == pytest.ExitCode.TESTS_FAILED
    regressed.assert_outcomes(passed=1, failed=1)
    regressed.stdout.fnmatch_lines(["*FAIL p95:10%*", "Compared with the baseline*", "*/sleep*"])


def test_corrupt_baseline_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    (pytester.path / "bad.json").write_text('{"schema": "something-else/9"}')
    result = pytester.runpytest_subprocess("--load-users", "1", "--load-baseline", "bad.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--load-baseline*bad.json*pytest-loadtest/1*"])


def test_sigint_stops_the_run_and_writes_every_file(
    pytester: pytest.Pytester, target: LoopbackServer
) -> None:
    pytester.makepyfile(test_four=FOUR_ENDPOINTS)
    command = [
        sys.executable, "-m", "pytest", "--load-users", "4", "--load-duration", "30s",
        "--load-stop-timeout", "2s", "--load-host", target.base_url,
        "--load-json", "r.json", "--load-csv", "r",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    time.sleep(3)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    stopped_in = time.monotonic() - sent
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert stopped_in < 2 + 3  # the stop timeout, plus writing and pytest's own exit
    data = json.loads((pytester.path / "r.json").read_text())
    assert 2 < data["run"]["duration_s"] < 5
    assert data["total"]["num_requests"] > 0
    for name in ("stats", "stats_history", "failures", "exceptions", "metrics"):
        with open(pytester.path / f"r_{name}.csv", newline="") as f:
            assert next(iter(csv.reader(f)))  # a header at least, and parseable
    with open(pytester.path / "r_stats.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    assert int(last["Request Count"]) == data["total"]["num_requests"]


def test_custom_metrics_are_shown_exported_and_thresholdable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_metrics="""
        import pytest_loadtest as lt

        @lt.task
        def test_cache(load_user):
            lt.metrics.counter("cache_hits").inc(2)
            with lt.metrics.timer("parse"):
                sum(range(100))
            lt.metrics.rate("events").mark()
        """
    )
    result = pytester.runpytest_subprocess(
        "--load-users", "2", "--load-duration", "1s", "--load-json", "m.json",
        "--load-csv", "m", "--load-threshold", "metric:cache_hits>100",
        "--load-threshold", "metric:parse: p95<1ms", "--load-threshold", "metric:events: rate<1/s",
    )  # fmt: skip
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["Custom metrics (times in ms)*", "*cache_hits*counter*"])
    result.stdout.fnmatch_lines(["PASS metric:cache_hits>100  (observed *)"])
    result.stdout.fnmatch_lines(["FAIL metric:events: rate<1/s  (observed */s)"])
    data = json.loads((pytester.path / "m.json").read_text())
    metrics = {m["name"]: m for m in data["metrics"]}
    iterations = data["tasks"][0]["iterations"]
    assert metrics["cache_hits"]["count"] == 2 * iterations
    assert metrics["parse"]["timing"]["num_requests"] == iterations
    assert metrics["events"]["tasks"] == {data["tasks"][0]["node_id"]: iterations}
    with open(pytester.path / "m_metrics.csv", newline="") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    assert int(rows["cache_hits"]["Count"]) == 2 * iterations


def test_a_scoped_failure_threshold_covers_no_task(
    pytester: pytest.Pytester, target: LoopbackServer
) -> None:
    pytester.makepyfile(test_four=FOUR_ENDPOINTS)
    result = _load(pytester, target, "--load-threshold", "GET /status/500: fail_ratio<=100%")
    result.assert_outcomes(passed=4, failed=1)  # the threshold holds; test_broken still fails
    result.stdout.fnmatch_lines(["PASS GET /status/500: fail_ratio<=100%  (observed 100.00%)"])

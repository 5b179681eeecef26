"""Load mode end to end: real pytest subprocesses against a real loopback server."""

from __future__ import annotations

import math
import re
import shlex
import subprocess
import sys
from collections import Counter, defaultdict

import pytest
from conftest import Probe
from servers import LoopbackServer


def _nearest_rank(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered) - 1e-9))
    return ordered[rank - 1]


def test_counts_equal_the_servers_and_percentiles_match_exact(
    pytester: pytest.Pytester, probe: Probe, target: LoopbackServer
) -> None:
    pytester.makepyfile(
        test_shop="""
        import pytest_loadtest as lt

        @lt.task(weight=3)
        def test_browse(load_client):
            load_client.get("/bytes/100")

        @lt.task
        def test_slow(load_client):
            load_client.get("/sleep?ms=2", name="/sleep")

        @lt.task
        def test_broken(load_client):
            load_client.get("/status/500")
        """
    )
    result = pytester.runpytest_subprocess(
        "--load-users", "50", "--load-duration", "11s", "--load-host", target.base_url
    )
    # Not a TTY: one progress line every 10 s.
    result.stdout.fnmatch_lines(
        ["[[]00:1? / 00:11] users 50/50 | * req/s | fail *% | p50 * ms | p95 * ms"]
    )
    served = target.counts()
    data = probe.result()
    reported = {(e["type"], e["name"]): e["num_requests"] for e in data["entries"]}
    assert reported == {
        ("GET", "/bytes/100"): served[("GET", "/bytes/100")],
        ("GET", "/sleep"): served[("GET", "/sleep")],
        ("GET", "/status/500"): served[("GET", "/status/500")],
    }
    assert data["total"]["num_requests"] == sum(served.values()) > 2000
    assert data["total"]["num_failures"] == served[("GET", "/status/500")]
    # The default rule: a task whose requests failed fails; the others pass.
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_broken*", "*of * requests failed*"])

    seen = probe.seen()
    assert len(seen) == data["total"]["num_requests"]
    by_name: dict[str, list[float]] = defaultdict(list)
    for _, name, response_time, _ in seen:
        by_name[name].append(response_time)
    entries = {e["name"]: e for e in data["entries"]}
    for name, samples in by_name.items():
        for key, reported_ms in entries[name]["percentiles_ms"].items():
            if float(key) > 99.9:
                continue
            exact = _nearest_rank(samples, float(key))
            assert reported_ms == pytest.approx(exact, rel=0.01), (name, key)
        assert entries[name]["min_ms"] == min(samples)
        assert entries[name]["max_ms"] == max(samples)
        assert entries[name]["avg_ms"] == pytest.approx(sum(samples) / len(samples))


def test_weights_share_iterations(pytester: pytest.Pytester, probe: Probe) -> None:
    pytester.makepyfile(
        test_weights="""
        import pytest_loadtest as lt

        @lt.task(weight=3)
        def test_heavy():
            pass

        @lt.task
        def test_light():
            pass
        """
    )
    result = pytester.runpytest_subprocess("--load-users", "4", "--load-duration", "1s")
    result.assert_outcomes(passed=2)
    tasks = {t["node_id"].split("::")[-1]: t["iterations"] for t in probe.result()["tasks"]}
    total = tasks["test_heavy"] + tasks["test_light"]
    assert total >= 2000
    assert abs(tasks["test_heavy"] / total - 0.75) < 0.03


def test_constant_throughput_paces_users(pytester: pytest.Pytester, probe: Probe) -> None:
    pytester.makepyfile(
        test_paced="""
        import pytest_loadtest as lt

        lt.user(wait=lt.constant_throughput(2))

        @lt.task
        def test_tick():
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        "--load-users", "10", "--load-duration", "6s", "--load-spawn-rate", "1000"
    )
    result.assert_outcomes(passed=1)
    data = probe.result()
    rate = data["tasks"][0]["iterations"] / data["run"]["duration_s"]
    assert 19 <= rate <= 21


def test_user_classes_fixtures_and_state(
    pytester: pytest.Pytester, probe: Probe, target: LoopbackServer
) -> None:
    log = pytester.path / "log.txt"
    pytester.makepyfile(
        test_users=f"""
        import pytest
        import pytest_loadtest as lt

        LOG = {str(log)!r}

        def note(text):
            with open(LOG, "a") as f:
                f.write(text + "\\n")

        @pytest.fixture(scope="session")
        def catalogue():
            note("session-setup")
            yield ["/bytes/1", "/bytes/2"]
            note("session-teardown")

        @lt.user_fixture
        def account(load_user):
            note(f"account-setup {{load_user.id}}")
            yield f"user-{{load_user.id}}"
            note(f"account-teardown {{load_user.id}}")

        @lt.user(weight=1, sequential=True)
        class TestShopper:
            def on_start(self, load_client, account):
                self.account = account
                load_client.get("/cookie/set?who=" + account)
                note("on_start")

            @lt.task
            def test_first(self, load_client, catalogue, load_user):
                load_user.state["n"] = load_user.state.get("n", 0) + 1
                r = load_client.get("/cookie/echo")
                assert r.json() == {{"who": self.account}}
                load_client.get(catalogue[0])

            @lt.task
            def test_second(self, load_client, catalogue):
                load_client.get(catalogue[1])

            def on_stop(self, load_client):
                note("on_stop")

        def test_ordinary():
            assert 1 + 1 == 2
        """
    )
    result = pytester.runpytest_subprocess(
        "--load-users", "5", "--load-duration", "2s", "--load-host", target.base_url
    )
    result.assert_outcomes(passed=3)
    lines = Counter(log.read_text().splitlines())
    assert lines["session-setup"] == 1
    assert lines["session-teardown"] == 1
    assert lines["on_start"] == 5
    assert lines["on_stop"] == 5
    assert sorted(k for k in lines if k.startswith("account-setup")) == [
        f"account-setup {n}" for n in range(1, 6)
    ]
    assert sum(v for k, v in lines.items() if k.startswith("account-teardown")) == 5
    served = target.counts()
    # sequential: the two tasks alternate, so each user's counts differ by at most one
    assert abs(served[("GET", "/bytes/1")] - served[("GET", "/bytes/2")]) <= 5
    tasks = {t["node_id"].split("::")[-1]: t for t in probe.result()["tasks"]}
    assert tasks["test_first"]["failures"] == 0
    assert tasks["test_first"]["iterations"] == served[("GET", "/cookie/echo")]


def test_failed_assert_fails_the_iteration_not_the_run(
    pytester: pytest.Pytester, probe: Probe
) -> None:
    pytester.makepyfile(
        test_flaky="""
        import pytest_loadtest as lt

        @lt.task
        def test_flaky(load_user):
            load_user.state["n"] = load_user.state.get("n", 0) + 1
            assert load_user.state["n"] % 2, "every other iteration fails"

        @lt.task
        def test_fine():
            pass
        """
    )
    result = pytester.runpytest_subprocess("--load-users", "2", "--load-duration", "1s")
    result.assert_outcomes(passed=1, failed=1)
    data = probe.result()
    flaky = next(t for t in data["tasks"] if t["node_id"].endswith("test_flaky"))
    assert flaky["failures"] > 0
    assert abs(flaky["failures"] - flaky["iterations"] / 2) <= 2
    exceptions = data["exceptions"]
    assert exceptions[0]["count"] == flaky["failures"]
    assert "every other iteration fails" in exceptions[0]["message"]
    assert "test_flaky.py" in exceptions[0]["traceback"]
    result.stdout.fnmatch_lines(["*iterations failed*", "*every other iteration fails*"])


def test_selection_with_k_runs_only_selected_tasks(pytester: pytest.Pytester, probe: Probe) -> None:
    pytester.makepyfile(
        test_pick="""
        import pytest
        import pytest_loadtest as lt

        @lt.task
        def test_wanted():
            pass

        @pytest.mark.broken
        @lt.task
        def test_unwanted():
            raise AssertionError("should not run")
        """
    )
    pytester.makeini("[pytest]\nmarkers = broken: never selected")
    result = pytester.runpytest_subprocess(
        "--load-users", "2", "--load-duration", "500ms", "-k", "wanted and not unwanted"
    )
    result.assert_outcomes(passed=1, deselected=1)
    assert [t["node_id"].split("::")[-1] for t in probe.result()["tasks"]] == ["test_wanted"]

    by_mark = pytester.runpytest_subprocess(
        "--load-users", "2", "--load-duration", "500ms", "-m", "not broken"
    )
    by_mark.assert_outcomes(passed=1, deselected=1)
    assert [t["node_id"].split("::")[-1] for t in probe.result()["tasks"]] == ["test_wanted"]


def test_function_scoped_fixture_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_tmp="""
        import pytest_loadtest as lt

        @lt.task
        def test_writes(tmp_path):
            pass
        """
    )
    result = pytester.runpytest_subprocess("--load-users", "2", "--load-duration", "1s")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*test_writes*fixture 'tmp_path' is function-scoped*session, package, module or class*"]
    )


def test_relative_url_without_host_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_nohost="""
        import pytest_loadtest as lt

        @lt.task
        def test_relative(load_client):
            load_client.get("/products")
        """
    )
    result = pytester.runpytest_subprocess("--load-users", "2", "--load-duration", "5s")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*--load-host*'/products'*"])


def test_raising_hook_is_reported_once_and_the_run_goes_on(
    pytester: pytest.Pytester, target: LoopbackServer
) -> None:
    pytester.makeconftest(
        """
        def pytest_loadtest_request(name):
            raise RuntimeError("hook broke on " + name)
        """
    )
    pytester.makepyfile(
        test_hooked="""
        import pytest_loadtest as lt

        @lt.task
        def test_get(load_client):
            load_client.get("/bytes/1")
        """
    )
    result = pytester.runpytest_subprocess(
        "--load-users", "2", "--load-duration", "1s", "--load-host", target.base_url
    )
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert output.count("RuntimeError: hook broke on /bytes/1") >= 1
    assert output.count("raised (reported once; the run goes on)") == 1
    assert target.counts()[("GET", "/bytes/1")] > 10


def test_parametrized_tasks_and_autouse_fixtures(pytester: pytest.Pytester, probe: Probe) -> None:
    log = pytester.path / "log.txt"
    pytester.makepyfile(
        test_params=f"""
        import pytest
        import pytest_loadtest as lt

        @pytest.fixture(scope="session", autouse=True)
        def once():
            with open({str(log)!r}, "a") as f:
                f.write("setup\\n")

        @pytest.mark.parametrize("size", [1, 2])
        @lt.task
        def test_sized(size, load_user):
            load_user.state.setdefault("sizes", set()).add(size)
            assert size in (1, 2)
        """
    )
    result = pytester.runpytest_subprocess("--load-users", "2", "--load-duration", "1s")
    result.assert_outcomes(passed=2)
    assert log.read_text() == "setup\n"
    tasks = {t["node_id"].split("::")[-1]: t for t in probe.result()["tasks"]}
    assert set(tasks) == {"test_sized[1]", "test_sized[2]"}
    assert all(t["iterations"] > 100 and t["failures"] == 0 for t in tasks.values())


def test_autouse_function_fixture_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_auto="""
        import pytest
        import pytest_loadtest as lt

        @pytest.fixture(autouse=True)
        def every_test():
            yield

        @lt.task
        def test_task():
            pass
        """
    )
    result = pytester.runpytest_subprocess("--load-users", "1", "--load-duration", "1s")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_task: fixture 'every_test' is function-scoped*"])


def test_errors_outside_tasks_fail_the_user_type(pytester: pytest.Pytester, probe: Probe) -> None:
    pytester.makepyfile(
        test_broken_users="""
        import pytest_loadtest as lt

        @lt.user_fixture
        def account(load_user):
            if load_user.id == 1:
                raise RuntimeError("no account for user 1")
            return load_user.id

        @lt.task
        def test_needs_account(account):
            pass

        class TestLogin:
            def on_start(self):
                raise ValueError("login refused")

            @lt.task
            def test_never_runs(self):
                pass

        @lt.task
        def test_fine():
            pass
        """
    )
    result = pytester.runpytest_subprocess("--load-users", "4", "--load-duration", "1s")
    result.assert_outcomes(passed=1, failed=2)  # test_fine needs no account
    result.stdout.fnmatch_lines(
        [
            "*test_needs_account*",
            "*iterations failed*",
            "*RuntimeError('no account for user 1')*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*its user type raised outside tasks*TestLogin*", "*TestLogin::on_start: ValueError*"]
    )
    data = probe.result()
    needs = next(t for t in data["tasks"] if t["node_id"].endswith("test_needs_account"))
    assert 0 < needs["failures"] < needs["iterations"]  # user 3 ran it fine
    never = next(t for t in data["tasks"] if t["node_id"].endswith("test_never_runs"))
    assert never["iterations"] == 0


def test_distinct_names_are_capped_with_a_warning(pytester: pytest.Pytester, probe: Probe) -> None:
    pytester.makepyfile(
        test_names="""
        import itertools
        import pytest_loadtest as lt

        COUNTER = itertools.count()

        @lt.task
        def test_unique_names():
            with lt.measure(f"query-{next(COUNTER)}"):
                pass
        """
    )
    result = pytester.runpytest_subprocess("--load-users", "1", "--load-duration", "1s")
    result.assert_outcomes(passed=1)
    data = probe.result()
    names = {e["name"] for e in data["entries"]}
    assert len(names) == 10_001  # the first 10,000 names, then "(other)"
    assert "(other)" in names
    assert data["overflowed"] == data["total"]["num_requests"] - 10_000 > 0
    result.stdout.fnmatch_lines(["*warning: * requests past the cap of 10,000 distinct*"])


@pytest.mark.parametrize("client", ["requests", "fast"])
def test_both_clients_count_exactly_what_the_server_answered(
    pytester: pytest.Pytester, probe: Probe, target: LoopbackServer, client: str
) -> None:
    pytester.makepyfile(
        test_clients="""
        import pytest_loadtest as lt

        @lt.task
        def test_cookie_round_trip(load_client, load_user):
            load_client.get(f"/cookie/set?user={load_user.id}", name="/cookie/set")
            assert load_client.get("/cookie/echo").json() == {"user": str(load_user.id)}

        @lt.task
        def test_missing(load_client):
            with load_client.get("/status/404", catch_response=True) as r:
                if r.status_code == 404:
                    r.success()
        """
    )
    result = pytester.runpytest_subprocess(
        "--load-users", "5", "--load-duration", "2s", "--load-host", target.base_url,
        "--load-client", client,
    )  # fmt: skip
    result.assert_outcomes(passed=2)
    served = target.counts()
    reported = {(e["type"], e["name"]): e["num_requests"] for e in probe.result()["entries"]}
    assert reported == {
        ("GET", "/cookie/set"): served[("GET", "/cookie/set")],
        ("GET", "/cookie/echo"): served[("GET", "/cookie/echo")],
        ("GET", "/status/404"): served[("GET", "/status/404")],
    }
    assert probe.result()["total"]["num_failures"] == 0


def test_unknown_client_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest_subprocess("--load-client", "curl")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--load-client: invalid value 'curl': expected requests or fast*"]
    )


def _on_a_tty(pytester: pytest.Pytester, *args: str) -> str:
    """Run pytest under ``script`` (a real pseudo-terminal) and return what it printed."""
    command = shlex.join([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args])
    done = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        cwd=pytester.path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.stdout.decode()  # bytes: text mode would turn each \r into a newline


def test_progress_is_redrawn_each_second_on_a_tty_and_quiet_with_q(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_tty="import pytest_loadtest as lt\n\n@lt.task\ndef test_t():\n    pass\n"
    )
    shown = _on_a_tty(pytester, "--load-users", "2", "--load-duration", "3s")
    redraws = re.findall(r"\r\[00:0(\d) / 00:03\] users 2/2 \| [\d,.]+ req/s", shown)
    assert redraws[:2] == ["1", "2"], shown
    quiet = _on_a_tty(pytester, "-q", "--load-users", "2", "--load-duration", "2s")
    assert "req/s |" not in quiet
    assert "1 passed" in quiet

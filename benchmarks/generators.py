"""The throughput rows: each load generator against the same nginx, one after another.

Every row runs the same users for the same time, pinned to the same CPU; its requests/s
come from the tool's own report, its CPU time from the kernel (see ``children.run_pinned``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from children import Child, run_pinned

if TYPE_CHECKING:
    from pathlib import Path

TASK_FILES = ("loadtask.py", "locustfile.py", "bare_loop.py")
#: Time allowed beyond the run's duration for start-up and shutdown.
GRACE_S = 90


class BadRun(RuntimeError):
    """A generator's report was missing or had failed requests."""


@dataclass(frozen=True)
class Setup:
    """Everything a row needs; ``work`` holds copies of the task files and the outputs."""

    url: str
    users: int
    duration: int
    cpu: int
    work: Path
    python: str
    locust: Path
    #: Whether the plugin has ``--load-client`` and a ``fast`` client to choose.
    load_client_option: bool
    fast_client: bool


@dataclass(frozen=True)
class Throughput:
    """One generator's row; ``requests`` is ``None`` when the row could not run (see ``note``)."""

    key: str
    label: str
    requests: int | None = None
    rps: float | None = None
    #: CPU seconds of the generator's process (and its children) and its wall seconds.
    cpu_s: float | None = None
    wall_s: float | None = None
    note: str = ""
    #: The requests/s of every round, in the order they ran; this row is the median one.
    rounds_rps: tuple[float, ...] = ()

    @property
    def cpu_per_10k(self) -> float | None:
        """CPU seconds the generator spent per 10,000 requests, start-up included."""
        if self.requests is None or self.cpu_s is None or not self.requests:
            return None
        return self.cpu_s / self.requests * 10_000

    @property
    def cpu_busy(self) -> float | None:
        """CPU seconds per wall second: near 1.0, the generator had its CPU to itself and
        used all of it (it is CPU-bound); well below, something else held it back."""
        if self.cpu_s is None or not self.wall_s:
            return None
        return self.cpu_s / self.wall_s


def prepare(work: Path, source: Path) -> None:
    """Copy the task files into ``work``, with an empty pytest config that roots runs there."""
    work.mkdir(parents=True, exist_ok=True)
    for name in TASK_FILES:
        shutil.copy(source / name, work / name)
    (work / "pytest.ini").write_text("[pytest]\n")


class Measured(NamedTuple):
    """What one run of a generator reported, and what its process cost."""

    requests: int
    rps: float
    child: Child


#: Runs one generator and reads its report.
Runner = Callable[[Setup], Measured]


def _wrk(setup: Setup) -> Measured:
    threads = ["-t1", f"-c{setup.users}", f"-d{setup.duration}s"]
    child = run_pinned(["wrk", *threads, setup.url + "/"], setup.cpu, setup.work, _timeout(setup))
    if "Non-2xx" in child.stdout:
        raise BadRun(f"wrk saw failed responses:\n{child.stdout}")
    count = re.search(r"(\d+) requests in", child.stdout)
    rate = re.search(r"Requests/sec:\s*([\d.]+)", child.stdout)
    if count is None or rate is None:
        raise BadRun(f"unexpected wrk output:\n{child.stdout}")
    return Measured(int(count.group(1)), float(rate.group(1)), child)


def _bare(client: str) -> Runner:
    def run(setup: Setup) -> Measured:
        args = [client, setup.url + "/", str(setup.users), str(setup.duration)]
        command = [setup.python, "bare_loop.py", *args]
        child = run_pinned(command, setup.cpu, setup.work, _timeout(setup))
        report = json.loads(child.stdout)
        _no_failures(report["failures"], client)
        requests: int = report["requests"]
        return Measured(requests, requests / report["elapsed_s"], child)

    return run


def _locust(user_class: str) -> Runner:
    def run(setup: Setup) -> Measured:
        stem = setup.work / f"locust-{user_class}"
        command = [
            str(setup.locust),
            *("-f", "locustfile.py", "--headless", "--skip-log", "--host", setup.url),
            *("-u", str(setup.users), "-r", str(setup.users)),
            *("--run-time", f"{setup.duration}s", "--json-file", str(stem), user_class),
        ]
        report = _fresh(stem.with_suffix(".json"))
        child = run_pinned(command, setup.cpu, setup.work, _timeout(setup))
        entries: list[dict[str, Any]] = json.loads(report.read_text())
        _no_failures(sum(entry["num_failures"] for entry in entries), user_class)
        requests = sum(entry["num_requests"] for entry in entries)
        # Locust's own total rate: requests over first stats start to last request.
        span = max(e["last_request_timestamp"] for e in entries) - min(
            e["start_time"] for e in entries
        )
        return Measured(requests, requests / span, child)

    return run


def _plugin(client: str) -> Runner:
    def run(setup: Setup) -> Measured:
        out = _fresh(setup.work / f"plugin-{client}.json")
        chosen = ["--load-client", client] if setup.load_client_option else []
        command = [
            *(setup.python, "-m", "pytest", "-c", "pytest.ini", "-p", "no:cacheprovider"),
            *("-q", "loadtask.py", "--load-host", setup.url, "--load-json", str(out)),
            *("--load-users", str(setup.users), "--load-duration", f"{setup.duration}s"),
            *chosen,
        ]
        child = run_pinned(command, setup.cpu, setup.work, _timeout(setup))
        report = json.loads(out.read_text())
        _no_failures(report["total"]["num_failures"], f"the plugin ({client})")
        requests: int = report["total"]["num_requests"]
        return Measured(requests, requests / report["run"]["duration_s"], child)

    return run


def _fresh(path: Path) -> Path:
    """``path``, with an earlier round's file removed: a run that writes none must fail."""
    path.unlink(missing_ok=True)
    return path


def _timeout(setup: Setup) -> float:
    return setup.duration + GRACE_S


def _no_failures(failures: int, who: str) -> None:
    if failures:
        raise BadRun(f"{who}: {failures} requests failed; the figures would not be comparable")


def _unavailable(setup: Setup, key: str) -> str:
    """Why the row ``key`` cannot run with this plugin, or ``""`` when it can."""
    if key == "plugin-fast" and not (setup.load_client_option and setup.fast_client):
        missing = "--load-client" if not setup.load_client_option else "pytest_loadtest.fastclient"
        return f"this plugin has no {missing}"
    return ""


#: (key, label, runner), in the order they run and are shown.
ROWS: tuple[tuple[str, str, Runner], ...] = (
    ("wrk", "wrk (1 thread, 10 connections)", _wrk),
    ("bare-requests", "bare gevent + requests loop (trust_env off)", _bare("requests")),
    ("bare-ghc", "bare gevent + geventhttpclient loop", _bare("ghc")),
    ("locust-http", "Locust HttpUser", _locust("PlainUser")),
    ("locust-fast", "Locust FastHttpUser", _locust("FastUser")),
    ("plugin-requests", "pytest-loadtest --load-client requests", _plugin("requests")),
    ("plugin-fast", "pytest-loadtest --load-client fast", _plugin("fast")),
)


def run_row(setup: Setup, key: str, label: str, runner: Runner) -> Throughput:
    """Run one generator once, or say why it cannot run."""
    note = _unavailable(setup, key)
    if note:
        return Throughput(key, label, note=note)
    measured = runner(setup)
    child = measured.child
    return Throughput(key, label, measured.requests, measured.rps, child.cpu_s, child.wall_s)


def run_rows(setup: Setup, rounds: int, progress: Callable[[str], None]) -> tuple[Throughput, ...]:
    """Every row ``rounds`` times, taking turns, so that a busy spell on a shared machine
    falls on all rows alike; each row is reported by its median round (by requests/s)."""
    runs: dict[str, list[Throughput]] = {key: [] for key, _, _ in ROWS}
    for round_number in range(1, rounds + 1):
        for key, label, runner in ROWS:
            progress(f"round {round_number}/{rounds}: {label}")
            runs[key].append(run_row(setup, key, label, runner))
    return tuple(_median_round(runs[key]) for key, _, _ in ROWS)


def _median_round(results: list[Throughput]) -> Throughput:
    """The round with the median requests/s (the lower middle one for an even count)."""
    ordered = sorted(results, key=lambda result: result.rps or 0.0)
    middle = ordered[(len(ordered) - 1) // 2]
    rates = tuple(result.rps for result in results if result.rps is not None)
    return dataclasses.replace(middle, rounds_rps=rates)

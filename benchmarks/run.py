"""Benchmarks, side by side in one run: ``python benchmarks/run.py [--duration S] [--quick]``.

Run it with the project's interpreter (the one pytest-loadtest is installed in): that one
runs the plugin rows, the bare loops and the microbenchmarks; Locust gets a venv of its
own. Installs nginx-light and wrk with apt-get and Locust with pip when they are missing,
prints the tables and writes them to ``results.md`` and ``results.json``. See README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import provision
import startup
from children import ChildFailed, run_pinned
from figures import Figure, Target
from generators import BadRun, Setup, prepare, run_rows
from nginx import nginx
from tables import Report, ratios, render_markdown, render_text, to_json

HERE = Path(__file__).resolve().parent
USERS = 10


@dataclass(frozen=True)
class Plan:
    """How long and how much: the full run, or ``--quick`` for a smoke test."""

    duration: int
    rounds: int
    speed_requests: int
    memory_requests: int
    distinct_names: int
    startup_repeats: int
    plain_repeats: int


FULL = Plan(10, 3, 1_000_000, 10_000_000, 100_000, 5, 15)
QUICK = Plan(1, 1, 20_000, 20_000, 20_000, 1, 3)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=int, help="seconds per load generator (default 10; 1 with --quick)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="times each generator runs, taking turns; the median is shown (default 3; 1 with "
        "--quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny durations and counts, for a smoke test"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="where results.md and results.json go"
    )
    args = parser.parse_args(argv)
    for option in ("duration", "rounds"):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            parser.error(f"--{option}: a whole number >= 1")
    return args


def _cpus() -> tuple[int, int]:
    """(server CPU, generator CPU): the first two this process may run on."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise SystemExit("benchmarks need 2 CPUs: one for nginx, one for the load generator")
    return allowed[0], allowed[1]


def _has_load_client_option(python: str, work: Path) -> bool:
    command = [python, "-m", "pytest", "-c", "pytest.ini", "--help"]
    result = subprocess.run(command, cwd=work, capture_output=True, text=True, check=True)
    return "--load-client" in result.stdout


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _output(command: list[str]) -> str:
    """What ``command`` printed, or "unknown": a fact is not worth losing the run for."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def _facts(plan: Plan, cpus: tuple[int, int], locust: Path) -> dict[str, str]:
    locust_python = str(locust.parent / "python")
    debian = _output(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", "nginx-light", "wrk"])
    return {
        "duration": f"{plan.duration} s per generator and round",
        "rounds": f"{plan.rounds}, taking turns (each row shows its median round)",
        "users": f"{USERS}, no wait",
        "CPUs": f"nginx on {cpus[0]}, generators and microbenchmarks on {cpus[1]}",
        "Python": platform.python_version(),
        "pytest-loadtest": _version("pytest-loadtest"),
        "gevent": _version("gevent"),
        "requests": _version("requests"),
        "geventhttpclient": _version("geventhttpclient"),
        "Locust": _output(
            [locust_python, "-c", "import importlib.metadata as m; print(m.version('locust'))"]
        ),
        "Debian": ", ".join(debian.splitlines()),
    }


def _micro(setup: Setup, name: str, count: int) -> dict[str, Any]:
    child = run_pinned(
        [setup.python, str(HERE / "micro.py"), name, str(count)], setup.cpu, setup.work, 600
    )
    result: dict[str, Any] = json.loads(child.stdout)
    return result


def microbenchmarks(setup: Setup, plan: Plan) -> tuple[Figure, ...]:
    """The stats path's speed and memory, the entry cap, and the plugin's start-up cost."""
    speed = _micro(setup, "speed", plan.speed_requests)
    memory = _micro(setup, "memory", plan.memory_requests)
    cap = _micro(setup, "cap", plan.distinct_names)
    load = startup.load_startup(
        setup.python, setup.cpu, setup.work, setup.url, plan.startup_repeats
    )
    plain = startup.plain_overhead(setup.python, setup.cpu, setup.work, plan.plain_repeats)
    us, mb = speed["us_per_request"], memory["rss_growth_mb"]
    limit = cap["max_entries"] + 1  # one "(other)" entry per task and method above the cap
    return (
        Figure(
            "stats-path",
            f"stats path: Events.request -> RequestStats.record_request, "
            f"{speed['requests']:,} requests",
            us,
            f"{us:.2f} us per request",
            Target("<=", 3, "us"),
        ),
        Figure(
            "memory",
            f"memory: {memory['requests']:,} requests over {memory['entries']} entries",
            mb,
            f"RSS +{mb:.1f} MB",
            Target("<", 30, "MB"),
        ),
        Figure(
            "entry-cap",
            f"entry cap: {cap['names']:,} distinct names (cap {cap['max_entries']:,}, "
            f"+1 for '(other)')",
            cap["entries"],
            f"{cap['entries']:,} entries, RSS +{cap['rss_growth_mb']:.1f} MB",
            Target("<=", limit, "entries"),
        ),
        Figure(
            "load-startup",
            f"startup: --load-users 1 --load-duration 1s, wall minus 1 s "
            f"(median of {plan.startup_repeats})",
            load,
            f"{load:.2f} s",
            Target("<", 1.5, "s"),
        ),
        Figure(
            "plain-overhead",
            f"plain run of {startup.PLAIN_TESTS} tests, plugin / -p no:loadtest "
            f"(medians of {plan.plain_repeats})",
            plain.ratio,
            f"{plain.ratio:.3f} ({plain.with_plugin:.3f} s / {plain.without_plugin:.3f} s)",
            Target("<=", 1.05),
        ),
    )


def measure(plan: Plan, command: str) -> Report:
    """Install what is missing, start nginx, run every row and microbenchmark."""
    python = sys.executable
    if importlib.util.find_spec("pytest_loadtest") is None:
        raise SystemExit(
            f"pytest-loadtest is not installed for {python}: run with the project's venv"
        )
    server_cpu, generator_cpu = cpus = _cpus()
    provision.ensure_apt_packages()
    locust = provision.ensure_locust()
    provision.ensure_geventhttpclient(python)
    with tempfile.TemporaryDirectory(prefix="pytest-loadtest-bench-") as tmp:
        work = Path(tmp)
        prepare(work, HERE)
        option = _has_load_client_option(python, work)
        fast = importlib.util.find_spec("pytest_loadtest.fastclient") is not None
        with nginx(work / "nginx", server_cpu, HERE) as url:
            setup = Setup(
                url=url,
                users=USERS,
                duration=plan.duration,
                cpu=generator_cpu,
                work=work,
                python=python,
                locust=locust,
                load_client_option=option,
                fast_client=fast,
            )
            rows = run_rows(setup, plan.rounds, _progress)
            _progress("microbenchmarks")
            figures = microbenchmarks(setup, plan)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Report(date, command, _facts(plan, cpus, locust), rows, ratios(rows), figures)


def _progress(step: str) -> None:
    print(f"{step} ...", flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    for option in ("duration", "rounds"):
        if getattr(args, option) is not None:
            plan = dataclasses.replace(plan, **{option: getattr(args, option)})
    command = " ".join(["python benchmarks/run.py", *argv])
    try:
        report = measure(plan, command)
    except (provision.ProvisionError, ChildFailed, BadRun, subprocess.SubprocessError) as exc:
        print(f"benchmarks failed: {exc}", file=sys.stderr)
        return 2
    print(render_text(report))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(render_markdown(report))
    (args.out / "results.json").write_text(to_json(report))
    print(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

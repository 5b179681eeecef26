"""Running a measured child process: pinned to one CPU, with its wall and CPU time."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class ChildFailed(RuntimeError):
    """A measured process exited non-zero; the message holds the end of its output."""


@dataclass(frozen=True)
class Child:
    """What a finished child printed, and what it cost."""

    stdout: str
    stderr: str
    #: User plus system CPU seconds of the child and every descendant it waited for.
    cpu_s: float
    wall_s: float


def clean_env() -> dict[str, str]:
    """This environment without ``PYTEST_*`` variables (an outer pytest run sets some)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pinned(command: list[str], cpu: int, cwd: Path, timeout: float) -> Child:
    """Run ``command`` under ``taskset -c cpu`` and wait for it.

    CPU time is the growth of this process's ``RUSAGE_CHILDREN`` across the wait:
    exact for the child and its descendants as long as children are waited for one at a
    time (the long-lived nginx is reaped only at the very end).
    """
    before = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(
        ["taskset", "-c", str(cpu), *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise ChildFailed(f"{' '.join(command)} exited {result.returncode}:\n{tail}")
    return Child(result.stdout, result.stderr, _children_cpu() - before, wall)

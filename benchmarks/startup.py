"""What the plugin adds to a pytest run's wall time: in load mode, and in a plain test run."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from children import run_pinned

if TYPE_CHECKING:
    from pathlib import Path

#: Tests in the plain run whose overhead is measured.
PLAIN_TESTS = 50
TIMEOUT_S = 120


@dataclass(frozen=True)
class Overhead:
    """Median wall seconds of a plain run with the plugin, and with ``-p no:loadtest``."""

    with_plugin: float
    without_plugin: float

    @property
    def ratio(self) -> float:
        return self.with_plugin / self.without_plugin


def load_startup(python: str, cpu: int, work: Path, url: str, repeats: int) -> float:
    """Median wall seconds of a 1-user, 1-second load run (``loadtask.py``) minus the 1 s."""
    command = [
        *(python, "-m", "pytest", "-c", "pytest.ini", "-p", "no:cacheprovider", "-q"),
        *("loadtask.py", "--load-users", "1", "--load-duration", "1s", "--load-host", url),
    ]
    walls = [run_pinned(command, cpu, work, TIMEOUT_S).wall_s for _ in range(repeats)]
    return statistics.median(walls) - 1.0


def plain_overhead(python: str, cpu: int, work: Path, repeats: int) -> Overhead:
    """Time ``PLAIN_TESTS`` trivial tests with and without the plugin, interleaved.

    Interleaving spreads the machine's drift over both sides equally.
    """
    plain = work / "plain"
    plain.mkdir(exist_ok=True)
    (plain / "pytest.ini").write_text("[pytest]\n")
    tests = "".join(f"def test_{i}():\n    assert {i} == {i}\n\n\n" for i in range(PLAIN_TESTS))
    (plain / "test_trivial.py").write_text(tests)
    base = [python, "-m", "pytest", "-q", "test_trivial.py"]
    walls: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeats):
        for loaded in (True, False):
            command = base if loaded else [*base, "-p", "no:loadtest"]
            walls[loaded].append(run_pinned(command, cpu, plain, TIMEOUT_S).wall_s)
    return Overhead(statistics.median(walls[True]), statistics.median(walls[False]))

"""Wait times: how long a virtual user pauses between two iterations.

A wait time is a pure function of when the iteration started, the time now, and a
random generator; the runner does the sleeping. ``constant_pacing`` and
``constant_throughput`` count from the start of the iteration, so an iteration that
takes longer than the pace is followed by no wait at all (as in Locust).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["WaitTime", "between", "constant", "constant_pacing", "constant_throughput"]


def _seconds(function: str, name: str, value: object, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"lt.{function}: {name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"lt.{function}: {name} must be {bound}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class WaitTime:
    """A wait-time strategy; build one with the functions below."""

    kind: str
    low: float
    high: float

    def __call__(self, iteration_started: float, now: float, rng: random.Random) -> float:
        """Seconds to wait after an iteration that started at ``iteration_started``."""
        if self.kind == "constant":
            return self.low
        if self.kind == "between":
            return rng.uniform(self.low, self.high)
        return max(0.0, iteration_started + self.low - now)  # pacing

    def __str__(self) -> str:
        if self.kind == "between":
            return f"between({self.low:g}, {self.high:g})"
        return f"{self.kind}({self.low:g})"


def constant(seconds: float) -> WaitTime:
    """Wait the same time after every iteration."""
    return WaitTime("constant", _seconds("constant", "seconds", seconds, positive=False), 0.0)


def between(low: float, high: float) -> WaitTime:
    """Wait a uniformly random time in ``[low, high]`` seconds."""
    lo = _seconds("between", "low", low, positive=False)
    hi = _seconds("between", "high", high, positive=False)
    if hi < lo:
        raise ValueError(f"lt.between: high ({high!r}) must be >= low ({low!r})")
    return WaitTime("between", lo, hi)


def constant_pacing(seconds: float) -> WaitTime:
    """Start an iteration every ``seconds`` (no wait when an iteration overruns)."""
    return WaitTime(
        "constant_pacing", _seconds("constant_pacing", "seconds", seconds, positive=True), 0.0
    )


def constant_throughput(per_second: float) -> WaitTime:
    """Run at most ``per_second`` iterations per second per user."""
    rate = _seconds("constant_throughput", "per_second", per_second, positive=True)
    return WaitTime("constant_pacing", 1.0 / rate, 0.0)

"""Figures with targets: what the microbenchmarks and the ratios report."""

from __future__ import annotations

import operator
from dataclasses import dataclass

_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Target:
    """``value OP limit``, e.g. ``Target("<=", 3, "us")`` reads "<= 3 us"."""

    op: str
    limit: float
    unit: str = ""

    def holds(self, value: float) -> bool:
        return bool(_OPERATORS[self.op](value, self.limit))

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g} {self.unit}".rstrip()


@dataclass(frozen=True)
class Figure:
    """One measured number; ``value`` is ``None`` when it could not be measured."""

    key: str
    label: str
    value: float | None
    #: The value as a reader sees it: units, and what it is made of.
    shown: str
    target: Target | None = None

    @property
    def passed(self) -> bool | None:
        """Whether the target holds; ``None`` with no target or no value."""
        if self.target is None or self.value is None:
            return None
        return self.target.holds(self.value)

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "MISS", None: "-"}[self.passed]

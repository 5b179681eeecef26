"""A sparse, mergeable log-linear histogram of response times (float milliseconds).

Each power of two is split into ``2**SUB_BUCKET_BITS`` equal buckets, so a bucket is at
most ``2**-SUB_BUCKET_BITS`` of its lower bound wide, and its midpoint, the value it
reports, is within ``2**-(SUB_BUCKET_BITS + 1)`` (about 0.2%) of every value it holds.
That bound holds at every magnitude, which is what makes the percentiles accurate to
well within 1% from microseconds to minutes.

Only buckets that were hit are stored (a ``dict`` of bucket index to count), so memory
is bounded by the number of distinct buckets, never by the number of samples, and two
histograms merge by adding counts, in any order.
"""

from __future__ import annotations

import math
from math import frexp, ldexp
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

#: Buckets per power of two, as a number of bits.
SUB_BUCKET_BITS = 8
_SUB_BUCKETS = 1 << SUB_BUCKET_BITS
_SUB_MASK = _SUB_BUCKETS - 1
_SCALE = float(2 * _SUB_BUCKETS)  # frexp's mantissa is in [0.5, 1): scale it to [256, 512)

#: Values below this (about one nanosecond, when the unit is milliseconds) read as zero;
#: so do negative values (a clock that stepped back).
TINY = 2.0**-20
#: The zero bucket's index: below every real bucket (``frexp(TINY)`` has exponent -19).
ZERO_INDEX = -20 * _SUB_BUCKETS


def bucket_index(value: float) -> int:
    """The bucket that holds ``value`` (finite); bucket order is value order."""
    if value < TINY:
        return ZERO_INDEX
    mantissa, exponent = frexp(value)
    return (exponent << SUB_BUCKET_BITS) + int(mantissa * _SCALE) - _SUB_BUCKETS


def bucket_value(index: int) -> float:
    """The value a bucket reports: its midpoint (0.0 for the zero bucket)."""
    if index == ZERO_INDEX:
        return 0.0
    exponent = index >> SUB_BUCKET_BITS
    return ldexp((_SUB_BUCKETS + (index & _SUB_MASK) + 0.5) / _SCALE, exponent)


def nearest_rank(p: float, count: int) -> int:
    """The 1-based rank of the ``p``-th percentile of ``count`` samples (nearest-rank rule).

    ``ceil(p / 100 * count)``, at least 1, where a product that float error pushed just
    past an integer (99.9% of 1000 must be rank 999, not 1000) counts as that integer.
    """
    exact = p * count / 100.0
    rounded = round(exact)
    rank = rounded if abs(exact - rounded) <= 1e-9 * max(1.0, exact) else math.ceil(exact)
    return min(max(rank, 1), count)


class Histogram:
    """Counts of float values (milliseconds) per log-linear bucket; see the module docs."""

    __slots__ = ("counts",)

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: dict[int, int] = {} if counts is None else counts

    def record(self, value: float) -> None:
        """Count one value (finite; anything below :data:`TINY` counts as zero)."""
        # bucket_index inlined: this runs once per request.
        if value < TINY:
            index = ZERO_INDEX
        else:
            mantissa, exponent = frexp(value)
            index = (exponent << SUB_BUCKET_BITS) + int(mantissa * _SCALE) - _SUB_BUCKETS
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s counts to this histogram."""
        counts = self.counts
        for index, n in other.counts.items():
            counts[index] = counts.get(index, 0) + n

    def minus(self, earlier: Histogram) -> Histogram:
        """The values recorded since ``earlier``, an earlier copy of this histogram."""
        before = earlier.counts
        return Histogram(
            {
                index: n - before.get(index, 0)
                for index, n in self.counts.items()
                if n > before.get(index, 0)
            }
        )

    def copy(self) -> Histogram:
        return Histogram(dict(self.counts))

    @property
    def count(self) -> int:
        """How many values were recorded."""
        return sum(self.counts.values())

    def percentile(self, p: float, lo: float | None = None, hi: float | None = None) -> float:
        """The nearest-rank ``p``-th percentile (``p`` in [0, 100]); 0.0 when empty.

        The result is the midpoint of the bucket holding the ranked value, clamped to
        ``[lo, hi]`` when given. Pass the exact minimum and maximum: the first rank then
        reads ``lo`` and the last reads ``hi``, so p0 and p100 are exact, and so is a
        single sample.
        """
        return self.percentiles((p,), lo, hi)[0]

    def percentiles(
        self, ps: Sequence[float], lo: float | None = None, hi: float | None = None
    ) -> list[float]:
        """:meth:`percentile` for each of ``ps`` (in that order), in one pass over the buckets."""
        total = self.count
        if total == 0:
            return [0.0] * len(ps)
        ranks = [nearest_rank(p, total) for p in ps]
        by_rank = sorted(range(len(ps)), key=ranks.__getitem__)
        results = [0.0] * len(ps)
        buckets = iter(sorted(self.counts.items()))
        index, seen = -1, 0
        for i in by_rank:
            rank = ranks[i]
            while seen < rank:
                index, n = next(buckets)
                seen += n
            if rank == 1 and lo is not None:
                results[i] = lo
            elif rank == total and hi is not None:
                results[i] = hi
            else:
                results[i] = _clamp(bucket_value(index), lo, hi)
        return results

    def to_wire(self) -> dict[int, int]:
        """The counts as a plain dict (bucket index to count), in bucket order."""
        return dict(sorted(self.counts.items()))

    @classmethod
    def from_wire(cls, data: Mapping[int, int] | Mapping[str, int]) -> Histogram:
        """Rebuild from :meth:`to_wire` output; string keys (from JSON) are accepted."""
        items: Iterable[tuple[int | str, int]] = data.items()
        return cls({int(index): int(n) for index, n in items if n})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return self.counts == other.counts

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, buckets={len(self.counts)})"


def _clamp(value: float, lo: float | None, hi: float | None) -> float:
    if lo is not None and value < lo:
        value = lo
    if hi is not None and value > hi:
        value = hi
    return value

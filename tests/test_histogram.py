"""The histogram: accuracy against exact nearest-rank percentiles, merging, the wire form."""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction

import pytest

from pytest_loadtest.histogram import (
    TINY,
    ZERO_INDEX,
    Histogram,
    bucket_index,
    bucket_value,
    nearest_rank,
)

PS = (0, 50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100)


def exact_percentile(samples: list[float], p: float) -> float:
    """The textbook nearest-rank percentile, computed with exact fractions."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(Fraction(str(p)) * len(ordered) / 100))
    return ordered[rank - 1]


def histogram_of(samples: list[float]) -> Histogram:
    histogram = Histogram()
    for value in samples:
        histogram.record(value)
    return histogram


def samples_around(magnitude: float, n: int, seed: int) -> list[float]:
    """``n`` samples spread over a factor of 4 around ``magnitude``, microsecond resolution."""
    rng = random.Random(seed)
    return [round(magnitude * 2 ** rng.uniform(-1, 1), 3) or 0.001 for _ in range(n)]


MAGNITUDES = {"50us": 0.05, "1ms": 1.0, "100ms": 100.0, "10s": 10_000.0, "60s": 60_000.0}


@pytest.mark.parametrize("magnitude", MAGNITUDES.values(), ids=MAGNITUDES.keys())
def test_percentiles_within_one_percent(magnitude: float) -> None:
    samples = samples_around(magnitude, 20_000, seed=int(magnitude * 1000))
    histogram = histogram_of(samples)
    for p in PS:
        exact = exact_percentile(samples, p)
        assert histogram.percentile(p) == pytest.approx(exact, rel=0.01), p


def test_percentiles_within_one_percent_across_magnitudes() -> None:
    samples = [v for i, m in enumerate(MAGNITUDES.values()) for v in samples_around(m, 3000, i)]
    random.Random(7).shuffle(samples)
    histogram = histogram_of(samples)
    got = histogram.percentiles(PS, min(samples), max(samples))
    for p, value in zip(PS, got, strict=True):
        assert value == pytest.approx(exact_percentile(samples, p), rel=0.01), p


def test_bucket_midpoint_error_is_under_a_quarter_percent() -> None:
    rng = random.Random(1)
    for _ in range(20_000):
        value = 10 ** rng.uniform(-3, 5)
        assert abs(bucket_value(bucket_index(value)) - value) <= value / 512


def test_bucket_order_is_value_order() -> None:
    values = sorted(10 ** random.Random(2).uniform(-6, 6) for _ in range(5000))
    indexes = [bucket_index(v) for v in [0.0, *values]]
    assert indexes == sorted(indexes)
    assert bucket_index(0.0) == ZERO_INDEX < bucket_index(TINY)


def test_nearest_rank_survives_float_error() -> None:
    assert nearest_rank(99.9, 1000) == 999
    assert nearest_rank(99.99, 10_000) == 9999
    assert nearest_rank(0.1 * 3, 1000) == 3  # 0.30000000000000004% of 1000
    assert nearest_rank(50, 3) == 2
    assert nearest_rank(0, 5) == 1
    assert nearest_rank(100, 5) == 5


def test_empty_reads_zero() -> None:
    histogram = Histogram()
    assert histogram.count == 0
    assert histogram.percentile(50) == 0.0
    assert histogram.percentiles([50, 100], lo=1.0, hi=2.0) == [0.0, 0.0]


def test_one_sample_reads_exactly_when_clamped() -> None:
    histogram = histogram_of([127.0])
    assert histogram.percentile(50) != 127.0  # the bucket midpoint ...
    assert histogram.percentiles(PS, lo=127.0, hi=127.0) == [127.0] * len(PS)  # ... clamped


def test_all_equal() -> None:
    histogram = histogram_of([3.3] * 1000)
    assert histogram.count == 1000
    assert len(histogram.counts) == 1
    assert histogram.percentiles(PS, 3.3, 3.3) == [3.3] * len(PS)


def test_p100_is_max_and_p0_is_min() -> None:
    samples = samples_around(10.0, 1000, seed=3)
    histogram = histogram_of(samples)
    lo, hi = min(samples), max(samples)
    assert histogram.percentile(100, lo, hi) == hi
    assert histogram.percentile(0, lo, hi) == lo
    assert histogram.percentile(0) == pytest.approx(lo, rel=0.002)
    assert histogram.percentile(100) == pytest.approx(hi, rel=0.002)


def test_zero_and_negative_values_read_zero() -> None:
    histogram = histogram_of([0.0, -1.0, TINY / 2, 5.0])
    assert histogram.counts[ZERO_INDEX] == 3
    assert histogram.percentile(75) == 0.0
    assert histogram.percentile(100) == pytest.approx(5.0, rel=0.002)


def test_percentiles_keep_the_order_asked_for() -> None:
    histogram = histogram_of([float(v) for v in range(1, 101)])
    assert histogram.percentiles([99, 10, 50], 1.0, 100.0) == [
        histogram.percentile(99, 1.0, 100.0),
        histogram.percentile(10, 1.0, 100.0),
        histogram.percentile(50, 1.0, 100.0),
    ]
    assert histogram.percentile(10, 1.0, 100.0) == pytest.approx(10.0, rel=0.002)


def test_merge_is_order_free_and_equals_recording_everything() -> None:
    samples = samples_around(20.0, 3000, seed=4)
    parts = [histogram_of(samples[i::3]) for i in range(3)]
    forward, backward = Histogram(), Histogram()
    for part in parts:
        forward.merge(part)
    for part in reversed(parts):
        backward.merge(part)
    assert forward == backward == histogram_of(samples)
    assert forward.count == 3000
    a_b = parts[0].copy()
    a_b.merge(parts[1])
    b_a = parts[1].copy()
    b_a.merge(parts[0])
    assert a_b.to_wire() == b_a.to_wire()


def test_minus_gives_what_was_recorded_since() -> None:
    histogram = histogram_of([1.0, 2.0, 2.0])
    earlier = histogram.copy()
    for value in (2.0, 400.0):
        histogram.record(value)
    since = histogram.minus(earlier)
    assert since == histogram_of([2.0, 400.0])
    assert histogram.minus(histogram.copy()).counts == {}


def test_copy_is_independent() -> None:
    histogram = histogram_of([1.0])
    copy = histogram.copy()
    copy.record(2.0)
    assert histogram.count == 1
    assert copy.count == 2


def test_wire_round_trip_including_json() -> None:
    histogram = histogram_of([*samples_around(0.5, 500, seed=5), 0.0])
    wire = histogram.to_wire()
    assert list(wire) == sorted(wire)
    assert Histogram.from_wire(wire) == histogram
    assert Histogram.from_wire(json.loads(json.dumps(wire))) == histogram  # string keys

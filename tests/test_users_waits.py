"""Unit tests of the pure parts of the user model: spreading users, picking tasks, waits."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

import pytest_loadtest as lt
from pytest_loadtest.users import distribute, spawn_order


@pytest.mark.parametrize(
    ("weights", "total", "expected"),
    [
        ([3, 1], 8, [6, 2]),
        ([3, 1], 1, [1, 0]),
        ([3, 1], 2, [2, 0]),  # 1.5/0.5: the larger remainder ties, the earlier type wins
        ([1, 1, 1], 10, [4, 3, 3]),
        ([1, 2, 3], 7, [1, 2, 4]),  # 1.17, 2.33, 3.5 -> remainders .17 .33 .5
        ([5], 3, [3]),
        ([1, 1], 0, [0, 0]),
        ([1, 100], 5, [0, 5]),
    ],
)
def test_distribute_is_largest_remainder(
    weights: list[int], total: int, expected: list[int]
) -> None:
    assert distribute(weights, total) == expected


def test_distribute_always_sums_to_total() -> None:
    rng = random.Random(7)
    for _ in range(500):
        weights = [rng.randint(1, 20) for _ in range(rng.randint(1, 6))]
        total = rng.randint(0, 300)
        counts = distribute(weights, total)
        assert sum(counts) == total
        exact = [w * total / sum(weights) for w in weights]
        assert all(abs(c - e) < 1 for c, e in zip(counts, exact, strict=True))


def test_spawn_order_interleaves_and_every_prefix_stays_near_shares() -> None:
    order = spawn_order([0, 0], [6, 2])
    assert Counter(order) == {0: 6, 1: 2}
    assert order[0] == 0
    for n in range(1, len(order) + 1):
        assert abs(order[:n].count(1) - n * 2 / 8) <= 1


def test_spawn_order_counts_only_the_difference() -> None:
    assert Counter(spawn_order([2, 5], [4, 5])) == {0: 2}
    assert Counter(spawn_order([4, 5], [1, 2])) == {0: 3, 1: 3}
    assert spawn_order([3], [3]) == []


def test_wait_times_values() -> None:
    rng = random.Random(1)
    assert lt.constant(0.5)(10.0, 10.2, rng) == 0.5
    draws = [lt.between(1.0, 2.0)(0.0, 0.0, rng) for _ in range(1000)]
    assert 1.0 <= min(draws) < 1.05
    assert 1.95 < max(draws) <= 2.0
    pacing = lt.constant_pacing(2.0)
    assert pacing(100.0, 100.5, rng) == pytest.approx(1.5)
    assert pacing(100.0, 103.0, rng) == 0.0  # an overrun iteration is not followed by a wait
    assert lt.constant_throughput(4)(0.0, 0.1, rng) == pytest.approx(0.15)
    assert str(lt.between(0.5, 2)) == "between(0.5, 2)"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: lt.constant(-1), "lt.constant: seconds must be >= 0"),
        (lambda: lt.between(2, 1), "lt.between: high (1) must be >= low (2)"),
        (lambda: lt.between(-1, 1), "lt.between: low must be >= 0"),
        (lambda: lt.constant_pacing(0), "lt.constant_pacing: seconds must be > 0"),
        (lambda: lt.constant_throughput(0), "lt.constant_throughput: per_second must be > 0"),
        (
            lambda: lt.constant("1s"),  # type: ignore[arg-type]
            "lt.constant: seconds must be a finite number, got '1s'",
        ),
        (lambda: lt.between(0, float("inf")), "lt.between: high must be a finite number"),
    ],
)
def test_bad_wait_times_name_the_function(make: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("weight", [0, -1, 1.5, "3", True, None])
def test_bad_task_weight_names_the_function(weight: object) -> None:
    def test_browse() -> None: ...

    with pytest.raises(ValueError, match=r"lt\.task on '.*test_browse': weight must be a whole"):
        lt.task(weight=weight)(test_browse)  # type: ignore[call-overload]


def test_bad_user_settings() -> None:
    with pytest.raises(
        ValueError, match=re.escape("lt.user: weight must be a whole number >= 1, got 0")
    ):
        lt.user(weight=0)
    with pytest.raises(TypeError, match=re.escape("lt.user: wait must come from lt.constant")):
        lt.user(wait=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sequential must be True or False"):
        lt.user(sequential="yes")  # type: ignore[arg-type]


def test_user_host_is_checked_and_normalised() -> None:
    assert lt.user(host="http://127.0.0.1:8080/").host == "http://127.0.0.1:8080"
    with pytest.raises(
        ValueError, match=re.escape("lt.user: invalid host 'localhost:80': expected an http")
    ):
        lt.user(host="localhost:80")

"""Microbenchmarks of the stats path, each in a fresh interpreter (clean memory figures).

``python micro.py speed|memory|cap COUNT`` prints one JSON object. Requests go through
``Events.request`` with a real (empty) hook relay and a current task, as in a load run,
into ``RequestStats``; their response times spread over 50 us - 60 s so that histograms
fill as many buckets as a real run's would.
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from typing import Any

TASK = "bench.py::test_task"
#: How many distinct response times are cycled through (prime, so names and times mix).
SPREAD = 1009


def rss_kib() -> int:
    """This process's resident set size (VmRSS) in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _response_times() -> list[float]:
    """Milliseconds from 0.05 to 60,000, evenly spread on a log scale, in a fixed shuffle."""
    times = [0.05 * (60_000 / 0.05) ** (i / (SPREAD - 1)) for i in range(SPREAD)]
    random.Random(0).shuffle(times)
    return times


def _feed(count: int, names: list[str]) -> tuple[Any, float, int]:
    """Record ``count`` requests cycling over ``names``: (stats, seconds, RSS growth KiB)."""
    import pytest

    from pytest_loadtest import hooks
    from pytest_loadtest.events import Events, TaskRun, current_task
    from pytest_loadtest.stats import RequestStats

    manager = pytest.PytestPluginManager()
    manager.add_hookspecs(hooks)
    stats = RequestStats()
    request = Events(hook=manager.hook, listener=stats).request
    current_task.set(TaskRun(TASK))
    times = _response_times()
    context: dict[str, Any] = {}
    width = len(names)
    gc.collect()
    before = rss_kib()
    start = time.perf_counter()
    for i in range(count):
        request(
            request_type="GET",
            name=names[i % width],
            response_time=times[i % SPREAD],
            response_length=3,
            response=None,
            exception=None,
            context=context,
            url="http://127.0.0.1/",
            start_time=0.0,
        )
    elapsed = time.perf_counter() - start
    gc.collect()
    return stats, elapsed, rss_kib() - before


def _names(count: int) -> list[str]:
    return [f"/items/{i}" for i in range(count)]


def speed(count: int) -> dict[str, Any]:
    stats, elapsed, _ = _feed(count, _names(100))
    assert stats.total().num_requests == count
    return {"requests": count, "us_per_request": elapsed / count * 1e6}


def memory(count: int) -> dict[str, Any]:
    stats, _, growth = _feed(count, _names(100))
    assert stats.total().num_requests == count
    return {"requests": count, "entries": len(stats.entries), "rss_growth_mb": growth / 1024}


def cap(count: int) -> dict[str, Any]:
    """``count`` requests, each with a new name."""
    stats, _, growth = _feed(count, _names(count))
    return {
        "names": count,
        "entries": len(stats.entries),
        "max_entries": stats.max_entries,
        "overflowed": stats.overflowed,
        "rss_growth_mb": growth / 1024,
    }


BENCHMARKS = {"speed": speed, "memory": memory, "cap": cap}

if __name__ == "__main__":
    print(json.dumps(BENCHMARKS[sys.argv[1]](int(sys.argv[2]))))

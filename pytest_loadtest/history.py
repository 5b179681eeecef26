"""Stats over time: one row per second-ish sample, with a sliding window for "current" numbers.

Pure: the caller passes the timestamps (Unix seconds) and the stats to sample.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_loadtest.stats import StatsEntry, aggregate

if TYPE_CHECKING:
    from pytest_loadtest.stats import RequestStats

#: A sample's timestamp, its entries by (method, name), and their total.
_Snapshot = tuple[float, dict[tuple[str, str], StatsEntry], StatsEntry]

#: Timestamps this close count as equal, so that float error in ``t - window`` does not
#: push the window one sample further back.
_EPSILON_S = 1e-6


@dataclass(frozen=True)
class HistoryRow:
    """One series at one sample, as in Locust's history CSV.

    ``rps``, ``fail_rps`` and ``percentiles`` (keyed by :func:`percentile_key`, in ms)
    are over the sliding window; the other numbers are cumulative since the start.
    """

    timestamp: float
    user_count: int
    method: str
    name: str
    rps: float
    fail_rps: float
    percentiles: dict[str, float]
    num_requests: int
    num_failures: int
    median_ms: float
    avg_ms: float
    min_ms: float
    max_ms: float
    avg_content_length: float


class History:
    """Samples of a run's stats, and their rates over the last ``window_s`` seconds.

    The window of a sample reaches back to the latest earlier sample at least
    ``window_s`` old (exactly ``window_s`` when sampling is regular), or to the first
    sample while the run is younger than the window. Call ``sample(start, 0, empty)`` at
    the start, so the first window has a baseline.
    """

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        #: The ``Aggregated`` row of every sample, oldest first.
        self.rows: list[HistoryRow] = []
        self._snapshots: deque[_Snapshot] = deque()

    def sample(self, timestamp: float, user_count: int, stats: RequestStats) -> list[HistoryRow]:
        """Take a sample: the ``Aggregated`` row first, then one row per (method, name)."""
        current = stats.by_name()
        total = aggregate(current.values())
        horizon = timestamp - self.window_s + _EPSILON_S
        snapshots = self._snapshots
        # Drop what no later window can reach: a snapshot followed by one old enough.
        while len(snapshots) >= 2 and snapshots[1][0] <= horizon:
            snapshots.popleft()
        since, base, base_total = snapshots[0] if snapshots else (timestamp, current, total)
        snapshots.append((timestamp, current, total))
        elapsed = timestamp - since

        def row(entry: StatsEntry, earlier: StatsEntry) -> HistoryRow:
            return _row(timestamp, user_count, entry, entry.minus(earlier), elapsed)

        rows = [row(total, base_total)]
        for key in sorted(current, key=lambda k: (k[1], k[0])):
            entry = current[key]
            earlier = base.get(key)
            rows.append(row(entry, StatsEntry(*key) if earlier is None else earlier))
        self.rows.append(rows[0])
        return rows

    def current(self) -> HistoryRow | None:
        """The latest ``Aggregated`` row, if any sample was taken."""
        return self.rows[-1] if self.rows else None


def _row(
    timestamp: float, user_count: int, entry: StatsEntry, window: StatsEntry, elapsed: float
) -> HistoryRow:
    return HistoryRow(
        timestamp=timestamp,
        user_count=user_count,
        method=entry.method,
        name=entry.name,
        rps=window.num_requests / elapsed if elapsed > 0 else 0.0,
        fail_rps=window.num_failures / elapsed if elapsed > 0 else 0.0,
        percentiles=window.percentile_map(),
        num_requests=entry.num_requests,
        num_failures=entry.num_failures,
        median_ms=entry.median_response_time,
        avg_ms=entry.avg_response_time,
        min_ms=entry.min_response_time if entry.num_requests else 0.0,
        max_ms=entry.max_response_time,
        avg_content_length=entry.avg_content_length,
    )

"""Progress by time: lines at most every interval, the budget's state, and an estimate that counts its waits."""

from __future__ import annotations

import logging

import pytest

from stoq_provider.api.progress import NotifyProgress, estimate_seconds_left
from stoq_provider.api.ratelimit import RateBudget
from stoq_provider.api.results import BulkNotifyResult
from stoq_provider.api.transport.policy import TransportUsage


def test_the_estimate_is_the_work_left_when_the_budget_suffices():
    left = estimate_seconds_left(
        done=1000, total=5000, batches=10, working_seconds=2.0, points_left=300, refill_per_second=6.0
    )
    assert left == pytest.approx(8.0)  # 40 batches at 0.2 s; they need 80 points of the 300 left


def test_the_estimate_counts_the_time_for_points_to_come_back():
    # 490 batches left need 980 points; 20 are left and 1 comes back per second: 960 s, far above the work.
    left = estimate_seconds_left(
        done=1000, total=50_000, batches=10, working_seconds=1.0, points_left=20, refill_per_second=1.0
    )
    assert left == pytest.approx(960.0)


def test_the_estimate_without_budget_or_progress():
    assert estimate_seconds_left(
        done=10, total=20, batches=1, working_seconds=3.0, points_left=None, refill_per_second=None
    ) == pytest.approx(3.0)
    assert (
        estimate_seconds_left(done=0, total=20, batches=0, working_seconds=0.0, points_left=5, refill_per_second=1.0)
        == 0.0
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_by_time_not_by_batch(caplog):
    clock, usage, budget = _Clock(), TransportUsage(points=7), RateBudget()
    budget.limit, budget.remaining = 60, 0
    log = logging.getLogger("test.progress")
    progress = NotifyProgress(10_000, log, usage=lambda: usage, budget=lambda: budget, interval=5.0, clock=clock)
    result = BulkNotifyResult(requested=10_000)
    caplog.set_level("INFO", logger="test.progress")
    for batch in range(1, 41):  # a batch of 100 every 0.5 s, 20 s in all; 10 s of it waiting for points
        clock.now += 0.5
        usage.points += 2
        usage.paced_seconds += 0.25
        result.sent.extend(f"i{batch}-{k}" for k in range(100))
        progress(result)
    lines = [r.getMessage() for r in caplog.records if "progress" in r.getMessage()]
    assert len(lines) == 4  # at 5, 10, 15 and 20 s, not after each of the 40 batches
    first = "STOQ notify progress: 1000/10000 intents (10%), 0 failed, 0 read-backs; 200 intents/s; 20 points"
    assert lines[0].startswith(first)
    assert "budget 0/60 left; 2.5 s waited for budget" in lines[0]
    # 60 batches left need 120 points with none left, at 1 point/s (60 per the documented 60 s): 2 min, not 30 s.
    assert lines[-1].endswith("about 2 min 0 s left."), lines[-1]
    progress.finish(result)
    done = caplog.records[-1].getMessage()
    assert done.startswith("STOQ notify done: 4000/10000 intents in 20 s (4000 sent, 0 already notified, 0 failed)")
    assert "80 points; 10.0 s of it waiting for budget (0 429s)" in done

"""The client's pacing against the sandbox's budget under each reading of ``X-RateLimit-Reset``, on a fake clock.

The server side is the sandbox's own ``RateBudget`` (fixed windows; a rolling window whose Reset is the oldest
charge's expiry; one whose Reset is the newest's), the client side the provider's. No HTTP: the clock moves
only when the client waits or a request takes its time, so thousands of requests run in milliseconds and the
outcome does not depend on the machine. Over real HTTP the same is checked in ``test_readings.py``.
"""

from __future__ import annotations

import pytest

from benchmarks.b7_pacing import TrustTheReset, ours, simulate
from stoq_provider.api.ratelimit import RateBudget
from stoq_provider.sandbox.readings import RESET_READINGS


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run_lone_client(reading: str, **options) -> tuple[int, float, int]:
    """(429s, seconds, points) of one client with the provider's pacing (the simulation B7 reports)."""
    outcome = simulate(reading, ours, **options)
    return outcome["429s"], outcome["seconds"], outcome["points"]


@pytest.mark.parametrize("reading", RESET_READINGS)
@pytest.mark.parametrize(("limit", "window"), [(12, 3.0), (360, 60.0), (360, 0.6), (5, 1.0)])
def test_a_lone_client_never_overdraws_under_any_reading(reading, limit, window):
    refused, elapsed, points = run_lone_client(reading, limit=limit, window=window, requests=1500)
    assert refused == 0
    # ...and does not crawl: the budget allows `points` in about (points / limit) windows.
    assert elapsed <= (points / limit + 2) * window * 1.6


@pytest.mark.parametrize("reading", RESET_READINGS)
def test_a_lone_client_starting_on_a_busy_window_never_overdraws(reading):
    refused, _, _ = run_lone_client(reading, limit=12, window=3.0, requests=600, warm=7, seed=3)
    assert refused == 0


@pytest.mark.parametrize("reading", RESET_READINGS)
@pytest.mark.parametrize("seed", range(5))
def test_whole_second_resets_are_safe(reading, seed):
    # A realistic window: the sandbox gives whole seconds, rounded up.
    refused, _, _ = run_lone_client(reading, limit=20, window=60.0, requests=200, latency=0.05, seed=seed)
    assert refused == 0


def test_the_baseline_that_trusts_the_reset_overdraws_a_rolling_window_whose_reset_is_the_oldest_charge():
    """The simulation can tell a wrong pacer: the plain reading of the docs meets 429s under rolling-oldest."""
    assert simulate("rolling-oldest", TrustTheReset, requests=600)["429s"] > 0
    assert simulate("rolling-oldest", ours, requests=600)["429s"] == 0


def _headers(limit, remaining, reset):
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}


def test_unexplained_points_in_use_wait_for_the_reset():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(10, 3, 1005.5))  # 7 points in use, none of them ours: other tasks
    assert budget.reserve(2) == 0.0
    assert budget.reserve(2) == pytest.approx(5.5)  # 1 left: wait for the reset
    assert budget.reserve(2) == pytest.approx(5.5)  # drawn from the window after it


def test_own_charges_return_as_they_surely_leave():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    # Two own writes, each answered with a rolling reset one window (10 s) after it.
    for _ in range(2):
        sent = clock.now
        clock.now += 0.01
        remaining = 4 - 2 * (1 + (sent > 1000.0))
        budget.observe(_headers(4, remaining, sent + 10.0), sent_at=sent, cost=2, reserved=0)
        clock.now += 1.0
    assert budget.reserve(2) == pytest.approx(1000.0 + 10.0 + 0.01 - clock.now, abs=0.02)

"""The store's rate budget as the headers show it (``api/ratelimit.py``), case by case."""

from __future__ import annotations

import pytest

from stoq_provider.api.ratelimit import RateBudget, retry_after_seconds


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _headers(limit, remaining, reset):
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}


def test_budget_unknown_until_headers_arrive():
    budget = RateBudget(clock=Clock())
    assert budget.reserve(2) == 0.0
    assert budget.remaining is None


def test_budget_reset_passed_restores_limit():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(360, 0, 999.0))
    assert budget.reserve(2) == 0.0
    assert budget.remaining == 360


def test_budget_takes_size_from_headers_not_a_constant():
    budget = RateBudget(clock=Clock())
    budget.observe(_headers(20, 20, 1002))
    assert budget.limit == 20


def test_budget_ignores_malformed_headers():
    budget = RateBudget(clock=Clock())
    budget.observe({"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": "3"})
    budget.observe({})
    assert budget.limit is None and budget.reserve(2) == 0.0


def test_budget_after_429_blocks_everyone():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(10, 10, 1010))
    budget.exhausted_for(3.0)
    assert budget.reserve(1) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "7"}, {"retry_after": 24}, 7.0),
        ({}, {"retry_after": 24}, 24.0),
        ({"X-RateLimit-Reset": "1012.5"}, None, 12.5),
        ({"Retry-After": "soon"}, {"retry_after": "later"}, None),
        ({"Retry-After": "-3"}, None, 0.0),
    ],
)
def test_retry_after(headers, body, expected):
    assert retry_after_seconds(headers, body, now=1000.0) == expected


def test_budget_learns_the_window_and_reuses_points_as_own_requests_leave_it():
    """A lone client of a rolling window waits for its own oldest request to age out, not for a full reset."""
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(6, 6, 1000.0))  # nothing in the window yet
    for remaining in (4, 2, 0):
        assert budget.reserve(2) == 0.0
        sent = clock.now
        clock.now += 0.1  # answered 0.1 s later; the server charged it at +0.05 s, its reset is exact (ms)
        budget.observe(_headers(6, remaining, sent + 0.05 + 10.0), sent_at=sent, cost=2)
        clock.now = sent + 1.0
    # The first answer, alone in the window, bounds it: reset 1010.05 - sent 1000.
    assert budget.window_at_most == pytest.approx(10.05)
    # At 1003 the window is full (answered at 1000.1, 1001.1, 1002.1); the first surely leaves by 1010.15.
    assert budget.reserve(2) == pytest.approx(1010.15 - 1003.0)
    assert budget.reserve(2) == pytest.approx(1011.15 - 1003.0)  # then the second, not the reset at 1012.05


def test_budget_forgets_own_requests_that_the_headers_already_count_as_gone():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(6, 6, 1000.0))
    assert budget.reserve(2) == 0.0  # sent at 1000
    budget.observe(_headers(6, 4, 1010.0), sent_at=1000.0, cost=2)
    clock.now = 1010.5  # that request left the window at 1010; a later answer already counts it as gone
    budget.observe(_headers(6, 0, 1015.0), sent_at=1010.4, cost=2)  # meanwhile others spent everything
    assert budget.reserve(2) == pytest.approx(4.5)  # the reset: our old request must not be counted twice


def test_budget_refused_requests_are_not_expected_back():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(6, 0, 1004.5), sent_at=999.9, cost=0)  # a 429: nothing charged, nothing returns
    assert budget.reserve(2) == pytest.approx(4.5)


def test_budget_waits_for_the_reset_when_other_tasks_spent_the_window():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(10, 0, 1004.0))  # someone else spent it all; none of it is ours
    assert budget.reserve(2) == pytest.approx(4.0)
    assert budget.remaining == 10  # the window after the reset, from which this request draws


def test_budget_never_waits_longer_than_the_reset():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(10, 10, 1060.0))  # learns a 60 s window
    assert budget.reserve(2) == 0.0
    budget.observe(_headers(10, 0, 1003.0))  # a fixed window about to reset: sooner than our request leaves
    assert budget.reserve(2) == pytest.approx(3.0)

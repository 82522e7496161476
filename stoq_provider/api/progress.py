"""Progress of a bulk notify told by time: what is done, how fast, what it cost, and when it will end.

A line at most every ``interval`` seconds (and none for a run that ends sooner), whatever the batch size, and a
closing line. The estimate of what is left counts the budget: when the remaining batches need more points than
the store has left, the time for them to come back is part of it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from stoq_provider.api.contract import DOCUMENTED_WINDOW_SECONDS, WRITE_COST

if TYPE_CHECKING:
    from stoq_provider.api.logs import Logger
    from stoq_provider.api.ratelimit import RateBudget
    from stoq_provider.api.results import BulkNotifyResult
    from stoq_provider.api.transport.policy import TransportUsage

#: Seconds between two progress lines.
PROGRESS_INTERVAL = 5.0


def estimate_seconds_left(
    *,
    done: int,
    total: int,
    batches: int,
    working_seconds: float,
    points_left: int | None,
    refill_per_second: float | None,
) -> float:
    """Seconds until ``total`` intents are handled, from the pace so far and what the budget still allows.

    :param done: intents handled so far, in ``batches`` notify calls.
    :param working_seconds: time spent so far other than waiting for the budget.
    :param points_left: points the store has left now (``None``: unknown).
    :param refill_per_second: points the budget gives back per second (limit / window; ``None``: unknown).
    """
    if done <= 0 or batches <= 0 or done >= total:
        return 0.0
    batches_left = math.ceil((total - done) * batches / done)
    working = batches_left * working_seconds / batches
    if points_left is None or not refill_per_second:
        return working
    short = batches_left * WRITE_COST - points_left
    return max(working, short / refill_per_second) if short > 0 else working


class NotifyProgress:
    """Logs a bulk notify's progress by time; pass it as ``progress=`` and call :meth:`finish` at the end.

    :param total: intents the run will handle.
    :param log: where the lines go (counts only, never intent data).
    :param usage: what the transport has spent so far (requests, points, waits).
    :param budget: the store's rate budget, for the points left and how fast they come back.
    :param interval: seconds between two lines.
    :param clock: monotonic seconds (tests pass their own).

    Usage::

        progress = NotifyProgress(len(ids), log, usage=lambda: hook.usage, budget=hook.budget)
        result = hook.bulk_notify_intents(ids, progress=progress)
        progress.finish(result)
    """

    def __init__(
        self,
        total: int,
        log: Logger,
        *,
        usage: Callable[[], TransportUsage],
        budget: Callable[[], RateBudget],
        interval: float = PROGRESS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.log = log
        self.usage = usage
        self.budget = budget
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.start_usage = usage().copy()
        self.batches = 0
        self.last_line = self.started

    def spent(self) -> TransportUsage:
        """What the run has spent since it started."""
        now, then = self.usage(), self.start_usage
        return type(now)(**{name: value - getattr(then, name) for name, value in vars(now).items()})

    def __call__(self, result: BulkNotifyResult) -> None:
        """After each batch: a line if ``interval`` seconds passed since the last one."""
        self.batches += 1
        now = self.clock()
        if now - self.last_line < self.interval or result.handled >= self.total:
            return
        self.last_line = now
        elapsed = now - self.started
        spent = self.spent()
        budget = self.budget()
        window = budget.window_at_most or DOCUMENTED_WINDOW_SECONDS
        left = estimate_seconds_left(
            done=result.handled,
            total=self.total,
            batches=self.batches,
            working_seconds=max(elapsed - spent.waited_seconds, 0.0),
            points_left=budget.remaining,
            refill_per_second=budget.limit / window if budget.limit else None,
        )
        self.log.info(
            "STOQ notify progress: %d/%d intents (%.0f%%), %d failed, %d read-backs; %.0f intents/s; %d points "
            "spent, %s; %.1f s waited for budget; about %s left.",
            result.handled,
            self.total,
            100.0 * result.handled / self.total,
            len(result.failed),
            result.read_requests,
            result.handled / elapsed if elapsed > 0 else 0.0,
            spent.points,
            _budget_words(budget),
            spent.waited_seconds,
            _duration(left),
        )

    def finish(self, result: BulkNotifyResult) -> None:
        """The closing line: outcome, batches, points, read-backs and time waited for the budget."""
        elapsed = self.clock() - self.started
        spent = self.spent()
        self.log.info(
            "STOQ notify done: %d/%d intents in %s (%d sent, %d already notified, %d failed); %d batches, "
            "%d read-backs, %d points; %.1f s of it waiting for budget (%d 429s).",
            result.handled,
            self.total,
            _duration(elapsed),
            len(result.sent),
            len(result.already_notified),
            len(result.failed),
            result.requests,
            result.read_requests,
            spent.points,
            spent.waited_seconds,
            spent.rate_limited,
        )


def _budget_words(budget: RateBudget) -> str:
    if budget.limit is None or budget.remaining is None:
        return "budget not known yet"
    window = f" per {budget.window_at_most:.0f} s" if budget.window_at_most else ""
    return f"budget {budget.remaining}/{budget.limit}{window} left"


def _duration(seconds: float) -> str:
    """``"4 s"``, ``"2 min 5 s"``."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"

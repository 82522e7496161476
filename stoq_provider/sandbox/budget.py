"""The rate budget: one window of points shared by every client of the (single) store.

``GET`` costs 1 point, any other method 2. A request that costs more than what is left is refused
with ``429`` and is not charged. The window is rolling (a charge leaves it ``window`` seconds after it was
taken) or fixed (every charge leaves at the end of the ``window``-long period it was taken in), and
``X-RateLimit-Reset`` is read one of three ways (see :mod:`.readings`): the end of the fixed window, or in a
rolling window the moment the oldest charge leaves it, or the moment the newest does.

Time values are whole seconds rounded up when the window is a realistic 60 seconds or more; for a sped-up
test window (< 60 s) they are decimals with 3 places (rounded up), so short windows stay precise.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from stoq_provider.sandbox.readings import RESET_FIXED, RESET_ROLLING_NEWEST, RESET_ROLLING_OLDEST

#: Windows shorter than this are "sped-up" and get millisecond-precise time values.
PRECISE_BELOW_SECONDS = 60.0


def points_for(method: str) -> int:
    """Points charged for one request with this HTTP method."""
    return 1 if method.upper() in ("GET", "HEAD", "OPTIONS") else 2


def round_up(value: float, precise: bool) -> int | float:
    """Round a time value up: to whole seconds, or to milliseconds when ``precise``."""
    if precise:
        return math.ceil(round(value * 1000, 6)) / 1000
    return math.ceil(round(value, 6))


def format_time(value: float, precise: bool) -> str:
    """Header form of a time value (see :func:`round_up`)."""
    rounded = round_up(value, precise)
    return f"{rounded:.3f}" if precise else str(rounded)


@dataclass(frozen=True)
class BudgetDecision:
    """The outcome of asking the budget for ``cost`` points."""

    allowed: bool
    cost: int
    limit: int
    remaining: int
    reset_at: float
    retry_after: float
    precise: bool

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers (plus ``Retry-After`` when refused)."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": format_time(self.reset_at, self.precise),
        }
        if not self.allowed:
            headers["Retry-After"] = format_time(self.retry_after, self.precise)
        return headers

    def retry_after_value(self) -> int | float:
        """``retry_after`` as it appears in the 429 body."""
        return round_up(self.retry_after, self.precise)


class RateBudget:
    """``limit`` points per ``window`` seconds, rolling or fixed as ``reset_reading`` says."""

    def __init__(
        self,
        limit: int = 360,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
        *,
        reset_reading: str = RESET_ROLLING_NEWEST,
    ) -> None:
        self._clock = clock
        self.reset_reading = reset_reading
        self._charges: deque[tuple[float, int]] = deque()
        self._used = 0
        self.peak = 0  # the most points the window ever held at once (never above ``limit``)
        self.limit = limit
        self.window = window
        self.configure(limit=limit, window=window)

    @property
    def precise(self) -> bool:
        """True for a sped-up (short) window."""
        return self.window < PRECISE_BELOW_SECONDS

    def configure(self, *, limit: int | None = None, window: float | None = None) -> None:
        """Change the budget and/or the window; this empties the window."""
        if limit is not None:
            if limit < 1:
                raise ValueError("budget must be at least 1 point")
            self.limit = limit
        if window is not None:
            if window <= 0:
                raise ValueError("window must be positive")
            self.window = float(window)
        self.clear()

    def clear(self) -> None:
        """Forget every charge."""
        self._charges.clear()
        self._used = 0
        self.peak = 0

    @property
    def fixed(self) -> bool:
        """True when the window is fixed (periods of ``window`` seconds from the Unix epoch)."""
        return self.reset_reading == RESET_FIXED

    def _leaves_at(self, charged_at: float) -> float:
        """When a charge taken at ``charged_at`` leaves the window."""
        if self.fixed:
            return (math.floor(charged_at / self.window) + 1) * self.window
        return charged_at + self.window

    def _expire(self, now: float) -> None:
        charges = self._charges
        while charges and self._leaves_at(charges[0][0]) <= now:
            self._used -= charges.popleft()[1]

    def remaining(self) -> int:
        """Points left in the window right now."""
        self._expire(self._clock())
        return max(0, self.limit - self._used)

    def charge(self, cost: int) -> BudgetDecision:
        """Take ``cost`` points if they fit, and describe the outcome either way."""
        now = self._clock()
        self._expire(now)
        remaining = self.limit - self._used
        if cost <= remaining:
            self._charges.append((now, cost))
            self._used += cost
            self.peak = max(self.peak, self._used)
            return self._decision(True, cost, now, retry_after=0.0)
        return self._decision(False, cost, now, retry_after=self._wait_for(cost, now))

    def _wait_for(self, cost: int, now: float) -> float:
        """Seconds until enough charges leave the window for ``cost`` to fit."""
        if cost > self.limit:
            return self.window
        needed = cost - (self.limit - self._used)
        freed = 0
        for at, points in self._charges:
            freed += points
            if freed >= needed:
                return max(0.0, self._leaves_at(at) - now)
        return self.window  # unreachable: the window holds more than ``needed`` points

    def _reset_at(self, now: float) -> float:
        """``X-RateLimit-Reset`` under this reading."""
        if self.fixed:
            return self._leaves_at(now)
        if not self._charges:
            return now
        if self.reset_reading == RESET_ROLLING_OLDEST:
            return self._leaves_at(self._charges[0][0])
        return self._leaves_at(self._charges[-1][0])

    def _decision(self, allowed: bool, cost: int, now: float, *, retry_after: float) -> BudgetDecision:
        reset_at = self._reset_at(now)
        return BudgetDecision(
            allowed=allowed,
            cost=cost,
            limit=self.limit,
            remaining=max(0, self.limit - self._used),
            reset_at=reset_at,
            retry_after=retry_after,
            precise=self.precise,
        )

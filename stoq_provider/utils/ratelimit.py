"""The store's rate budget, as seen through STOQ's response headers.

STOQ gives each store a budget of points per rolling window (documented as 360 points per 60 s; ``GET`` costs
1 point, every write 2). Every task, worker and triggerer that uses the store draws on that one budget, and
the ``X-RateLimit-*`` headers are the only shared view of it. :class:`RateBudget` keeps the latest view,
reserves points for requests about to leave this process, and says how long to wait before a request that
would overdraw it. It never assumes a budget size: everything comes from the headers.

The class is pure bookkeeping (no sleeping, no I/O), so the sync and async transports share it.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

READ_COST = 1
WRITE_COST = 2
#: At most this many of this process's recent requests are remembered per store.
OWN_CHARGES_KEPT = 4096


def request_cost(method: str) -> int:
    """Points a request costs: 1 for ``GET``/``HEAD``, 2 for every write."""
    return READ_COST if method.upper() in {"GET", "HEAD", "OPTIONS"} else WRITE_COST


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def retry_after_seconds(headers: Mapping[str, str], body: Any, *, now: float) -> float | None:
    """How long a 429 asks us to wait: ``Retry-After``, else the body's ``retry_after``, else the reset time."""
    seconds = _number(_header(headers, "Retry-After"))
    if seconds is None and isinstance(body, Mapping):
        seconds = _number(body.get("retry_after"))
    if seconds is None:
        reset = _number(_header(headers, "X-RateLimit-Reset"))
        if reset is not None:
            seconds = reset - now
    if seconds is None:
        return None
    return max(0.0, seconds)


class RateBudget:
    """A thread-safe view of one store's rate budget.

    :param clock: returns the current Unix time; injectable for tests.

    The view is the latest ``X-RateLimit-*`` headers, less the points reserved since. When it is out of points,
    the wait is the shorter of two bounds, so that the rolling window's points are used as soon as they return:

    * the reset (``X-RateLimit-Reset``, when the whole window is free again), always safe;
    * the moment enough of *this process's own* recent requests have surely left the window. The window's
      length is never assumed: each answer bounds it, from below by ``reset - received`` and from above by
      ``reset - sent`` (the reset is at least one window after the request was charged), and a request counts
      as gone one upper bound after it was sent. Points spent by other tasks are unknown here; if they still
      fill the window, STOQ answers ``429`` with an exact ``Retry-After`` and the request is sent again after
      it.

    Usage::

        budget = RateBudget()
        wait = budget.reserve(cost)  # seconds to sleep before sending; the cost is then reserved
        ...send...
        budget.observe(response.headers)
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_at: float | None = None
        #: Bounds on the rolling window's length learned from the headers (``None`` until seen).
        self.window_at_least: float | None = None
        self.window_at_most: float | None = None
        self._not_before = 0.0
        #: This process's answered requests still (perhaps) in the window: (sent, answered, points).
        self._own: deque[tuple[float, float, int]] = deque(maxlen=OWN_CHARGES_KEPT)

    def __repr__(self) -> str:
        return f"RateBudget(limit={self.limit}, remaining={self.remaining}, reset_at={self.reset_at})"

    def reserve(self, cost: int) -> float:
        """Reserve ``cost`` points; return how many seconds to wait before sending (0 to send now)."""
        with self._lock:
            now = self._clock()
            wait = max(0.0, self._not_before - now)
            if self.remaining is None or self.limit is None:
                return wait
            if self.reset_at is not None and now >= self.reset_at:
                self.remaining, self.reset_at = self.limit, None
            if self.remaining >= cost:
                self.remaining -= cost
                return wait
            if self.reset_at is None:
                # Out of points with no known reset: send and let a 429 tell us how long to wait.
                return wait
            back_at, freed = self._own_points_back(cost - self.remaining)
            if back_at is not None and back_at < self.reset_at:
                # Enough of our own earlier requests leave the rolling window before it resets entirely.
                self._not_before = max(self._not_before, back_at)
                self.remaining = self.remaining + freed - cost
                return max(0.0, self._not_before - now)
            # Wait for the window to reset, and draw this request from the fresh window.
            self._not_before = max(self._not_before, self.reset_at)
            self.remaining, self.reset_at = self.limit - cost, None
            self._own.clear()  # all of them have left the window by then
            return max(0.0, self._not_before - now)

    def _own_points_back(self, needed: int) -> tuple[float | None, int]:
        """When ``needed`` points of our own requests will have left the window (consuming them), and how many."""
        if self.window_at_most is None:
            return None, 0
        freed = 0
        for taken, (_, answered_at, cost) in enumerate(self._own, start=1):
            freed += cost
            if freed >= needed:
                for _ in range(taken):
                    self._own.popleft()
                # Charged at the latest when answered; gone at the latest one window (upper bound) later.
                return answered_at + self.window_at_most, freed
        return None, 0

    def observe(self, headers: Mapping[str, str], *, sent_at: float | None = None, cost: int = 0) -> None:
        """Take the budget from a response's ``X-RateLimit-*`` headers (ignored when absent or malformed).

        :param sent_at: when the request that got this answer left; with it, the answer bounds the window.
        :param cost: the points this answered request was charged (0 for a refused one, a ``429``).
        """
        limit = _number(_header(headers, "X-RateLimit-Limit"))
        remaining = _number(_header(headers, "X-RateLimit-Remaining"))
        reset = _number(_header(headers, "X-RateLimit-Reset"))
        if limit is None or remaining is None or limit <= 0:
            return
        with self._lock:
            self.limit = int(limit)
            self.remaining = max(0, min(int(remaining), int(limit)))
            self.reset_at = reset
            if reset is not None:
                now = self._clock()
                self._learn_window(reset, sent_at, now)
                if sent_at is not None and cost > 0:
                    self._own.append((sent_at, now, cost))

    def _learn_window(self, reset: float, sent_at: float | None, now: float) -> None:
        # A reset in whole seconds may be rounded up by up to a second; a finer one by a millisecond.
        rounding = 1.0 if float(reset).is_integer() else 0.001
        if reset - rounding - now > 0:
            self.window_at_least = max(self.window_at_least or 0.0, reset - rounding - now)
        if self.window_at_least is not None:
            # Our requests that may have left the window by now are in ``remaining`` already: forget them.
            while self._own and self._own[0][0] + self.window_at_least <= now:
                self._own.popleft()
        if sent_at is not None and reset - sent_at > 0:
            at_most = reset - sent_at
            if self.window_at_most is None or at_most < self.window_at_most:
                self.window_at_most = at_most
        if self.window_at_most is not None and self.window_at_least is not None:
            self.window_at_most = max(self.window_at_most, self.window_at_least)

    def exhausted_for(self, seconds: float) -> None:
        """Record a 429: nothing may be sent for ``seconds``."""
        with self._lock:
            until = self._clock() + seconds
            self._not_before = max(self._not_before, until)
            if self.limit is not None:
                self.remaining = 0
                self.reset_at = until


_registry: dict[str, RateBudget] = {}
_registry_lock = threading.Lock()


def shared_budget(base_url: str, api_key: str) -> RateBudget:
    """The process-wide budget of one store, shared by every hook and trigger using the same key and URL."""
    digest = hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()
    with _registry_lock:
        budget = _registry.get(digest)
        if budget is None:
            budget = _registry[digest] = RateBudget()
        return budget

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
from collections.abc import Callable, Mapping
from typing import Any

READ_COST = 1
WRITE_COST = 2


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
        self._not_before = 0.0

    def __repr__(self) -> str:
        return f"RateBudget(limit={self.limit}, remaining={self.remaining}, reset_at={self.reset_at})"

    def reserve(self, cost: int) -> float:
        """Reserve ``cost`` points; return how many seconds to wait before sending (0 to send now)."""
        with self._lock:
            now = self._clock()
            if self.remaining is None or self.limit is None:
                return max(0.0, self._not_before - now)
            if self.reset_at is not None and now >= self.reset_at:
                self.remaining, self.reset_at = self.limit, None
            if self.remaining >= cost:
                self.remaining -= cost
                return max(0.0, self._not_before - now)
            if self.reset_at is None:
                # Out of points with no known reset: send and let a 429 tell us how long to wait.
                return max(0.0, self._not_before - now)
            # Wait for the window to reset, and draw this request from the fresh window.
            wait = self.reset_at - now
            self._not_before = self.reset_at
            self.remaining, self.reset_at = self.limit - cost, None
            return max(0.0, wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the budget from a response's ``X-RateLimit-*`` headers (ignored when absent or malformed)."""
        limit = _number(_header(headers, "X-RateLimit-Limit"))
        remaining = _number(_header(headers, "X-RateLimit-Remaining"))
        reset = _number(_header(headers, "X-RateLimit-Reset"))
        if limit is None or remaining is None or limit <= 0:
            return
        with self._lock:
            self.limit = int(limit)
            self.remaining = max(0, min(int(remaining), int(limit)))
            self.reset_at = reset

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

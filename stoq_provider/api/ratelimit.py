"""The store's rate budget, as seen through STOQ's response headers.

STOQ gives each store a budget of points per rolling window (documented as 360 points per 60 s; ``GET`` costs
1 point, every write 2). Every task, worker and triggerer that uses the store draws on that one budget, and
the ``X-RateLimit-*`` headers are the only shared view of it. :class:`RateBudget` keeps the latest view,
reserves points for requests about to leave this process, and says how long to wait before a request that
would overdraw it. It never assumes a budget size: everything comes from the headers.

The class is pure bookkeeping (no sleeping, no I/O), so the sync and async transports share it.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: At most this many of this process's recent requests are remembered per store.
OWN_CHARGES_KEPT = 4096


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


@dataclass(frozen=True)
class _Charge:
    """One request of this process that STOQ charged (or may have charged: no answer came back)."""

    sent: float
    answered: float
    cost: int
    #: ``X-RateLimit-Reset`` of its own answer (``None`` when no answer came back).
    reset: float | None


class RateBudget:
    """A thread-safe view of one store's rate budget.

    :param clock: returns the current Unix time; injectable for tests.

    The view is the latest answer's ``X-RateLimit-Remaining``, less the points of requests sent since, plus
    the points of this process's own requests as they surely leave the window. STOQ documents a rolling window
    whose ``X-RateLimit-Reset`` is "when the current window resets", which fits three readings: the end of a
    fixed window; in a rolling window, the moment the oldest charge leaves it; or the moment the newest does.
    Nothing here depends on which one the store uses. Under every one of them:

    * a charge leaves the window no earlier than the reset its own answer gave, and no later than that reset or
      one window after it was answered, whichever is later; the window's length is bounded from above by
      ``reset - sent`` of the oldest charge still in the window, which the headers identify when this process's
      own requests explain every point in use (``limit - remaining``);
    * at the reset of the latest answer at least the oldest charge leaves; when the points in use cannot be
      explained by this process's own requests (other tasks share the store) nothing more is assumed before it.

    So a lone client never overdraws whatever the reading, and points return as soon as they surely do. Points
    spent by other tasks are unknown here; if they still fill the window, STOQ answers ``429`` with an exact
    ``Retry-After`` and the request is sent again after it.

    Usage::

        budget = RateBudget()
        wait = budget.reserve(cost)  # seconds to sleep before sending; the cost is then reserved
        ...send...
        budget.observe(response.headers, sent_at=sent_at, cost=cost, reserved=cost)
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.limit: int | None = None
        #: ``X-RateLimit-Remaining`` of the latest answer, and when it was received.
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self.observed_at = 0.0
        #: Upper bound on a rolling window's length, learned from the headers (``None`` until known).
        self.window_at_most: float | None = None
        self._not_before = 0.0
        #: Points of requests reserved and not answered yet.
        self._in_flight = 0
        #: This process's recent charges, oldest first, and the running total of their points (``_cum[i]`` is the
        #: points of every charge up to ``_own[i]``), so that the charges explaining the points in use are found
        #: by bisection, not by a walk.
        self._own: list[_Charge] = []
        self._cum: list[int] = []
        #: Whether own charges explain every point in use at the latest answer, and from which one on.
        self._explained = False
        self._explained_from = 0
        self._learned_at = 0.0
        #: ``(leaves by, points)`` of own charges in the window at the latest answer, by time; built when needed.
        self._returns_cache: list[tuple[float, int]] | None = []

    def __repr__(self) -> str:
        return f"RateBudget(limit={self.limit}, remaining={self.remaining}, reset_at={self.reset_at})"

    # ------------------------------------------------------------------ before a request

    def reserve(self, cost: int) -> float:
        """Reserve ``cost`` points; return how many seconds to wait before sending (0 to send now)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._not_before)
            if self.remaining is None or self.limit is None:
                self._in_flight += cost
                return start - now
            at = self._time_for(cost, start)
            if at is None or (not self._explained and self.reset_at is not None and self.reset_at < at):
                at = self._fresh_window(start)
            self._in_flight += cost
            self._not_before = max(self._not_before, at) if at > now else self._not_before
            return max(0.0, at - now)

    def _time_for(self, cost: int, start: float) -> float | None:
        """The first moment from ``start`` when ``cost`` points are surely free, if the view can tell."""
        assert self.remaining is not None
        free = self.remaining - self._in_flight
        if free >= cost:
            return start  # the common case: no need to know when own charges return
        for leaves, points in self._returns():  # sorted by time: one pass, points accumulate
            free += points
            if free >= cost:
                return max(start, leaves)
        return None

    def _fresh_window(self, start: float) -> float:
        """Wait for the reset, and take the window as free again then.

        When own requests explain every point in use, the returns above cover the whole window and this is
        only reached with requests in flight. Otherwise other tasks share the store: the window is taken as
        free again at the reset, or earlier if own requests return sooner (true for a fixed window and for a
        rolling one whose reset is its newest charge's expiry; with others spending, STOQ's ``429`` answers
        for the rest).
        """
        assert self.limit is not None
        at = max(start, self.reset_at or start)
        self.remaining, self.reset_at, self.observed_at = self.limit, None, at
        self._explained, self._returns_cache = True, []
        return at

    # ------------------------------------------------------------------ after a request

    def observe(
        self,
        headers: Mapping[str, str],
        *,
        sent_at: float | None = None,
        cost: int = 0,
        reserved: int | None = None,
    ) -> None:
        """Take the budget from a response's ``X-RateLimit-*`` headers (ignored when absent or malformed).

        :param sent_at: when the request that got this answer left.
        :param cost: the points this answered request was charged (0 for a refused one, a ``429``).
        :param reserved: the points :meth:`reserve` set aside for it (default: ``cost``).
        """
        limit = _number(_header(headers, "X-RateLimit-Limit"))
        remaining = _number(_header(headers, "X-RateLimit-Remaining"))
        reset = _number(_header(headers, "X-RateLimit-Reset"))
        with self._lock:
            self._in_flight = max(0, self._in_flight - (cost if reserved is None else reserved))
            now = self._clock()
            if sent_at is not None and cost > 0:
                self._record(_Charge(sent_at, now, cost, reset))
            if limit is None or remaining is None or limit <= 0:
                return
            self.limit = int(limit)
            self.remaining = max(0, min(int(remaining), int(limit)))
            self.reset_at, self.observed_at = reset, now
            self._learn(now)

    def release(self, cost: int) -> None:
        """A reserved request will not be sent (its client defers the wait instead): free its points."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - cost)

    def abandoned(self, cost: int, *, sent_at: float) -> None:
        """A request got no answer (timeout, dropped connection): it may have been charged."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - cost)
            now = self._clock()
            self._record(_Charge(sent_at, now, cost, None))
            if self.remaining is not None:
                self.remaining = max(0, self.remaining - cost)  # until an answer says otherwise

    def exhausted_for(self, seconds: float) -> None:
        """Record a 429: nothing may be sent for ``seconds``."""
        with self._lock:
            until = self._clock() + seconds
            self._not_before = max(self._not_before, until)

    def _record(self, charge: _Charge) -> None:
        self._own.append(charge)
        self._cum.append((self._cum[-1] if self._cum else 0) + charge.cost)
        if len(self._own) > 2 * OWN_CHARGES_KEPT:
            del self._own[:-OWN_CHARGES_KEPT], self._cum[:-OWN_CHARGES_KEPT]

    def _learn(self, now: float) -> None:
        """Whether own charges explain the points in use; if so, bound the window from the oldest of them."""
        assert self.limit is not None and self.remaining is not None
        in_use = self.limit - self.remaining
        kept = self._cum[-1] - self._cum[0] + self._own[0].cost if self._own else 0
        self._explained = kept >= in_use
        self._learned_at = now
        self._returns_cache = None
        if not self._explained or in_use == 0:
            self._explained_from = len(self._own)
            return
        # The fewest newest charges whose points cover the points in use (bisection on the running total).
        first = bisect.bisect_right(self._cum, self._cum[-1] - in_use)
        self._explained_from = first
        if self.reset_at is not None:
            # The oldest charge in the window was sent at or after this one: one window after it was charged is
            # at least the latest reset (rolling windows), so this bounds the window from above.
            bound = self.reset_at - self._own[first].sent
            if bound > 0 and (self.window_at_most is None or bound < self.window_at_most):
                self.window_at_most = bound

    def _returns(self) -> list[tuple[float, int]]:
        """``(leaves by, points)`` of own charges in the window at the latest answer, sorted by time."""
        if self._returns_cache is not None:
            return self._returns_cache
        assert self.limit is not None and self.remaining is not None
        in_use = self.limit - self.remaining
        if self._explained:
            in_window = self._own[self._explained_from :]
            overshoot = sum(c.cost for c in in_window) - in_use
            if in_window and overshoot > 0:
                # The oldest of them is only partly in the window (or not at all): count no more than is in use.
                oldest, *rest = in_window
                in_window = [_Charge(oldest.sent, oldest.answered, oldest.cost - overshoot, oldest.reset), *rest]
        else:
            # Others share the store: count only own charges whose own reset proves them still in the window. At
            # most `limit` charges can be in it (each costs a point or more), so the newest `limit` suffice.
            reset = self.reset_at
            rounding = 0.0 if reset is None else (1.0 if float(reset).is_integer() else 0.001)
            newest = self._own[-self.limit :] if self.limit else []
            in_window = [c for c in newest if c.reset is not None and c.reset - rounding > self._learned_at]
        self._returns_cache = sorted((self._leaves_by(charge), charge.cost) for charge in in_window)
        return self._returns_cache

    def _leaves_by(self, charge: _Charge) -> float:
        """When ``charge`` has surely left the window, under every reading of the reset."""
        latest = charge.reset if charge.reset is not None else charge.answered
        if self.window_at_most is not None:
            latest = max(latest, charge.answered + self.window_at_most)
        elif charge.reset is None:
            latest = max(latest, self.reset_at or latest)
        return latest


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

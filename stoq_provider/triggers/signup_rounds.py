"""The poll rounds of :class:`~stoq_provider.triggers.demand.StoqDemandEventTrigger`: one listing per round.

On Airflow 3.3+ one :func:`poll_rounds` serves every watcher of a connection in a triggerer (the shared
stream); before, each watcher runs its own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from stoq_provider.api.contract import is_pending
from stoq_provider.restock.signups import SignupRound, slim, window_start

if TYPE_CHECKING:
    from stoq_provider.hooks.stoq_async import StoqAsyncHook

_log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(timezone.utc)


async def poll_rounds(stoq_conn_id: str, poke_interval: float, log: Any = None) -> AsyncIterator[SignupRound]:
    """Yield a :class:`SignupRound` every ``poke_interval`` seconds, forever; a failed round is logged and skipped.

    After an authentication or configuration error the connection is read again on the next round, so a
    fixed key takes effect without restarting anything. The HTTP client is closed when the rounds end.
    """
    from stoq_provider import metrics
    from stoq_provider.exceptions import StoqAuthError, StoqConfigError, StoqError
    from stoq_provider.hooks.stoq_async import StoqAsyncHook

    logger = log or _log
    hook: StoqAsyncHook | None = None
    previous: datetime | None = None
    failures = 0
    try:
        while True:
            started = time.monotonic()
            now = utcnow()
            since = window_start(now, previous, poke_interval)
            if hook is None:
                hook = StoqAsyncHook(stoq_conn_id=stoq_conn_id)
            try:
                intents = await _unsent_since(hook, since)
            except StoqError as exc:
                metrics.incr("stoq.watcher.failed_rounds")
                failures += 1
                message = hook.redact(str(exc))
                if isinstance(exc, (StoqAuthError, StoqConfigError)):
                    logger.error("STOQ signups: round failed (%d in a row), fix the connection: %s", failures, message)
                    await hook.aclose()
                    hook = None  # read the connection again next round
                else:
                    logger.warning("STOQ signups: round failed (%d in a row), trying again: %s", failures, message)
            except Exception:  # a bug or an answer nobody foresaw: keep watching, loudly
                metrics.incr("stoq.watcher.failed_rounds")
                failures += 1
                logger.exception("STOQ signups: round failed (%d in a row) unexpectedly.", failures)
            else:
                metrics.incr("stoq.watcher.rounds")
                failures, previous = 0, now
                yield SignupRound(
                    polled_at=now,
                    since=since,
                    intents=intents,
                    count_waiting=_waiting_counter(hook),
                    list_since=functools.partial(_unsent_since, hook),
                )
            await asyncio.sleep(max(0.0, poke_interval - (time.monotonic() - started)))
    finally:
        if hook is not None:
            await hook.aclose()


async def _unsent_since(hook: StoqAsyncHook, day: str) -> list[dict[str, Any]]:
    """The store's unsent signups created on or after ``day`` (every page, checked for completeness)."""
    return [slim(intent) async for intent in hook.list_intents(start_date=day, notified=False)]


def _waiting_counter(hook: StoqAsyncHook) -> Callable[[int, tuple[str, ...]], Awaitable[int]]:
    """``count_waiting(variant, types)`` for one round: each variant listed once, whoever asks."""
    lock = asyncio.Lock()
    counted: dict[tuple[int, tuple[str, ...]], int] = {}

    async def count_waiting(variant: int, types: Sequence[str]) -> int:
        key = (variant, tuple(types))
        async with lock:
            if key not in counted:
                listing = hook.list_intents(shopify_variant_id=variant, notified=False)
                counted[key] = sum([1 async for intent in listing if is_pending(intent, key[1])])
            return counted[key]

    return count_waiting

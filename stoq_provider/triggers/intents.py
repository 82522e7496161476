"""A trigger that waits, in the triggerer, until customers are waiting on the given variants or products."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from stoq_provider.hooks.stoq_async import StoqAsyncHook


class StoqPendingIntentsTrigger(BaseTrigger):
    """Poll STOQ until at least ``min_pending`` pending, subscribed intents match, then fire one JSON event.

    Polls with :class:`~stoq_provider.hooks.stoq_async.StoqAsyncHook` (httpx): the same pacing, ``429`` waits
    and read retries as the sync hook; it never blocks the triggerer's event loop. Each poll is a
    :func:`stoq_provider.restock.waiting.check_waiting`: a ``products_in_demand`` bound first (shared with the
    other triggers of the store in this triggerer), then listings only where the bound leaves the threshold
    possible, stopping as soon as it is met. It fires exactly one event:

    * ``{"status": "success", "pending": {"<variant id>": n, ...}, "total": n}`` once ``min_pending`` customers
      wait (the counts found until then: ``total >= min_pending``);
    * ``{"status": "error", "message": "..."}`` on an error that waiting will not fix (bad key, bad connection,
      an answer it cannot read) or once the transport has given up retrying a transient failure;
    * ``{"status": "timeout", "message": "...", "pending": {...}, "total": n}`` when ``end_time`` passes first.

    ``end_time`` (a UNIX timestamp) makes the trigger end on its own, so it stops spending the store's rate
    budget even where nothing else times it out (``dag.test()`` and ``airflow dags test`` run triggers inline
    and ignore the deferral timeout). The sensor sets it to the end of its ``timeout``.

    Messages never contain the API key or customer contact data. The HTTP client is closed when the trigger
    ends, fires, or is cancelled.

    :param stoq_conn_id: the STOQ connection.
    :param shopify_variant_ids: Shopify variants to watch (give this or ``shopify_product_ids``).
    :param shopify_product_ids: Shopify products to watch (counts are still reported per variant).
    :param min_pending: waiting intents needed to fire.
    :param intent_types: intent types that count (``restock``, ``wishlist_reminder``).
    :param poke_interval: seconds between polls.
    :param end_time: UNIX time after which the trigger stops polling and fires a ``timeout`` event (``None``:
        poll until demand appears or Airflow's deferral timeout cancels it).

    Usage (from an operator's ``execute``)::

        self.defer(
            trigger=StoqPendingIntentsTrigger(shopify_variant_ids=[40000000001], min_pending=1, poke_interval=60),
            method_name="execute_complete",
        )
    """

    def __init__(
        self,
        *,
        stoq_conn_id: str = "stoq_default",
        shopify_variant_ids: Sequence[int] | None = None,
        shopify_product_ids: Sequence[int] | None = None,
        min_pending: int = 1,
        intent_types: Sequence[str] = ("restock",),
        poke_interval: float = 60.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()
        self.stoq_conn_id = stoq_conn_id
        self.shopify_variant_ids = [int(v) for v in shopify_variant_ids] if shopify_variant_ids else None
        self.shopify_product_ids = [int(p) for p in shopify_product_ids] if shopify_product_ids else None
        self.min_pending = int(min_pending)
        self.intent_types = [intent_types] if isinstance(intent_types, str) else list(intent_types)
        self.poke_interval = float(poke_interval)
        self.end_time = float(end_time) if end_time is not None else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The classpath and JSON-only keyword arguments that rebuild this trigger in the triggerer."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "stoq_conn_id": self.stoq_conn_id,
                "shopify_variant_ids": self.shopify_variant_ids,
                "shopify_product_ids": self.shopify_product_ids,
                "min_pending": self.min_pending,
                "intent_types": self.intent_types,
                "poke_interval": self.poke_interval,
                "end_time": self.end_time,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll every ``poke_interval`` seconds; yield one success or error event, then stop."""
        from stoq_provider import metrics
        from stoq_provider.exceptions import StoqError
        from stoq_provider.hooks.stoq_async import StoqAsyncHook
        from stoq_provider.restock.waiting import arun_check, check_waiting, describe

        hook = StoqAsyncHook(stoq_conn_id=self.stoq_conn_id)
        try:
            if not self.shopify_variant_ids and not self.shopify_product_ids:
                yield self._error("the trigger was given no shopify_variant_ids or shopify_product_ids")
                return
            slept = self.poke_interval
            while True:
                try:
                    check = check_waiting(
                        self.shopify_variant_ids, self.shopify_product_ids, self.min_pending, self.intent_types
                    )
                    # Triggers of one store share a products_in_demand read for up to half the time since
                    # their last look, so each look sees the store as it was at most half a pause before.
                    metrics.incr("stoq.trigger.polls")
                    result = await arun_check(hook, check, max_age=slept / 2)
                except StoqError as exc:
                    yield self._error(self._safe(str(exc), hook))
                    return
                except Exception as exc:  # anything else is a bug or an unexpected answer: end the wait
                    self.log.exception("Unexpected error while checking STOQ for waiting customers.")
                    yield self._error(f"unexpected {type(exc).__name__} while checking STOQ (see the triggerer log)")
                    return
                counts = {"pending": result["pending"], "total": result["total"]}
                if result["met"]:
                    yield TriggerEvent({"status": "success", **counts})
                    return
                left = None if self.end_time is None else self.end_time - time.time()
                if left is not None and left <= 0:
                    message = f"{describe(result)} when the wait ended (need {self.min_pending})"
                    yield TriggerEvent({"status": "timeout", "message": message, **counts})
                    return
                pause = self.poke_interval if left is None else min(self.poke_interval, left)
                self.log.info("%s (need %d); next check in %.1f s.", describe(result), self.min_pending, pause)
                await asyncio.sleep(pause)
                slept = pause
        finally:
            await hook.aclose()

    @staticmethod
    def _error(message: str) -> TriggerEvent:
        return TriggerEvent({"status": "error", "message": message})

    @staticmethod
    def _safe(message: str, hook: StoqAsyncHook) -> str:
        """Belt and braces: the provider's messages carry no secrets, but never let one out of the trigger."""
        return hook.redact(message)

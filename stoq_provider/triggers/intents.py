"""A trigger that waits, in the triggerer, until customers are waiting on the given variants or products."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class StoqPendingIntentsTrigger(BaseTrigger):
    """Poll STOQ until at least ``min_pending`` pending, subscribed intents match; fire one JSON event.

    Uses :class:`~stoq_provider.hooks.stoq_async.StoqAsyncHook` (httpx): the same pacing, 429 handling and
    read retries as the sync hook, and it never blocks the triggerer's event loop. Events:
    ``{"status": "success", "pending": {variant: n}, "total": n}`` or ``{"status": "error", "message": ...}``.

    :param stoq_conn_id: the STOQ connection.
    :param shopify_variant_ids: variants to watch (or ``shopify_product_ids``).
    :param shopify_product_ids: products to watch.
    :param min_pending: waiting intents needed to fire.
    :param intent_types: intent types that count.
    :param poke_interval: seconds between polls.

    Usage::

        self.defer(trigger=StoqPendingIntentsTrigger(shopify_variant_ids=[40000000001]), method_name="done")
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
    ) -> None:
        super().__init__()
        self.stoq_conn_id = stoq_conn_id
        self.shopify_variant_ids = list(shopify_variant_ids) if shopify_variant_ids else None
        self.shopify_product_ids = list(shopify_product_ids) if shopify_product_ids else None
        self.min_pending = min_pending
        self.intent_types = list(intent_types)
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "stoq_conn_id": self.stoq_conn_id,
                "shopify_variant_ids": self.shopify_variant_ids,
                "shopify_product_ids": self.shopify_product_ids,
                "min_pending": self.min_pending,
                "intent_types": self.intent_types,
                "poke_interval": self.poke_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from stoq_provider.exceptions import StoqError
        from stoq_provider.hooks.stoq_async import StoqAsyncHook

        hook = StoqAsyncHook(stoq_conn_id=self.stoq_conn_id)
        try:
            while True:
                try:
                    pending = await self._count(hook)
                except StoqError as exc:
                    yield TriggerEvent({"status": "error", "message": str(exc)})
                    return
                total = sum(pending.values())
                if total >= self.min_pending:
                    yield TriggerEvent({"status": "success", "pending": pending, "total": total})
                    return
                self.log.info(
                    "%d customers waiting (need %d); next check in %.0f s.", total, self.min_pending, self.poke_interval
                )
                await asyncio.sleep(self.poke_interval)
        finally:
            await hook.aclose()

    async def _count(self, hook: Any) -> dict[str, int]:
        from stoq_provider.utils.demand import count_waiting

        counts: dict[str, int] = {str(v): 0 for v in self.shopify_variant_ids or []}
        selectors = [("shopify_variant_id", v) for v in self.shopify_variant_ids or []] + [
            ("shopify_product_id", p) for p in self.shopify_product_ids or []
        ]
        for name, value in selectors:
            intents = [intent async for intent in hook.list_intents(**{name: value, "notified": False})]
            for variant, n in count_waiting(intents, self.intent_types).items():
                counts[variant] = counts.get(variant, 0) + n
        return counts

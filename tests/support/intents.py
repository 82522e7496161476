"""Intents and trigger runs the tests build on: expected counts from the sandbox's own dump, new intents, and
driving a trigger to its end as the triggerer would."""

from __future__ import annotations

import asyncio

from stoq_provider.restock.demand import count_pending

NEW_VARIANT = 48888888888
NEW_PRODUCT = 8888888888


def pending_in_sandbox(server, *, variants=None, product=None, types=("restock",)):
    """The expected counts, computed from the sandbox's own dump of every intent."""
    chosen = [
        i
        for i in server.intents()
        if (variants is not None and i["shopify_variant_id"] in variants)
        or (product is not None and i["shopify_product_id"] == product)
    ]
    return count_pending(chosen, types, variant_ids=variants or ())


def new_intents(n, *, variant=NEW_VARIANT, kind="restock", **fields):
    base = {
        "shopify_variant_id": variant,
        "shopify_product_id": NEW_PRODUCT,
        "type": kind,
        "notified_at": None,
        "unsubscribed_at": None,
        "customer_unsubscribed_at": None,
        "blocked_at": None,
    }
    return [{**base, **fields} for _ in range(n)]


def all_events(trigger, timeout=20.0):
    """Drive ``trigger.run()`` to its end, as the triggerer would, and return every payload."""

    async def drain():
        return [event.payload async for event in trigger.run()]

    return asyncio.run(asyncio.wait_for(drain(), timeout))


def seeded_variants(server, n):
    return sorted({i["shopify_variant_id"] for i in server.intents()})[:n]

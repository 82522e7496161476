"""Waiting for demand without spending the budget: the sensor's poke and the trigger's poll, against the sandbox.

Points are the sandbox's own count of what it charged. The targets are issue 12's: a threshold already met costs
a bound and a page, nobody waiting costs the bound alone, and the triggers of one store in one triggerer share
the bound. What counts as waiting never changes: opted-out and other-type signups never count, under every
shape of ``products_in_demand`` the sandbox can serve.
"""

from __future__ import annotations

import asyncio

import pytest

from stoq_provider.sensors.intents import StoqPendingIntentsSensor
from stoq_provider.triggers.intents import StoqPendingIntentsTrigger
from tests.support.helpers import points
from tests.support.intents import all_events, new_intents


def _poke(**kwargs):
    return StoqPendingIntentsSensor(task_id="wait", **kwargs).poke({})


def _variants(server, n):
    return [v["shopify_variant_id"] for v in server.catalog()[:n]]


def test_a_threshold_already_met_costs_the_bound_and_one_page(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    stoq_sandbox.reset(seed=2, intents=40_000, variants=20, pending_only=True)
    variants = _variants(stoq_sandbox, 20)
    done = _poke(shopify_variant_ids=variants, min_pending=1)
    assert done.is_done and done.xcom_value["total"] >= 1
    assert points(stoq_sandbox) <= 3  # it used to list all 80 pages
    stoq_sandbox.reset(seed=2, intents=40_000, variants=20, pending_only=True)
    events = all_events(StoqPendingIntentsTrigger(shopify_variant_ids=variants, min_pending=1, poke_interval=0.1))
    assert [e["status"] for e in events] == ["success"] and points(stoq_sandbox) <= 3


def test_nobody_waiting_costs_the_bound_alone(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    stoq_sandbox.reset(seed=2, intents=0, variants=40)
    variants = _variants(stoq_sandbox, 20)
    result = _poke(shopify_variant_ids=variants, min_pending=1)
    assert not result.is_done and points(stoq_sandbox) <= 1


def test_the_triggers_of_one_store_share_the_bound(stoq_sandbox, set_stoq_connection):
    """50 triggers, 4 of 200 watched variants each, nobody waiting: one round costs at most 2 points in all."""
    set_stoq_connection()
    stoq_sandbox.reset(seed=2, intents=0, variants=200)
    variants = _variants(stoq_sandbox, 200)
    triggers = [
        StoqPendingIntentsTrigger(shopify_variant_ids=variants[4 * k : 4 * k + 4], min_pending=1, poke_interval=30)
        for k in range(50)
    ]

    async def one_round():
        runs = [trigger.run().__aiter__() for trigger in triggers]
        waits = [asyncio.ensure_future(run.__anext__()) for run in runs]
        await asyncio.sleep(1.0)  # every trigger has polled once and sleeps until its next round
        assert not any(wait.done() for wait in waits)  # nobody waits: no event
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        for run in runs:
            await run.aclose()

    asyncio.run(one_round())
    assert points(stoq_sandbox) <= 2


@pytest.mark.parametrize("shape", ["documented", "other-key", "no-pending"])
def test_what_counts_never_changes_whatever_the_demand_report_looks_like(stoq_sandbox, set_stoq_connection, shape):
    set_stoq_connection()
    stoq_sandbox.reset(seed=2, intents=0, variants=10, demand_shape=shape)
    entry = stoq_sandbox.catalog()[0]
    variant, product = entry["shopify_variant_id"], entry["shopify_product_id"]
    opted_out = new_intents(3, variant=variant, shopify_product_id=product, blocked_at="2026-01-01T00:00:00Z")
    other_type = new_intents(3, variant=variant, shopify_product_id=product, kind="wishlist_reminder")
    stoq_sandbox.add_intents(opted_out + other_type)
    # Six signups unsent: the bound allows 2, but none of them is a customer an alert may reach.
    assert not _poke(shopify_variant_ids=[variant], min_pending=2).is_done
    stoq_sandbox.add_intents(new_intents(2, variant=variant, shopify_product_id=product))
    done = _poke(shopify_variant_ids=[variant], min_pending=2)
    assert done.is_done and done.xcom_value == {"pending": {str(variant): 2}, "total": 2}
    events = all_events(StoqPendingIntentsTrigger(shopify_variant_ids=[variant], min_pending=2, poke_interval=0.1))
    assert events == [{"status": "success", "pending": {str(variant): 2}, "total": 2}]

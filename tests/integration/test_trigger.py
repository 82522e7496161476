"""StoqPendingIntentsTrigger and StoqAsyncHook against the sandbox, over real HTTP, in a real event loop."""

from __future__ import annotations

import asyncio
import importlib
import json
import time

import pytest

from stoq_provider.hooks.stoq_async import StoqAsyncHook
from stoq_provider.triggers.intents import StoqPendingIntentsTrigger
from tests.support.helpers import calls
from tests.support.intents import NEW_VARIANT, all_events, new_intents, pending_in_sandbox, seeded_variants

# ---------------------------------------------------------------------------------------------- serialization


def test_serialize_round_trips_through_json_and_the_classpath():
    trigger = StoqPendingIntentsTrigger(
        stoq_conn_id="stoq_shop",
        shopify_variant_ids=[40000000001, "40000000002"],
        min_pending=3,
        intent_types=("restock", "wishlist_reminder"),
        poke_interval=7,
        end_time=1_900_000_000.5,
    )
    path, kwargs = trigger.serialize()
    assert path == "stoq_provider.triggers.intents.StoqPendingIntentsTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs, "kwargs must be plain JSON"
    assert kwargs == {
        "stoq_conn_id": "stoq_shop",
        "shopify_variant_ids": [40000000001, 40000000002],
        "shopify_product_ids": None,
        "min_pending": 3,
        "intent_types": ["restock", "wishlist_reminder"],
        "poke_interval": 7.0,
        "end_time": 1_900_000_000.5,
    }
    module, name = path.rsplit(".", 1)
    again = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert again.serialize() == (path, kwargs)


def test_serialize_survives_airflows_own_trigger_serde():
    from tests.support.airflow_compat import deserialize, serialize

    trigger = StoqPendingIntentsTrigger(shopify_product_ids=[8000000001], poke_interval=0.5)
    path, kwargs = trigger.serialize()
    rebuilt = StoqPendingIntentsTrigger(**deserialize(serialize(kwargs)))
    assert rebuilt.serialize() == (path, kwargs)


# ---------------------------------------------------------------------------------------------- success


def test_fires_once_with_per_variant_counts(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    variants = seeded_variants(stoq_sandbox, 3)
    expected = pending_in_sandbox(stoq_sandbox, variants=variants)
    total = sum(expected.values())
    assert total > 0
    events = all_events(StoqPendingIntentsTrigger(shopify_variant_ids=variants, min_pending=total, poke_interval=0.1))
    assert events == [{"status": "success", "pending": expected, "total": total}]
    assert calls(stoq_sandbox, "list_intents") == len(variants), "one request per variant, one poll"


def test_variant_without_demand_is_reported_with_zero(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    variant = seeded_variants(stoq_sandbox, 1)[0]
    [event] = all_events(StoqPendingIntentsTrigger(shopify_variant_ids=[variant, NEW_VARIANT], poke_interval=0.1))
    assert event["pending"][str(NEW_VARIANT)] == 0
    assert event["total"] == event["pending"][str(variant)] > 0


def test_product_selector_counts_per_variant(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    product = stoq_sandbox.intents()[0]["shopify_product_id"]
    expected = {k: v for k, v in pending_in_sandbox(stoq_sandbox, product=product).items() if v}
    total = sum(expected.values())
    trigger = StoqPendingIntentsTrigger(shopify_product_ids=[product], min_pending=total, poke_interval=0.1)
    [event] = all_events(trigger)
    assert event == {"status": "success", "pending": expected, "total": total}
    assert calls(stoq_sandbox, "list_intents") == 1


def test_counts_only_the_requested_intent_types(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    stoq_sandbox.add_intents(
        new_intents(2, kind="wishlist_reminder")
        + new_intents(1)
        + new_intents(1, blocked_at="2026-01-02T00:00:00Z")
        + new_intents(1, customer_unsubscribed_at="2026-01-02T00:00:00Z")
    )
    # Five signups unsent, one a customer waiting for a restock: a threshold of 2 is never met.
    restock = StoqPendingIntentsTrigger(
        shopify_variant_ids=[NEW_VARIANT], min_pending=2, poke_interval=0.1, end_time=time.time() + 0.5
    )
    [ended] = all_events(restock)
    both = StoqPendingIntentsTrigger(
        shopify_variant_ids=[NEW_VARIANT],
        min_pending=3,
        intent_types=["restock", "wishlist_reminder"],
        poke_interval=0.1,
    )
    [met] = all_events(both)
    assert (ended["status"], ended["total"]) == ("timeout", 1) and (met["status"], met["total"]) == ("success", 3)


def test_keeps_polling_until_demand_appears(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    trigger = StoqPendingIntentsTrigger(shopify_variant_ids=[NEW_VARIANT], min_pending=3, poke_interval=0.2)

    async def scenario():
        waiting = asyncio.ensure_future(anext(trigger.run()))
        await asyncio.sleep(0.7)
        assert not waiting.done(), "nobody waits yet: the trigger must keep polling"
        polls_before = calls(stoq_sandbox, "products_in_demand")  # nobody waits: the bound alone answers
        await asyncio.to_thread(stoq_sandbox.add_intents, new_intents(2))
        await asyncio.sleep(0.5)
        assert not waiting.done(), "2 < min_pending: still waiting"
        await asyncio.to_thread(stoq_sandbox.add_intents, new_intents(1))
        event = await asyncio.wait_for(waiting, 10)
        return polls_before, event.payload

    polls_before, payload = asyncio.run(scenario())
    assert polls_before >= 3, "it polled several times before the intents appeared"
    assert payload == {"status": "success", "pending": {str(NEW_VARIANT): 3}, "total": 3}


def test_end_time_ends_the_wait_with_one_timeout_event_and_stops_polling(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    started = time.time()
    trigger = StoqPendingIntentsTrigger(
        shopify_variant_ids=[NEW_VARIANT], min_pending=1, poke_interval=30, end_time=started + 1.0
    )
    events = all_events(trigger)
    took = time.time() - started
    assert events == [
        {
            "status": "timeout",
            "message": "0 customers waiting when the wait ended (need 1)",
            "pending": {str(NEW_VARIANT): 0},
            "total": 0,
        }
    ]
    assert took < 10, "it slept only until end_time, not a whole poke_interval"
    assert calls(stoq_sandbox, "products_in_demand") == 2, "one poll at the start, one last look at end_time"


# ---------------------------------------------------------------------------------------------- errors


def test_bad_key_gives_one_error_event_without_the_key(stoq_sandbox, monkeypatch):
    bad_key = "stoq_api_key_" + "w" * 32
    payload = {"conn_type": "stoq", "host": stoq_sandbox.base_url, "password": bad_key, "extra": {"max_retries": 2}}
    monkeypatch.setenv("AIRFLOW_CONN_STOQ_DEFAULT", json.dumps(payload))
    events = all_events(StoqPendingIntentsTrigger(shopify_variant_ids=[NEW_VARIANT], poke_interval=0.1))
    assert len(events) == 1 and events[0]["status"] == "error"
    message = events[0]["message"]
    assert "401" in message and bad_key not in message and "w" * 32 not in message
    assert calls(stoq_sandbox, status=401) == 1, "a 401 is not retried"


def test_missing_connection_gives_an_error_event_and_no_request(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    [event] = all_events(StoqPendingIntentsTrigger(stoq_conn_id="stoq_nowhere", shopify_variant_ids=[NEW_VARIANT]))
    assert event["status"] == "error" and "stoq_nowhere" in event["message"] and "does not exist" in event["message"]
    assert calls(stoq_sandbox) == 0


def test_transient_faults_are_retried_by_the_transport(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(timeout=0.5)
    stoq_sandbox.set_faults(script=["error500", "html502", "drop"], endpoints=["list_intents"])
    variant = seeded_variants(stoq_sandbox, 1)[0]
    expected = pending_in_sandbox(stoq_sandbox, variants=[variant])
    trigger = StoqPendingIntentsTrigger(
        shopify_variant_ids=[variant], min_pending=expected[str(variant)], poke_interval=0.1
    )
    [event] = all_events(trigger)
    assert event == {"status": "success", "pending": expected, "total": expected[str(variant)]}
    assert stoq_sandbox.stats()["faults_by_endpoint"]["list_intents"] == {"error500": 1, "html502": 1, "drop": 1}
    assert calls(stoq_sandbox, "list_intents") == 1, "then one answered request"


def test_outage_longer_than_the_retries_gives_an_error_event(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(max_retries=3, retry_max_time=2)
    stoq_sandbox.outage(seconds=30, kind="error500")
    try:
        [event] = all_events(StoqPendingIntentsTrigger(shopify_variant_ids=[NEW_VARIANT], poke_interval=0.1))
    finally:
        stoq_sandbox.outage(seconds=0)
    assert event["status"] == "error" and "500" in event["message"]
    faults = stoq_sandbox.stats()["faults_by_endpoint"]
    assert faults["products_in_demand"] == {"error500": 3}, "3 attempts of the first request, then the event"


# ---------------------------------------------------------------------------------------------- event loop


def test_never_blocks_the_event_loop(stoq_sandbox, set_stoq_connection):
    """Two triggers share one loop; one meets a 1.5 s slow answer while the other fires and the loop ticks."""
    set_stoq_connection(timeout=5)
    slow_variant, fast_variant = seeded_variants(stoq_sandbox, 2)
    stoq_sandbox.set_faults(script=["slow"], slow_seconds=1.5, endpoints=["list_intents"])

    async def scenario():
        gaps, last = [], time.monotonic()

        async def heartbeat():
            nonlocal last
            while True:
                await asyncio.sleep(0.02)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        beat = asyncio.create_task(heartbeat())
        slow = asyncio.ensure_future(anext(StoqPendingIntentsTrigger(shopify_variant_ids=[slow_variant]).run()))
        await asyncio.sleep(0.2)  # the slow trigger's request is now being held by the sandbox
        started = time.monotonic()
        fast = await anext(StoqPendingIntentsTrigger(shopify_variant_ids=[fast_variant]).run())
        fast_took = time.monotonic() - started
        assert not slow.done(), "the slow answer is still pending"
        slow_event = await asyncio.wait_for(slow, 10)
        beat.cancel()
        return fast.payload, fast_took, slow_event.payload, gaps

    fast, fast_took, slow, gaps = asyncio.run(scenario())
    assert fast["status"] == slow["status"] == "success"
    assert fast_took < 1.0, "the second trigger did not wait for the first one's slow answer"
    assert max(gaps) < 0.5, f"the loop stalled for {max(gaps):.2f} s"
    assert len(gaps) > 50, "the heartbeat kept ticking during the slow request"


def test_cancellation_closes_the_http_client(stoq_sandbox, set_stoq_connection, monkeypatch):
    set_stoq_connection()
    closed = []
    original = StoqAsyncHook.aclose

    async def spy(self):
        closed.append(self._transport is not None and not self._transport.client.is_closed)
        await original(self)

    monkeypatch.setattr(StoqAsyncHook, "aclose", spy)

    async def scenario():
        waiting = asyncio.ensure_future(
            anext(StoqPendingIntentsTrigger(shopify_variant_ids=[NEW_VARIANT], poke_interval=0.1).run())
        )
        await asyncio.sleep(0.5)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(scenario())
    assert closed == [True], "the open client was closed once, on cancellation"
    assert calls(stoq_sandbox, "products_in_demand") >= 2


def test_async_hook_pages_like_the_sync_hook(stoq_sandbox, hook):
    stoq_sandbox.reset(seed=0, intents=1200, variants=2, budget=360, window=60.0, max_bulk=None)
    product = stoq_sandbox.intents()[0]["shopify_product_id"]

    async def listing():
        async_hook = StoqAsyncHook()
        try:
            return [i["id"] async for i in async_hook.list_intents(shopify_product_id=product)]
        finally:
            await async_hook.aclose()

    via_async = asyncio.run(listing())
    async_pages = calls(stoq_sandbox, "list_intents")
    via_sync = [i["id"] for i in hook.list_intents(shopify_product_id=product)]
    assert via_async == via_sync and len(via_async) > 500
    assert async_pages == calls(stoq_sandbox, "list_intents") - async_pages >= 2


@pytest.mark.parametrize(
    ("filters", "match"),
    [({"shopify_variant_id": "abc"}, "shopify_variant_id"), ({"notified": "no"}, "notified")],
)
def test_async_hook_validates_before_any_request(stoq_sandbox, set_stoq_connection, filters, match):
    from stoq_provider.exceptions import StoqConfigError

    set_stoq_connection()

    async def first():
        hook = StoqAsyncHook()
        try:
            return await anext(hook.list_intents(**filters))
        finally:
            await hook.aclose()

    with pytest.raises(StoqConfigError, match=match):
        asyncio.run(first())
    assert calls(stoq_sandbox) == 0

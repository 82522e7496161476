"""The variance matrix: the provider's core paths under every reading of STOQ's docs the sandbox can serve.

STOQ's docs leave open the largest page, whether ``per_page`` is honoured, the largest bulk notify (and whether
a proxy refuses it with 413), what ``X-RateLimit-Reset`` means, the wording of refusals and the body of a
``201``. Each path below runs over real HTTP against the sandbox serving each reading, and proves exactly once
(the sandbox's ledger), none lost (against the sandbox's own dump of the intents) and no 429 for a lone client.
"""

from __future__ import annotations

import asyncio

import pytest

from stoq_provider.api.contract import is_pending
from stoq_provider.exceptions import StoqProtocolError
from stoq_provider.hooks.stoq import StoqHook
from stoq_provider.hooks.stoq_async import StoqAsyncHook
from stoq_provider.operators.notify import StoqNotifyOperator
from stoq_provider.restock.alerts import fit_inventory
from stoq_provider.restock.demand import count_pending
from stoq_provider.sandbox.readings import RESET_READINGS
from stoq_provider.sensors.intents import StoqPendingIntentsSensor
from stoq_provider.triggers.intents import StoqPendingIntentsTrigger
from tests.support.helpers import calls
from tests.support.intents import all_events

pytestmark = pytest.mark.sandbox

#: Each reading the docs allow, as sandbox options (the sandbox's own reading first).
READINGS: dict[str, dict[str, object]] = {
    "as-sandbox": {},
    "pages-of-100": {"page_cap": 100},
    "pages-of-200-like-v2": {"page_cap": 200},
    "ignores-per-page-25": {"ignore_per_page": True, "page_cap": 25},
    "bulk-cap-100": {"max_bulk": 100},
    "bulk-cap-40-proxy-413": {"max_bulk": 40, "max_bulk_status": 413},
    "reset-fixed-window": {"reset_reading": "fixed"},
    "reset-rolling-oldest": {"reset_reading": "rolling-oldest"},
    "other-refusal-wording": {"refusals": "alternative"},
    "all-at-once": {
        "page_cap": 100,
        "max_bulk": 100,
        "reset_reading": "fixed",
        "refusals": "alternative",
        "create_shape": "bare",
    },
}
#: A sped-up budget (360 points per 2 s) so that pacing is real but runs stay short.
BUDGET, WINDOW = 360, 2.0


@pytest.fixture(params=list(READINGS), ids=list(READINGS))
def reading(request, stoq_sandbox, set_stoq_connection):
    """The sandbox serving one reading: 600 intents over 4 variants (2 products)."""
    stoq_sandbox.reset(seed=9, intents=600, variants=4, budget=BUDGET, window=WINDOW, **READINGS[request.param])
    set_stoq_connection()
    yield stoq_sandbox
    assert stoq_sandbox.stats()["rate_limited"] == 0, "a lone client was refused with 429"
    assert stoq_sandbox.ledger()["duplicates"] == []


def _eligible(server, *, variants=None, products=None):
    return [
        i
        for i in server.intents()
        if (variants is None or i["shopify_variant_id"] in variants)
        and (products is None or i["shopify_product_id"] in products)
        and is_pending(i)
    ]


def _variants(server):
    return sorted({i["shopify_variant_id"] for i in server.intents()})


def _run(**kwargs):
    class TI:
        def xcom_push(self, key, value):
            pass

    return StoqNotifyOperator(task_id="notify", **kwargs).execute({"ti": TI()})


def test_paged_lists_list_everything_once(reading):
    intents = reading.intents()
    listed = [i["id"] for i in StoqHook().list_intents()]
    assert sorted(listed) == sorted(i["id"] for i in intents) and len(set(listed)) == len(listed)
    variant = _variants(reading)[0]
    pending = [i["id"] for i in intents if i["shopify_variant_id"] == variant and i["notified_at"] is None]
    assert [i["id"] for i in StoqHook().list_intents(shopify_variant_id=variant, notified=False)] == pending

    async def alist():
        hook = StoqAsyncHook()
        try:
            return [i["id"] async for i in hook.list_intents(shopify_variant_id=variant, notified=False)]
        finally:
            await hook.aclose()

    assert asyncio.run(alist()) == pending


def test_notify_by_intent_ids_counts_without_depending_on_wording(reading):
    intents = reading.intents()
    eligible = [i["id"] for i in intents if is_pending(i)][:150]
    already = [i["id"] for i in intents if i["notified_at"] is not None][:10]
    opted_out = [i["id"] for i in intents if i["notified_at"] is None and i["unsubscribed_at"]][:3]
    assert len(eligible) == 150 and len(already) == 10 and opted_out
    summary = _run(intent_ids=eligible + already + opted_out, on_partial_failure="warn")
    assert reading.ledger()["sends"] == dict.fromkeys(eligible, 1)
    assert (summary["notified"], summary["already_notified"], summary["failed"]) == (150, 10, len(opted_out))
    assert {f["intent_id"] for f in summary["failures"]} == set(opted_out)


def test_notify_by_variants_alerts_every_waiting_customer_once(reading):
    variants = _variants(reading)
    expected = {i["id"] for i in _eligible(reading, variants=variants)}
    summary = _run(shopify_variant_ids=variants)
    assert set(reading.ledger()["sends"]) == expected and reading.ledger()["total_sends"] == len(expected)
    assert summary["notified"] == len(expected) and summary["failed"] == 0


def test_notify_by_products_alerts_every_waiting_customer_once(reading):
    products = sorted({i["shopify_product_id"] for i in reading.intents()})
    expected = {i["id"] for i in _eligible(reading, products=products)}
    summary = _run(shopify_product_ids=products)
    assert set(reading.ledger()["sends"]) == expected and reading.ledger()["total_sends"] == len(expected)
    assert summary["notified"] == len(expected)


def test_notify_by_inventory_follows_the_inventory_rule(reading):
    variants = _variants(reading)[:2]
    inventory = dict.fromkeys(variants, 40)
    expected: set[str] = set()
    for variant in variants:
        chosen, _ = fit_inventory(_eligible(reading, variants=[variant]), 40)
        expected |= {i["id"] for i in chosen}
    summary = _run(inventory=inventory)
    assert set(reading.ledger()["sends"]) == expected and reading.ledger()["total_sends"] == len(expected)
    assert summary["held_back"] > 0


def test_sensor_poke_counts_every_waiting_customer(reading):
    """A threshold of exactly everyone waiting is met (every page counted) and one more is not."""
    variants = _variants(reading)
    expected = count_pending(reading.intents(), variant_ids=variants)
    total = sum(expected.values())
    met = StoqPendingIntentsSensor(task_id="wait", shopify_variant_ids=variants, min_pending=total).poke({})
    assert met.is_done and met.xcom_value == {"pending": expected, "total": total}
    short = StoqPendingIntentsSensor(task_id="wait", shopify_variant_ids=variants, min_pending=total + 1).poke({})
    assert not short.is_done and short.xcom_value == {"pending": expected, "total": total}


def test_trigger_counts_every_waiting_customer(reading):
    variants = _variants(reading)
    expected = count_pending(reading.intents(), variant_ids=variants)
    total = sum(expected.values())
    trigger = StoqPendingIntentsTrigger(shopify_variant_ids=variants, min_pending=total, poke_interval=0.1)
    [event] = all_events(trigger)
    assert event == {"status": "success", "pending": expected, "total": total}


def test_products_in_demand_lists_every_variant(reading):
    intents = reading.intents()
    items = list(StoqHook().products_in_demand())
    assert sorted(item["shopify_variant_id"] for item in items) == _variants(reading)
    for item in items:
        mine = [i for i in intents if i["shopify_variant_id"] == item["shopify_variant_id"]]
        assert (item["total"], item["pending"]) == (len(mine), sum(1 for i in mine if i["notified_at"] is None))


def test_chaos_exactly_once(reading, set_stoq_connection):
    set_stoq_connection(max_retries=8, retry_max_time=60)
    reading.set_faults(
        rate=0.25,
        kinds=["error500", "html502", "drop", "lost"],
        endpoints=["bulk_notify", "list_intents", "get_intent"],
        seed=3,
    )
    variants = _variants(reading)
    expected = {i["id"] for i in _eligible(reading, variants=variants)}
    _run(shopify_variant_ids=variants, batch_size=60)
    reading.clear_faults()
    assert set(reading.ledger()["sends"]) == expected and reading.ledger()["total_sends"] == len(expected)
    assert sum(reading.stats()["faults"].values()) > 0


# ---------------------------------------------------------------------------------------------- acceptance


@pytest.mark.parametrize("reset_reading", RESET_READINGS)
def test_a_lone_task_on_a_tight_budget_never_meets_a_429(stoq_sandbox, set_stoq_connection, reset_reading):
    """12 points per 3 s, 2,200 intents, 100 a page: about 28 points, so the task must pace over windows."""
    stoq_sandbox.reset(
        seed=31,
        intents=2200,
        variants=4,
        pending_only=True,
        budget=12,
        window=3.0,
        page_cap=100,
        reset_reading=reset_reading,
    )
    set_stoq_connection(max_rate_limit_wait=30)
    variants = _variants(stoq_sandbox)
    summary = _run(shopify_variant_ids=variants)
    stats = stoq_sandbox.stats()
    assert stats["rate_limited"] == 0
    assert summary["notified"] == stoq_sandbox.ledger()["total_sends"] == 2200
    assert stats["points_charged"] > 12 * 2  # it really spanned several windows


def test_page_cap_of_100_alerts_every_waiting_customer_once(stoq_sandbox, set_stoq_connection):
    """The reported silent loss: 990 waiting, 100 a page; every one is alerted, once."""
    stoq_sandbox.reset(seed=2, intents=990, variants=1, pending_only=True, page_cap=100)
    set_stoq_connection()
    summary = _run(shopify_variant_ids=_variants(stoq_sandbox))
    assert summary["notified"] == stoq_sandbox.ledger()["total_sends"] == 990
    assert calls(stoq_sandbox, "list_intents") == 10


def test_a_listing_short_of_its_own_count_fails_the_task_with_one_clear_line(stoq_sandbox, set_stoq_connection):
    stoq_sandbox.reset(seed=2, intents=300, variants=1, pending_only=True, page_cap=100, count_extra=7)
    set_stoq_connection()
    with pytest.raises(StoqProtocolError) as info:
        _run(shopify_variant_ids=_variants(stoq_sandbox))
    message = str(info.value)
    assert "\n" not in message and "list_intents" in message and "300 distinct" in message and "307" in message
    assert stoq_sandbox.ledger()["total_sends"] == 0, "nothing is sent from a listing known to be short"


def test_bulk_cap_is_learned_once_and_reported(stoq_sandbox, set_stoq_connection, capsys):
    stoq_sandbox.reset(seed=2, intents=1000, variants=2, pending_only=True, max_bulk=100)
    set_stoq_connection()
    summary = _run(shopify_variant_ids=_variants(stoq_sandbox))
    assert summary["notified"] == stoq_sandbox.ledger()["total_sends"] == 1000
    requests = stoq_sandbox.stats()["requests"]["bulk_notify"]
    assert requests == {"400": 1, "200": 10}, "one refused call, then batches of the size STOQ named"
    out = capsys.readouterr().out
    assert out.count("batch_size=100") == 1 and "STOQ refused a bulk notify of 1000 intent IDs" in out


@pytest.mark.parametrize("kind", ["lost", "drop"])  # applied then the answer lost / not applied at all
@pytest.mark.parametrize("page_cap", [500, 100])
def test_a_lost_answer_costs_a_few_pages_to_settle_not_one_read_per_intent(
    stoq_sandbox, set_stoq_connection, page_cap, kind
):
    """A batch of B intents whose answer is lost costs at most the pages of its stretch of the listing + 2 reads
    (⌈B / page⌉ + 2 when no skipped intents are interleaved), wherever it sits."""
    import math

    # One variant, 3,000 signups with skipped ones (opted out, other type, already sent) interleaved; the lost
    # answers are of batches in the middle of the variant's listing, so the read-back starts at a later page.
    stoq_sandbox.reset(seed=8, intents=3000, variants=1, page_cap=page_cap)
    set_stoq_connection()
    (variant,) = _variants(stoq_sandbox)
    expected = {i["id"] for i in _eligible(stoq_sandbox)}
    pending = sum(1 for i in stoq_sandbox.intents() if i["notified_at"] is None)
    stoq_sandbox.set_faults(script=["none", "none", kind, "none", kind], endpoints=["bulk_notify"])
    summary = _run(shopify_variant_ids=[variant], batch_size=400)
    ledger = stoq_sandbox.ledger()
    assert set(ledger["sends"]) == expected and ledger["total_sends"] == len(expected) == summary["notified"]
    assert stoq_sandbox.stats()["faults"] == {kind: 2}
    read_back = calls(stoq_sandbox, "list_intents") - math.ceil(pending / page_cap)
    stretch = 400 * pending / len(expected)  # the listing's items around a batch of 400, skipped ones included
    assert 0 < read_back <= 2 * (math.ceil(stretch / page_cap) + 2)
    assert calls(stoq_sandbox, "get_intent") == 0

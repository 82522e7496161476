"""A deferrable notify's legs (pure logic): what the next leg does, and the one summary of all of them."""

from __future__ import annotations

from stoq_provider.restock.alerts import RestockRequest
from stoq_provider.restock.legs import can_defer, merge, resume


def leg(**fields):
    base = {
        "selector": "shopify_variant_ids",
        "dry_run": False,
        "requested": 0,
        "notified": 0,
        "already_notified": 0,
        "skipped": 0,
        "held_back": 0,
        "failed": 0,
        "read_backs": 0,
        "per_variant": {},
        "failures": [],
        "failures_truncated": False,
    }
    return {**base, **fields}


def test_only_a_run_that_sends_and_never_resends_may_defer():
    assert can_defer(RestockRequest(selector="shopify_variant_ids", variant_ids=(1,)))
    assert not can_defer(RestockRequest(selector="shopify_variant_ids", variant_ids=(1,), allow_resend=True))
    assert not can_defer(RestockRequest(selector="shopify_variant_ids", variant_ids=(1,), dry_run=True))


def test_the_next_leg_of_intent_ids_drops_those_handled_and_ends_when_none_is_left():
    request = RestockRequest(selector="intent_ids", intent_ids=("a", "b", "c"))
    assert resume(request, []) is request
    assert resume(request, [leg(handled_ids=["a"]), leg(handled_ids=["c"])]).intent_ids == ("b",)
    assert resume(request, [leg(handled_ids=["a", "b", "c"])]) is None


def test_the_next_leg_of_an_inventory_has_the_units_left():
    request = RestockRequest(selector="inventory", inventory={1: 10, 2: 3})
    first = leg(per_variant={"1": {"units_sent": 4}, "2": {"units_sent": 3}})
    assert resume(request, [first]).inventory == {1: 6}
    assert resume(request, [first, leg(per_variant={"1": {"units_sent": 6}})]) is None


def test_variants_are_listed_again_pending_only():
    request = RestockRequest(selector="shopify_variant_ids", variant_ids=(1, 2))
    assert resume(request, [leg(notified=5)]) is request


def test_one_summary_adds_the_outcomes_and_keeps_the_first_selection():
    row = {"pending": 10, "eligible": 8, "skipped": 2, "held_back": 0, "notified": 5, "already_notified": 0}
    first = leg(
        requested=8, notified=5, skipped=2, read_backs=1, per_variant={"1": {**row, "failed": 0, "units_sent": 5}}
    )
    first.update(deferred=True, deferred_for=12.5, handled_ids=["x"])
    later_row = {**row, "pending": 3, "eligible": 3, "skipped": 2, "notified": 2, "failed": 1, "units_sent": 2}
    second = leg(requested=3, notified=2, failed=1, skipped=2, per_variant={"1": later_row})
    second["failures"] = [{"intent_id": "z", "error": "blocked"}]
    merged = merge([first, second])
    assert (merged["requested"], merged["notified"], merged["failed"], merged["skipped"]) == (8, 7, 1, 2)
    assert merged["read_backs"] == 1 and merged["failures"] == [{"intent_id": "z", "error": "blocked"}]
    assert merged["per_variant"]["1"]["pending"] == 10 and merged["per_variant"]["1"]["notified"] == 7
    assert merged["per_variant"]["1"]["units_sent"] == 7
    assert (merged["legs"], merged["deferrals"], merged["deferred_seconds"]) == (2, 1, 12.5)
    assert not {"deferred", "deferred_for", "handled_ids", "selected"} & set(merged)


def test_a_leg_that_stopped_while_selecting_does_not_count_as_the_selection():
    stopped = {"selected": False, "requested": 0, "per_variant": {}, "deferred": True, "deferred_for": 3.0}
    merged = merge([stopped, leg(requested=4, notified=4, skipped=1)])
    assert merged["requested"] == 4 and merged["skipped"] == 1 and merged["deferrals"] == 1

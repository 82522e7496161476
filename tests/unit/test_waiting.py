"""The waiting check without I/O: what it asks for, when it stops, and that opted-out signups never count."""

from __future__ import annotations

from typing import Any

from stoq_provider.restock.waiting import NeedBounds, NeedIntent, bounds_from, check_waiting, describe

V1, V2, P1 = 40000000001, 40000000002, 8000000001


def _intent(variant: int, n: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"{variant}-{n}", "shopify_variant_id": variant, "type": "restock", "notified_at": None, **fields}


def _drive(check, bounds, listings) -> tuple[dict[str, Any], list[Any]]:
    """Answer the check's needs from ``bounds`` and per-query lists; return its result and what it asked."""
    asked: list[Any] = []
    cursors: dict[Any, int] = {}
    reply: Any = None
    while True:
        try:
            need = check.send(reply)
        except StopIteration as done:
            return done.value, asked
        asked.append(need)
        if isinstance(need, NeedBounds):
            reply = bounds
        else:
            assert isinstance(need, NeedIntent)
            items = listings[dict(need.query).get("shopify_variant_id") or dict(need.query)["shopify_product_id"]]
            position = cursors.get(need.query, 0)
            cursors[need.query] = position + 1
            reply = items[position] if position < len(items) else None


def test_a_bound_below_the_threshold_rules_it_out_without_listing():
    check = check_waiting([V1, V2], None, 5, ["restock"])
    result, asked = _drive(check, {V1: (P1, 2), V2: (P1, 1)}, {})
    assert asked == [NeedBounds()]
    assert result == {"pending": {str(V1): 2, str(V2): 1}, "total": 3, "met": False, "exact": False}
    assert describe(result) == "at most 3 customers waiting"


def test_listing_stops_once_the_threshold_is_met_most_promising_variant_first():
    listings = {V1: [_intent(V1, n) for n in range(3)], V2: [_intent(V2, n) for n in range(2000)]}
    check = check_waiting([V1, V2], None, 2, ["restock"])
    result, asked = _drive(check, {V1: (P1, 3), V2: (P1, 2000)}, listings)
    assert [dict(n.query)["shopify_variant_id"] for n in asked if isinstance(n, NeedIntent)] == [V2, V2]
    assert result == {"pending": {str(V1): 0, str(V2): 2}, "total": 2, "met": True, "exact": False}
    assert describe(result) == "at least 2 customers waiting"


def test_opted_out_and_other_types_never_count_even_when_the_bound_allows():
    blocked = [_intent(V1, n, blocked_at="2026-01-01T00:00:00Z") for n in range(3)]
    other = [_intent(V1, 10 + n, type="wishlist_reminder") for n in range(3)]
    check = check_waiting([V1], None, 1, ["restock"])
    result, _ = _drive(check, {V1: (P1, 6)}, {V1: blocked + other})
    assert result == {"pending": {str(V1): 0}, "total": 0, "met": False, "exact": True}


def test_without_usable_bounds_it_lists_every_query():
    listings = {V1: [], V2: [_intent(V2, 0)]}
    result, asked = _drive(check_waiting([V1, V2], None, 1, ["restock"]), None, listings)
    assert sum(isinstance(n, NeedIntent) for n in asked) == 2 and result["met"] is True


def test_a_product_is_bounded_by_its_variants_and_unknown_owners_disable_the_bound():
    result, asked = _drive(check_waiting(None, [P1], 3, ["restock"]), {V1: (P1, 1), V2: (P1, 1)}, {})
    assert asked == [NeedBounds()] and result["total"] == 2 and not result["met"]
    listings = {P1: [_intent(V1, 0), _intent(V2, 0), _intent(V2, 1)]}
    result, asked = _drive(check_waiting(None, [P1], 3, ["restock"]), {V1: (None, 1), V2: (P1, 1)}, listings)
    assert result["met"] and sum(isinstance(n, NeedIntent) for n in asked) == 3


def test_bounds_from_reads_the_documented_items_and_refuses_other_shapes():
    items = [
        {"shopify_variant_id": V1, "shopify_product_id": P1, "pending": 4, "total": 9},
        {"shopify_variant_id": str(V2), "shopify_product_id": None, "pending": "0"},
    ]
    assert bounds_from(items) == {V1: (P1, 4), V2: (None, 0)}
    assert bounds_from([{"variant_id": V1, "pending": 3}]) is None
    assert bounds_from([{"shopify_variant_id": V1, "pending_count": 3}]) is None
    assert bounds_from([{"shopify_variant_id": V1, "pending": -1}]) is None
    assert bounds_from([]) == {}

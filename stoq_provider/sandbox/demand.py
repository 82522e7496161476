"""The ``products_in_demand`` report: signups grouped by variant."""

from __future__ import annotations

from typing import Any

from stoq_provider.sandbox.state import SandboxState
from stoq_provider.sandbox.timeutil import local_day


def products_in_demand(state: SandboxState, *, start_day: str | None, end_day: str | None) -> list[dict[str, Any]]:
    """One item per variant with signups created between the two days (inclusive, ``YYYY-MM-DD``).

    ``total`` counts every signup, ``pending`` those not yet notified. Items are ordered by
    ``total`` (highest first), then by variant id.
    """
    groups: dict[int, list[Any]] = {}  # variant id -> [product id, total, pending, last created_at]
    for intent in state.store.ordered():
        day = local_day(intent["created_at"], state.reading.day_zone_hours)
        if (start_day is not None and day < start_day) or (end_day is not None and day > end_day):
            continue
        group = groups.get(intent["shopify_variant_id"])
        if group is None:
            group = groups[intent["shopify_variant_id"]] = [intent["shopify_product_id"], 0, 0, None]
        group[1] += 1
        if intent["notified_at"] is None:
            group[2] += 1
        group[3] = intent["created_at"]  # the store is ordered by created_at
    items = []
    for variant_id, (product_id, total, pending, last) in sorted(groups.items(), key=lambda kv: (-kv[1][1], kv[0])):
        variant = state.catalog.get(variant_id)
        items.append(
            {
                "shopify_variant_id": variant_id,
                "shopify_product_id": product_id,
                "shopify_inventory_item_id": variant.shopify_inventory_item_id if variant else None,
                "total": total,
                "pending": pending,
                "last_requested_at": last,
                "product_data": state.catalog.product_data(product_id),
            }
        )
    return items

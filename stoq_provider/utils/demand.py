"""Waiting demand: which intents count as a customer still waiting for an alert."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Fields that, when set, mean the customer must not be alerted.
OPTED_OUT = ("unsubscribed_at", "customer_unsubscribed_at", "blocked_at")


def is_waiting(intent: Mapping[str, Any], intent_types: Iterable[str] = ("restock",)) -> bool:
    """True for a pending (never notified), subscribed, unblocked intent of one of ``intent_types``."""
    if intent.get("type", "restock") not in tuple(intent_types):
        return False
    return not intent.get("notified_at") and not any(intent.get(name) for name in OPTED_OUT)


def count_waiting(intents: Iterable[Mapping[str, Any]], intent_types: Iterable[str] = ("restock",)) -> dict[str, int]:
    """Waiting intents per Shopify variant ID (as a string key, so the result is plain JSON)."""
    types = tuple(intent_types)
    counts: dict[str, int] = {}
    for intent in intents:
        if is_waiting(intent, types):
            key = str(intent.get("shopify_variant_id"))
            counts[key] = counts.get(key, 0) + 1
    return counts

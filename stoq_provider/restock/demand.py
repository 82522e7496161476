"""Waiting demand: which intents count as a customer still waiting for a restock alert, per variant.

Pure functions, shared by :class:`~stoq_provider.sensors.intents.StoqPendingIntentsSensor` (``poke``) and
:class:`~stoq_provider.triggers.intents.StoqPendingIntentsTrigger` (``run``), so both count the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stoq_provider.api.contract import OPTED_OUT

#: Intent types STOQ documents.
INTENT_TYPES = ("restock", "wishlist_reminder")
#: Intent types that count by default.
DEFAULT_INTENT_TYPES = ("restock",)


def is_pending(intent: Mapping[str, Any], intent_types: Iterable[str] = DEFAULT_INTENT_TYPES) -> bool:
    """True for a never-notified, subscribed, unblocked intent whose ``type`` is one of ``intent_types``.

    An intent without a ``type`` field (older API answers) is a ``restock`` intent.
    """
    if intent.get("type", "restock") not in tuple(intent_types):
        return False
    return not intent.get("notified_at") and not any(intent.get(name) for name in OPTED_OUT)


def count_pending(
    intents: Iterable[Mapping[str, Any]],
    intent_types: Iterable[str] = DEFAULT_INTENT_TYPES,
    *,
    variant_ids: Iterable[int | str] = (),
    counts: dict[str, int] | None = None,
) -> dict[str, int]:
    """Pending intents per Shopify variant ID; keys are strings so the result is plain JSON.

    :param intents: intents as STOQ returns them (any iterable, consumed once).
    :param intent_types: intent types that count.
    :param variant_ids: variants to report even when nobody waits on them (count ``0``).
    :param counts: add to this dict (and return it) instead of a new one, to count page by page.
    """
    types = tuple(intent_types)
    result = {} if counts is None else counts
    for variant in variant_ids:
        result.setdefault(str(variant), 0)
    for intent in intents:
        if is_pending(intent, types):
            key = str(intent.get("shopify_variant_id"))
            result[key] = result.get(key, 0) + 1
    return result


def pending_queries(
    variant_ids: Sequence[int] | None = None, product_ids: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """The ``list_intents`` filters to send: one per variant, or one per product, unsent intents only."""
    return [{"shopify_variant_id": v, "notified": False} for v in variant_ids or ()] + [
        {"shopify_product_id": p, "notified": False} for p in product_ids or ()
    ]


def summary(counts: Mapping[str, int]) -> dict[str, Any]:
    """``{"pending": {variant: n}, "total": n}``: the sensor's XCom value and the trigger's event body."""
    pending = {str(variant): int(n) for variant, n in counts.items()}
    return {"pending": pending, "total": sum(pending.values())}


def intent_types_arg(value: Any) -> tuple[str, ...]:
    """Validate an ``intent_types`` argument: one type or a list of them, each a documented STOQ type."""
    from stoq_provider.exceptions import StoqConfigError

    items = [value] if isinstance(value, str) else value
    if isinstance(items, Mapping) or not isinstance(items, Iterable):
        raise StoqConfigError(f"intent_types must be a list of intent types {INTENT_TYPES}, got {value!r}.")
    types = tuple(dict.fromkeys(items))
    unknown = [t for t in types if t not in INTENT_TYPES]
    if not types or unknown:
        raise StoqConfigError(f"intent_types must name one or more of {', '.join(INTENT_TYPES)}; got {list(types)!r}.")
    return types

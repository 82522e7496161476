"""Waiting demand: how many customers wait per variant (who counts: :func:`stoq_provider.api.contract.is_pending`).

Pure functions, shared by :class:`~stoq_provider.sensors.intents.StoqPendingIntentsSensor` (``poke``) and
:class:`~stoq_provider.triggers.intents.StoqPendingIntentsTrigger` (``run``), so both count the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stoq_provider.api import validation
from stoq_provider.api.contract import DEFAULT_INTENT_TYPES, is_pending


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
    return validation.intent_types(value)

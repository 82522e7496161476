"""Intents added by tests through the admin API: partial field dictionaries, completed with fakes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from pydantic import ValidationError

from stoq_provider.sandbox.errors import ApiError, describe_validation_errors
from stoq_provider.sandbox.models import Intent
from stoq_provider.sandbox.seeding import make_intent
from stoq_provider.sandbox.state import SandboxState
from stoq_provider.sandbox.store import INTENT_FIELDS, INTENT_TIME_FIELDS, IntentRecord
from stoq_provider.sandbox.timeutil import normalize_iso


def _variant_for(state: SandboxState, fields: Mapping[str, Any]) -> Any:
    variant_id = fields.get("shopify_variant_id")
    product_id = fields.get("shopify_product_id")
    if variant_id is None:
        variant = state.catalog.first()
        if variant is None:
            raise ApiError.of(400, "shopify_variant_id is required (the catalog is empty)")
        return variant
    if not isinstance(variant_id, int) or (product_id is not None and not isinstance(product_id, int)):
        raise ApiError.of(400, "shopify_variant_id and shopify_product_id must be integers")
    known = state.catalog.get(variant_id)
    if known is not None and product_id is None:
        return known
    if product_id is None:
        raise ApiError.of(400, f"shopify_product_id is required for the unknown variant {variant_id}")
    try:
        return state.catalog.ensure(variant_id, product_id)
    except ValueError as exc:
        raise ApiError.of(400, str(exc)) from None


def build_intent(state: SandboxState, fields: Mapping[str, Any]) -> IntentRecord:
    """A complete intent: ``fields`` as given, everything else a fresh pending intent's values.

    Raises ``ApiError`` (400) for unknown fields, a taken id, or values of the wrong type.
    """
    unknown = sorted(set(fields) - set(INTENT_FIELDS))
    if unknown:
        raise ApiError.of(400, f"Unknown intent field(s): {', '.join(unknown)}")
    variant = _variant_for(state, fields)
    record: dict[str, Any] = dict(
        make_intent(
            state.rng, variant=variant, customer=state.new_customer(), shop_id=state.shop_id, created_ts=state.now()
        )
    )
    record["id"] = state.new_id()
    record.update(fields)
    for name in INTENT_TIME_FIELDS:
        if isinstance(record[name], str):
            try:
                record[name] = normalize_iso(record[name])
            except ValueError:
                raise ApiError.of(400, f"{name} is not an ISO 8601 date-time") from None
    if record["notified_at"] is not None:
        for counter in ("sent_notifications_count", "notifications_count"):
            if counter not in fields:
                record[counter] = max(1, record[counter])
    if "updated_at" not in fields:
        record["updated_at"] = max(value for name in INTENT_TIME_FIELDS if (value := record[name]) is not None)
    try:
        # The Intent model's fields are IntentRecord's (derived from it).
        validated = cast("IntentRecord", Intent.model_validate(record).model_dump())
    except ValidationError as exc:
        raise ApiError.of(400, describe_validation_errors(exc.errors())) from None
    if validated["id"] in state.store:
        raise ApiError.of(400, f"An intent with id {validated['id']!r} already exists")
    return validated


def add_intents(state: SandboxState, partials: Sequence[Mapping[str, Any]]) -> list[IntentRecord]:
    """Build every intent first (all or nothing), then add them."""
    built = [build_intent(state, fields) for fields in partials]
    ids = [intent["id"] for intent in built]
    if len(set(ids)) != len(ids):
        raise ApiError.of(400, "The same intent id is given twice")
    for intent in built:
        state.store.add(intent)
    return built

"""The STOQ operations on intents, independent of HTTP: notify, bulk notify, delete, transfer.

Each raises :class:`ApiError` with the contract's status code and body when it refuses.
"""

from __future__ import annotations

from collections.abc import Iterable

from stoq_provider.sandbox.constants import BULK_NOTIFY, NOTIFY_INTENT
from stoq_provider.sandbox.errors import ApiError
from stoq_provider.sandbox.readings import REFUSALS_ALTERNATIVE
from stoq_provider.sandbox.state import SandboxState
from stoq_provider.sandbox.store import IntentRecord
from stoq_provider.sandbox.timeutil import iso_from_timestamp

NOT_FOUND = "Not found"
ALREADY_NOTIFIED = "Intent has already been notified"
BLOCKED = "Intent is blocked and cannot be notified"
UNSUBSCRIBED = "Intent has been unsubscribed and cannot be notified"
CUSTOMER_UNSUBSCRIBED = "Customer has unsubscribed and cannot be notified"
INTENT_NOT_FOUND = "Intent not found"
#: The same refusals in another wording (``Reading(refusals="alternative")``): a client must not need the text.
ALTERNATIVE_WORDING = {
    ALREADY_NOTIFIED: "Notification was previously delivered for this signup",
    BLOCKED: "Signup is restricted",
    UNSUBSCRIBED: "Recipient opted out",
    CUSTOMER_UNSUBSCRIBED: "Recipient opted out of all messages",
    INTENT_NOT_FOUND: "No such signup",
}


def worded(state: SandboxState, reason: str) -> str:
    """A refusal reason in the wording the sandbox's reading uses."""
    if state.reading.refusals == REFUSALS_ALTERNATIVE:
        return ALTERNATIVE_WORDING.get(reason, reason)
    return reason


def unique(ids: Iterable[str]) -> list[str]:
    """The ids without repeats, first occurrence first."""
    return list(dict.fromkeys(ids))


def refusal(intent: IntentRecord, allow_resend: bool) -> str | None:
    """Why ``intent`` cannot be notified now, or ``None`` if it can."""
    if intent["notified_at"] is not None and not allow_resend:
        return ALREADY_NOTIFIED
    if intent["blocked_at"] is not None:
        return BLOCKED
    if intent["unsubscribed_at"] is not None:
        return UNSUBSCRIBED
    if intent["customer_unsubscribed_at"] is not None:
        return CUSTOMER_UNSUBSCRIBED
    return None


def _send(state: SandboxState, intent: IntentRecord, *, allow_resend: bool, endpoint: str) -> None:
    now = state.now()
    stamp = iso_from_timestamp(now)
    intent["notified_at"] = stamp
    intent["updated_at"] = stamp
    intent["sent_notifications_count"] += 1
    intent["notifications_count"] += 1
    state.store.changed()
    state.ledger.record(intent["id"], time=now, allow_resend=allow_resend, endpoint=endpoint)


def notify(state: SandboxState, intent_id: str, *, allow_resend: bool) -> None:
    """``POST /intents/notify_intent``: 404 unknown, 422 refused, else sent."""
    intent = state.store.get(intent_id)
    if intent is None:
        raise ApiError.of(404, NOT_FOUND)
    reason = refusal(intent, allow_resend)
    if reason is not None:
        raise ApiError.of(422, worded(state, reason))
    _send(state, intent, allow_resend=allow_resend, endpoint=NOTIFY_INTENT)


def bulk_notify(
    state: SandboxState, intent_ids: list[str], *, allow_resend: bool
) -> tuple[list[str], list[dict[str, str]]]:
    """``POST /intents/bulk_notify_intent``: returns ``(success ids, failed entries)``.

    A repeated id is handled once. More ids than the reading's ``max_bulk`` are refused (400, or a proxy's
    413 HTML page) and nothing is applied.
    """
    cap = state.max_bulk
    if cap is not None and len(intent_ids) > cap:
        if state.reading.max_bulk_status == 413:
            raise ApiError.html(413, "413 Request Entity Too Large")
        raise ApiError.of(400, f"at most {cap} intent_ids per request")
    success: list[str] = []
    failed: list[dict[str, str]] = []
    for intent_id in unique(intent_ids):
        intent = state.store.get(intent_id)
        reason = INTENT_NOT_FOUND if intent is None else refusal(intent, allow_resend)
        if intent is None or reason is not None:
            failed.append({"intent_id": intent_id, "error": worded(state, reason or INTENT_NOT_FOUND)})
            continue
        _send(state, intent, allow_resend=allow_resend, endpoint=BULK_NOTIFY)
        success.append(intent_id)
    return success, failed


def bulk_destroy(state: SandboxState, intent_ids: list[str]) -> int:
    """``DELETE /intents/bulk_destroy``: all or nothing; returns the number deleted."""
    existing = [intent for intent in map(state.store.get, unique(intent_ids)) if intent is not None]
    if not existing:
        raise ApiError.of(404, NOT_FOUND)
    sent = [intent["id"] for intent in existing if intent["notified_at"] is not None]
    if sent:
        raise ApiError.of(
            422,
            "Some intents have already been sent and cannot be deleted; nothing was deleted",
            sent_intent_ids=sent,
        )
    return state.store.remove(intent["id"] for intent in existing)


def transfer_signups(
    state: SandboxState,
    *,
    from_variant_id: int,
    from_product_id: int,
    to_variant_id: int,
    to_product_id: int,
    intent_type: str,
) -> int:
    """``POST /intents/transfer_signups``: move matching intents; returns how many moved."""
    if (from_variant_id, from_product_id) == (to_variant_id, to_product_id):
        raise ApiError.of(400, "The source and destination variants are the same")
    matching = [
        intent
        for intent in state.store.for_variant(from_variant_id)
        if intent["shopify_product_id"] == from_product_id
        and (intent_type == "all" or (intent_type == "sent") == (intent["notified_at"] is not None))
    ]
    if not matching:
        raise ApiError.of(
            422, f"No {intent_type} signups found for variant {from_variant_id} of product {from_product_id}"
        )
    known = state.catalog.get(to_variant_id)
    if known is not None and known.shopify_product_id != to_product_id:
        raise ApiError.of(422, f"Variant {to_variant_id} does not belong to product {to_product_id}")
    target = state.catalog.ensure(to_variant_id, to_product_id)
    stamp = iso_from_timestamp(state.now())
    return state.store.move(
        matching,
        variant_id=to_variant_id,
        product_id=to_product_id,
        shopify_inventory_item_id=target.shopify_inventory_item_id,
        product_variant_id=target.product_variant_id,
        updated_at=stamp,
    )

"""Builders of every STOQ v1 request, from already-validated values.

Shared by the hook and the trigger so both speak exactly the same contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from stoq_provider.utils.protocol import ApiRequest
from stoq_provider.utils.settings import MAX_PER_PAGE


def list_intents(filters: Mapping[str, Any], *, page: int, per_page: int = MAX_PER_PAGE) -> ApiRequest:
    """``GET /intents`` with the given filters (``None`` values dropped) and page."""
    params = {key: value for key, value in filters.items() if value is not None}
    if isinstance(params.get("notified"), bool):
        params["notified"] = "true" if params["notified"] else "false"
    params.update(page=page, per_page=per_page)
    return ApiRequest("GET", "intents", "list_intents", params=params)


def get_intent(intent_id: str) -> ApiRequest:
    """``GET /intents/{id}``."""
    return ApiRequest("GET", f"intents/{quote(intent_id, safe='')}", "get_intent")


def notify_intent(intent_id: str, *, allow_resend: bool) -> ApiRequest:
    """``POST /intents/notify_intent``."""
    return ApiRequest(
        "POST",
        "intents/notify_intent",
        "notify_intent",
        json_body={"id": intent_id, "allow_resend": allow_resend},
    )


def bulk_notify(intent_ids: Sequence[str], *, allow_resend: bool) -> ApiRequest:
    """``POST /intents/bulk_notify_intent``."""
    return ApiRequest(
        "POST",
        "intents/bulk_notify_intent",
        "bulk_notify_intents",
        json_body={"intent_ids": list(intent_ids), "allow_resend": allow_resend},
    )


def bulk_destroy(intent_ids: Sequence[str]) -> ApiRequest:
    """``DELETE /intents/bulk_destroy``."""
    return ApiRequest("DELETE", "intents/bulk_destroy", "delete_intents", json_body={"intent_ids": list(intent_ids)})


def transfer_signups(
    *, from_variant_id: int, from_product_id: int, to_variant_id: int, to_product_id: int, intent_type: str
) -> ApiRequest:
    """``POST /intents/transfer_signups`` (answers 200 with no content)."""
    return ApiRequest(
        "POST",
        "intents/transfer_signups",
        "transfer_signups",
        json_body={
            "from_shopify_variant_id": from_variant_id,
            "from_shopify_product_id": from_product_id,
            "to_shopify_variant_id": to_variant_id,
            "to_shopify_product_id": to_product_id,
            "intent_type": intent_type,
        },
        allow_empty=True,
    )


def products_in_demand(
    *, start_date: str | None, end_date: str | None, page: int, per_page: int = MAX_PER_PAGE
) -> ApiRequest:
    """``GET /intents/products_in_demand``."""
    params: dict[str, Any] = {"page": page, "per_page": per_page}
    if start_date:
        params["start_date"] = start_date
    if end_date:
        params["end_date"] = end_date
    return ApiRequest("GET", "intents/products_in_demand", "products_in_demand", params=params)


def create_intent(url: str, shop_domain: str, body: Mapping[str, Any]) -> ApiRequest:
    """The public storefront ``POST .../api/v1/intents.json``: shop-domain header, no API key."""
    return ApiRequest(
        "POST",
        url,
        "create_intent",
        json_body=dict(body),
        authenticated=False,
        headers={"X-Shopify-Shop-Domain": shop_domain, "Content-Type": "application/json"},
    )

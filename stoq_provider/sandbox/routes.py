"""The authenticated STOQ v1 endpoints under ``/api/v1/external``.

Authentication and the rate budget are enforced in front of the router (see :mod:`.guard`); the
``X-Auth-Token`` security dependency here only documents the scheme in ``/openapi.json``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Security
from fastapi.security import APIKeyHeader
from pydantic import WithJsonSchema
from starlette.responses import JSONResponse, Response

from stoq_provider.sandbox import demand, operations
from stoq_provider.sandbox.constants import (
    AUTH_HEADER,
    BULK_DESTROY,
    BULK_NOTIFY,
    DEFAULT_PER_PAGE,
    EXTERNAL_PREFIX,
    GET_INTENT,
    LARGEST_PAGE,
    LIST_INTENTS,
    NOTIFY_INTENT,
    PRODUCTS_IN_DEMAND,
    TRANSFER_SIGNUPS,
)
from stoq_provider.sandbox.deps import State
from stoq_provider.sandbox.errors import ApiError
from stoq_provider.sandbox.models import (
    BulkDestroyConflict,
    BulkDestroyRequest,
    BulkDestroyResponse,
    BulkNotifyRequest,
    BulkNotifyResponse,
    DemandPage,
    ErrorBody,
    Intent,
    IntentPage,
    NotifyRequest,
    NotifyResponse,
    RateLimitBody,
    TransferRequest,
)
from stoq_provider.sandbox.readings import DEMAND_NO_PENDING, DEMAND_OTHER_KEY
from stoq_provider.sandbox.state import SandboxState
from stoq_provider.sandbox.store import IntentFilter
from stoq_provider.sandbox.timeutil import parse_day

api_key_header = APIKeyHeader(name=AUTH_HEADER, auto_error=False, description="The store's STOQ API key")


DateParam = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD (inclusive, on creation date)"),
    WithJsonSchema({"type": "string", "format": "date"}),
]
#: Optional query filters: absent when not given (a query parameter is never ``null``).
IntFilter = Annotated[int | None, WithJsonSchema({"type": "integer"})]
StrFilter = Annotated[str | None, WithJsonSchema({"type": "string"})]
Page = Annotated[int, Query(ge=1, description="1-based page number")]
PerPage = Annotated[int, Query(ge=1, le=LARGEST_PAGE, description=f"items per page (at most {LARGEST_PAGE})")]
#: ``notified`` is a boolean in the contract; the sandbox accepts exactly ``true`` and ``false``.
NotifiedParam = Annotated[
    Literal["true", "false"] | None,
    Query(description="true: already notified; false: not yet"),
    WithJsonSchema({"type": "boolean"}),
]

#: The budget headers on every authenticated answer (a ``401`` is refused before the budget: none).
RATE_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "X-RateLimit-Limit": {
        "description": "The store's budget, in points per rolling window",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    "X-RateLimit-Remaining": {
        "description": "Points left in the current window",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "Unix time (seconds) when the window resets; 3 decimals for a sped-up sandbox window",
        "required": True,
        "schema": {"type": "number"},
    },
}
RETRY_AFTER_HEADER: dict[str, dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds until the request fits the budget again",
        "required": True,
        "schema": {"type": "number", "minimum": 0},
    },
}

_COMMON: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad request", "headers": RATE_LIMIT_HEADERS},
    401: {"model": ErrorBody, "description": "Missing or invalid API key"},
    429: {
        "model": RateLimitBody,
        "description": "Rate limit exceeded",
        "headers": {**RATE_LIMIT_HEADERS, **RETRY_AFTER_HEADER},
    },
}


def _responses(*extra: tuple[int, type | None, str]) -> dict[int | str, dict[str, Any]]:
    """The common responses plus ``(status, model, description)`` ones (model ``None``: no body)."""
    responses = dict(_COMMON)
    for status, model, description in extra:
        response: dict[str, Any] = {"description": description, "headers": RATE_LIMIT_HEADERS}
        if model is None:
            response["content"] = {}
        else:
            response["model"] = model
        responses[status] = response
    return responses


router = APIRouter(prefix=EXTERNAL_PREFIX, tags=["intents"], dependencies=[Security(api_key_header)])


def _days(start_date: str | None, end_date: str | None) -> tuple[str | None, str | None]:
    """Validate a date range; return it as ``YYYY-MM-DD`` strings."""
    for name, value in (("start_date", start_date), ("end_date", end_date)):
        if value is not None:
            try:
                parse_day(value)
            except ValueError:
                raise ApiError.of(400, f"{name} is not a valid date (expected YYYY-MM-DD)") from None
    if start_date is not None and end_date is not None and end_date < start_date:
        raise ApiError.of(400, "end_date must not be before start_date")
    return start_date, end_date


def _page(state: SandboxState, items: Sequence[Any], page: int, per_page: int) -> tuple[list[Any], dict[str, int]]:
    """One page of ``items`` and its ``meta``, at the page size the sandbox's reading serves.

    ``meta.per_page`` is the size served (``per_page`` capped by ``page_cap``, or ``page_cap`` whatever was
    asked when the reading ignores ``per_page``); ``total_count`` counts ``count_extra`` phantom items.
    """
    reading = state.reading
    size = reading.page_cap if reading.ignore_per_page else min(per_page, reading.page_cap)
    total = len(items) + reading.count_extra
    start = (page - 1) * size
    meta = {"total_count": total, "page": page, "per_page": size, "total_pages": math.ceil(total / size)}
    return list(items[start : start + size]), meta


@router.get("/intents", name=LIST_INTENTS, response_model=None, responses=_responses((200, IntentPage, "A page")))
async def list_intents(
    state: State,
    shopify_variant_id: IntFilter = None,
    shopify_product_id: IntFilter = None,
    email: StrFilter = None,
    phone: StrFilter = None,
    start_date: DateParam = None,
    end_date: DateParam = None,
    notified: NotifiedParam = None,
    page: Page = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
) -> JSONResponse:
    """List and filter intents, oldest first (``created_at``, then ``id``)."""
    start_day, end_day = _days(start_date, end_date)
    flt = IntentFilter(
        shopify_variant_id=shopify_variant_id,
        shopify_product_id=shopify_product_id,
        email=email,
        phone=phone,
        start_day=start_day,
        end_day=end_day,
        notified=None if notified is None else notified == "true",
        day_offset_hours=state.reading.day_zone_hours or None,
    )
    intents, meta = _page(state, state.store.query(flt), page, per_page)
    return JSONResponse({"intents": intents, "meta": meta})


@router.get(
    "/intents/products_in_demand",
    name=PRODUCTS_IN_DEMAND,
    response_model=None,
    responses=_responses((200, DemandPage, "A page of variants in demand")),
)
async def products_in_demand(
    state: State,
    start_date: DateParam = None,
    end_date: DateParam = None,
    page: Page = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
) -> JSONResponse:
    """Variants with signups, most requested first."""
    start_day, end_day = _days(start_date, end_date)
    report = state.store.memo(
        ("products_in_demand", start_day, end_day),
        lambda: demand.products_in_demand(state, start_day=start_day, end_day=end_day),
    )
    items, meta = _page(state, report, page, per_page)
    shape = state.reading.demand_shape
    if shape == DEMAND_NO_PENDING:
        items = [{("waiting" if k == "pending" else k): v for k, v in item.items()} for item in items]
    key = "variants" if shape == DEMAND_OTHER_KEY else "product_variants_in_demand"
    return JSONResponse({key: items, "has_next_page": page < meta["total_pages"], "meta": meta})


@router.post(
    "/intents/notify_intent",
    name=NOTIFY_INTENT,
    response_model=None,
    responses=_responses(
        (200, NotifyResponse, "Sent"),
        (404, ErrorBody, "Intent not found"),
        (422, ErrorBody, "Not sent (already notified, unsubscribed or blocked)"),
    ),
)
async def notify_intent(state: State, body: NotifyRequest) -> JSONResponse:
    """Send the back-in-stock notification of one intent."""
    operations.notify(state, body.id, allow_resend=body.allow_resend)
    return JSONResponse({"success": True, "intent_id": body.id})


@router.post(
    "/intents/bulk_notify_intent",
    name=BULK_NOTIFY,
    response_model=None,
    responses=_responses((200, BulkNotifyResponse, "All sent"), (207, BulkNotifyResponse, "Some not sent")),
)
async def bulk_notify_intent(state: State, body: BulkNotifyRequest) -> JSONResponse:
    """Send the notifications of many intents; ``207`` when any of them failed."""
    success, failed = operations.bulk_notify(state, body.intent_ids, allow_resend=body.allow_resend)
    return JSONResponse({"success": success, "failed": failed}, status_code=207 if failed else 200)


@router.delete(
    "/intents/bulk_destroy",
    name=BULK_DESTROY,
    response_model=None,
    responses=_responses(
        (200, BulkDestroyResponse, "Deleted"),
        (404, ErrorBody, "No valid intents"),
        (422, BulkDestroyConflict, "Some intents were already sent: nothing deleted"),
    ),
)
async def bulk_destroy(state: State, body: BulkDestroyRequest) -> JSONResponse:
    """Delete unsent intents, all or nothing."""
    deleted = operations.bulk_destroy(state, body.intent_ids)
    return JSONResponse({"success": True, "deleted_count": deleted})


@router.post(
    "/intents/transfer_signups",
    name=TRANSFER_SIGNUPS,
    response_class=Response,
    responses=_responses((200, None, "Transferred (empty body)"), (422, ErrorBody, "Transfer failed")),
)
async def transfer_signups(state: State, body: TransferRequest) -> Response:
    """Move signups from one variant to another."""
    operations.transfer_signups(
        state,
        from_variant_id=body.from_shopify_variant_id,
        from_product_id=body.from_shopify_product_id,
        to_variant_id=body.to_shopify_variant_id,
        to_product_id=body.to_shopify_product_id,
        intent_type=body.intent_type,
    )
    return Response(status_code=200)


# Declared after the fixed paths (``/intents/notify_intent`` ...), so that a wrong method on one of them
# answers 405 with that route's ``Allow`` rather than GET's (Starlette reports the first partial match).
@router.get(
    "/intents/{intent_id}",
    name=GET_INTENT,
    response_model=None,
    responses=_responses((200, Intent, "The intent"), (404, ErrorBody, "Intent not found")),
)
async def get_intent(
    state: State, intent_id: Annotated[str, Path(min_length=1, description="The intent ID")]
) -> JSONResponse:
    """One intent."""
    intent = state.store.get(intent_id)
    if intent is None:
        raise ApiError.of(404, operations.worded(state, operations.NOT_FOUND))
    return JSONResponse(intent)

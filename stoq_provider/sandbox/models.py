"""Pydantic models of the STOQ v1 request and response bodies, for validation and ``/openapi.json``.

Request bodies use strict types (a string id, a JSON boolean, JSON integers), as the contract says.
Responses are built as plain dictionaries for speed; the response models here document them.

Where the sandbox is more lenient than the contract (the storefront signup answers a missing or
malformed field with ``200 {"errors": [...]}`` rather than refusing the request), the ``WithJsonSchema``
annotations describe what the contract asks for; they change the document, never the validation.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, WithJsonSchema

from stoq_provider.sandbox.store import INTENT_TIME_FIELDS, IntentRecord

#: An ISO 8601 date-time (the sandbox writes ``YYYY-MM-DDTHH:MM:SSZ``, UTC).
DateTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
#: The intent types the contract lists.
INTENT_TYPES = ("restock", "wishlist_reminder")
#: The channels the storefront signup accepts.
SIGNUP_CHANNELS = ("email", "sms", "push")


def _contract(schema: dict[str, Any], description: str | None = None) -> WithJsonSchema:
    """Document a field as ``schema`` (what the contract requires) whatever the model accepts."""
    return WithJsonSchema({**schema, **({"description": description} if description else {})})


class _Body(BaseModel):
    """Base of request bodies: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


# -- shared ---------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    """``{"error": "<text>"}``."""

    error: str


class RateLimitBody(BaseModel):
    """The ``429`` body."""

    error: str
    retry_after: float
    message: str


class PageMeta(BaseModel):
    """Pagination metadata."""

    total_count: int
    page: int
    per_page: int
    total_pages: int


#: What the OpenAPI document says of some of the intent's fields (the fields themselves: ``IntentRecord``).
_INTENT_FIELD_DOCS = {
    "id": "The intent ID (UUID-like)",
    "channel": "e.g. email, sms, push",
    "notified_at": "null until the intent is sent",
}


def _intent_annotations() -> dict[str, Any]:
    """The Intent model's fields, derived from :class:`~stoq_provider.sandbox.store.IntentRecord` (declared
    once there): date-times documented as such, ``type`` as the contract's enum, some fields described."""
    fields: dict[str, Any] = {}
    for name, declared in get_type_hints(IntentRecord).items():
        hint: Any = declared
        if name in INTENT_TIME_FIELDS:
            hint = DateTime | None if type(None) in get_args(declared) else DateTime
        if name == "type":
            hint = Annotated[hint, _contract({"type": "string", "enum": list(INTENT_TYPES)})]
        if name in _INTENT_FIELD_DOCS:
            hint = Annotated[hint, Field(description=_INTENT_FIELD_DOCS[name])]
        fields[name] = hint
    return fields


class Intent(BaseModel):
    """One customer's request to be told when one variant is back in stock."""

    __annotations__ = _intent_annotations()


# -- authenticated endpoints ----------------------------------------------------------------------


class IntentPage(BaseModel):
    """``GET /intents``."""

    intents: list[Intent]
    meta: PageMeta


class NotifyRequest(_Body):
    """``POST /intents/notify_intent``."""

    id: StrictStr
    allow_resend: StrictBool = False


class NotifyResponse(BaseModel):
    """A sent notification."""

    success: bool
    intent_id: str


class BulkNotifyRequest(_Body):
    """``POST /intents/bulk_notify_intent``."""

    intent_ids: list[StrictStr] = Field(min_length=1)
    allow_resend: StrictBool = False


class BulkFailure(BaseModel):
    """One intent a bulk notify could not send."""

    intent_id: str
    error: str


class BulkNotifyResponse(BaseModel):
    """``200`` (all sent) or ``207`` (some failed)."""

    success: list[str]
    failed: list[BulkFailure]


class BulkDestroyRequest(_Body):
    """``DELETE /intents/bulk_destroy``."""

    intent_ids: list[StrictStr] = Field(min_length=1)


class BulkDestroyResponse(BaseModel):
    """Deleted intents."""

    success: bool
    deleted_count: int


class BulkDestroyConflict(BaseModel):
    """Nothing deleted because some intents were already sent."""

    error: str
    sent_intent_ids: list[str]


class TransferRequest(_Body):
    """``POST /intents/transfer_signups``."""

    from_shopify_variant_id: StrictInt
    from_shopify_product_id: StrictInt
    to_shopify_variant_id: StrictInt
    to_shopify_product_id: StrictInt
    intent_type: Literal["unsent", "sent", "all"] = "unsent"


class DemandVariant(BaseModel):
    """A variant listed in ``product_data``."""

    id: int
    title: str | None
    sku: str | None


class ProductData(BaseModel):
    """The product of a variant in demand."""

    id: int
    title: str | None
    vendor: str | None
    variants: list[DemandVariant]


class DemandItem(BaseModel):
    """One variant in demand."""

    shopify_variant_id: int
    shopify_product_id: int
    shopify_inventory_item_id: int | None
    total: int
    pending: int
    last_requested_at: DateTime | None
    product_data: ProductData


class DemandPage(BaseModel):
    """``GET /intents/products_in_demand``."""

    product_variants_in_demand: list[DemandItem]
    has_next_page: bool
    meta: PageMeta


# -- public create-intent endpoint ----------------------------------------------------------------


_REQUIRED_INTENT_FIELDS = ("shopify_variant_id", "shopify_product_id", "channel", "quantity", "source")


class IntentInput(_Body):
    """``intent`` of a signup. Missing fields are reported in a ``200 {"errors": [...]}``."""

    model_config = ConfigDict(json_schema_extra={"required": [*_REQUIRED_INTENT_FIELDS]})

    shopify_variant_id: Annotated[StrictInt | None, _contract({"type": "integer"})] = None
    shopify_product_id: Annotated[StrictInt | None, _contract({"type": "integer"})] = None
    shopify_market_id: StrictInt | None = None
    channel: Annotated[StrictStr | None, _contract({"type": "string", "enum": list(SIGNUP_CHANNELS)})] = None
    quantity: Annotated[StrictInt | None, _contract({"type": "integer", "minimum": 1})] = None
    source: Annotated[StrictStr | None, _contract({"type": "string"}, 'e.g. "api"')] = None


class CustomerInput(_Body):
    """``customer`` of a signup."""

    id: StrictStr | StrictInt | None = None
    name: StrictStr | None = None
    email: StrictStr | None = None
    phone: Annotated[
        StrictStr | None, _contract({"anyOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "null"}]})
    ] = Field(default=None, description="digits only, no +")
    push: StrictStr | None = None
    country_code: StrictStr | None = None
    country: StrictStr | None = None
    accepts_marketing: StrictBool | None = None
    locale: StrictStr | None = None
    shopify_market_id: StrictInt | None = None
    shopify_customer_id: StrictStr | StrictInt | None = None


class ProductInput(_Body):
    """``product`` of a signup (informational)."""

    variant_count: StrictInt | None = None
    title: StrictStr | None = None
    variant_title: StrictStr | None = None
    vendor: StrictStr | None = None
    sku: StrictStr | None = None


class CreateIntentRequest(_Body):
    """``POST /api/v1/intents.json``."""

    intent: IntentInput
    customer: CustomerInput
    product: ProductInput | None = None


class CreateIntentResponse(BaseModel):
    """``201``: the intent created."""

    intent: Intent


class CreateIntentErrors(BaseModel):
    """``200`` that is NOT a success: the signup was processed but refused."""

    errors: list[str]

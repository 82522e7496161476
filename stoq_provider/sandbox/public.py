"""The public storefront signup endpoint, ``POST /api/v1/intents.json`` (no API key, no budget).

The shop domain header is checked in front of the router (see :mod:`.guard`). A signup that is
well-formed JSON but cannot be accepted answers ``200 {"errors": [...]}``: a 200 that is NOT success.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from starlette.responses import JSONResponse

from stoq_provider.sandbox.constants import CREATE_INTENT, CREATE_INTENT_PATH, SHOP_DOMAIN_HEADER
from stoq_provider.sandbox.deps import State
from stoq_provider.sandbox.models import (
    CreateIntentErrors,
    CreateIntentRequest,
    CreateIntentResponse,
    CustomerInput,
    ErrorBody,
    IntentInput,
)
from stoq_provider.sandbox.readings import CREATE_BARE
from stoq_provider.sandbox.seeding import MARKET_IDS, Customer, make_intent
from stoq_provider.sandbox.state import SandboxState
from stoq_provider.sandbox.store import IntentRecord

CHANNELS = ("email", "sms", "push")
VARIANT_NOT_FOUND = "Product variant not found"
DUPLICATE = "Customer has already signed up for this variant"

router = APIRouter(tags=["storefront"])


def _form_errors(intent: IntentInput, customer: CustomerInput) -> list[str]:
    """What is missing or malformed in a signup, before looking anything up."""
    errors = [
        f"intent.{name} is required"
        for name in ("shopify_variant_id", "shopify_product_id", "channel", "quantity", "source")
        if getattr(intent, name) is None
    ]
    if intent.channel is not None and intent.channel not in CHANNELS:
        errors.append(f"intent.channel must be one of: {', '.join(CHANNELS)}")
    if intent.quantity is not None and intent.quantity < 1:
        errors.append("intent.quantity must be at least 1")
    contact_field = {"email": "email", "sms": "phone", "push": "push"}.get(intent.channel or "")
    if contact_field is not None and not getattr(customer, contact_field):
        errors.append(f"customer.{contact_field} is required for the {intent.channel} channel")
    if customer.phone and not customer.phone.isdigit():
        errors.append("customer.phone must contain digits only (no +)")
    if customer.email and "@" not in customer.email:
        errors.append("customer.email is not a valid e-mail address")
    return errors


def _is_duplicate(state: SandboxState, variant_id: int, market_id: int, customer: Customer) -> bool:
    """True when this customer already has an intent on this variant and market."""
    for existing in state.store.for_variant(variant_id):
        if existing["shopify_market_id"] != market_id:
            continue
        if existing["customer_id"] == customer.customer_id:
            return True
        if customer.email and existing["email"] == customer.email:
            return True
        if customer.phone and existing["phone"] == customer.phone:
            return True
    return False


def _update_customer(state: SandboxState, customer: Customer) -> None:
    """Apply new contact details to the existing intents of a customer passed by id."""
    for intent in state.store.ordered():
        if intent["customer_id"] == customer.customer_id:
            intent["customer_name"] = customer.name or intent["customer_name"]
            intent["email"] = customer.email or intent["email"]
            intent["phone"] = customer.phone or intent["phone"]


def signup(state: SandboxState, request: CreateIntentRequest) -> IntentRecord | list[str]:
    """Create the intent described by ``request``, or return why it cannot be created."""
    intent, customer_in = request.intent, request.customer
    errors = _form_errors(intent, customer_in)
    if errors:
        return errors
    assert intent.shopify_variant_id is not None and intent.channel is not None and intent.quantity is not None
    variant = state.catalog.get(intent.shopify_variant_id)
    if variant is None or variant.shopify_product_id != intent.shopify_product_id:
        return [VARIANT_NOT_FOUND]
    market_id = intent.shopify_market_id or customer_in.shopify_market_id or MARKET_IDS[0]
    given_id = customer_in.id if customer_in.id is not None else customer_in.shopify_customer_id
    customer = Customer(
        customer_id=str(given_id) if given_id is not None else state.new_customer().customer_id,
        name=customer_in.name or "",
        email=customer_in.email or "",
        phone=customer_in.phone or "",
        market_id=market_id,
        accepts_marketing=bool(customer_in.accepts_marketing),
    )
    if _is_duplicate(state, variant.shopify_variant_id, market_id, customer):
        return [DUPLICATE]
    if given_id is not None:
        _update_customer(state, customer)
    record = make_intent(
        state.rng,
        variant=variant,
        customer=customer,
        shop_id=state.shop_id,
        created_ts=state.now(),
        channel=intent.channel,
        quantity=intent.quantity,
    )
    record["id"] = state.new_id()
    record["email"] = customer_in.email
    record["phone"] = customer_in.phone
    record["customer_name"] = customer_in.name
    record["contact"] = {"email": customer_in.email, "sms": customer_in.phone}.get(intent.channel, customer_in.push)
    record["optin_confirmed"] = True
    state.store.add(record)
    return record


@router.post(
    CREATE_INTENT_PATH,
    name=CREATE_INTENT,
    status_code=201,
    response_model=None,
    responses={
        201: {"model": CreateIntentResponse, "description": "Created"},
        200: {"model": CreateIntentErrors, "description": "Processed but with errors (NOT a success)"},
        400: {"model": ErrorBody, "description": "Not JSON, or intent/customer missing"},
        401: {"model": ErrorBody, "description": "Unauthorized (in the contract; the sandbox answers 404 instead)"},
        404: {"model": ErrorBody, "description": "Unknown shop"},
    },
)
async def create_intent(
    state: State,
    body: CreateIntentRequest,
    x_shopify_shop_domain: Annotated[str, Header(alias=SHOP_DOMAIN_HEADER, description="<shop>.myshopify.com")],
) -> JSONResponse:
    """Sign a customer up for a back-in-stock alert (storefront endpoint)."""
    del x_shopify_shop_domain  # checked by the guard; declared for the API description
    outcome = signup(state, body)
    if isinstance(outcome, list):
        return JSONResponse({"errors": outcome}, status_code=200)
    if state.reading.create_shape == CREATE_BARE:
        return JSONResponse(outcome, status_code=201)
    return JSONResponse({"intent": outcome}, status_code=201)

"""Checks of caller input, done before any request so that bad input never reaches STOQ.

Every error is a :class:`~stoq_provider.exceptions.StoqConfigError` whose message names the parameter.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from stoq_provider.exceptions import StoqConfigError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def shopify_id(value: Any, name: str) -> int:
    """A Shopify ID (variant, product): a positive integer, given as ``int`` or digit string."""
    if isinstance(value, bool):
        raise StoqConfigError(f"{name} must be a positive integer Shopify ID, got {value!r}.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise StoqConfigError(f"{name} must be a positive integer Shopify ID, got {value!r}.")
    if number <= 0:
        raise StoqConfigError(f"{name} must be a positive integer Shopify ID, got {value!r}.")
    return number


def intent_id(value: Any, name: str = "intent_id") -> str:
    """An intent ID: a non-empty string (STOQ's IDs are UUID-like; integers are accepted and stringified)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise StoqConfigError(f"{name} must be a STOQ intent ID string, got {type(value).__name__}.")
    text = str(value).strip()
    if not text or any(ch.isspace() or ch in "/?#" for ch in text):
        raise StoqConfigError(f"{name} must be a non-empty STOQ intent ID without spaces or slashes, got {value!r}.")
    return text


def intent_ids(values: Any, name: str = "intent_ids") -> list[str]:
    """A list of intent IDs, de-duplicated in order; empty lists are refused."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise StoqConfigError(f"{name} must be a list of intent IDs, got {type(values).__name__}.")
    result = list(dict.fromkeys(intent_id(value, name) for value in values))
    if not result:
        raise StoqConfigError(f"{name} is empty: give at least one intent ID.")
    return result


def api_date(value: Any, name: str) -> str | None:
    """A date as ``YYYY-MM-DD`` from a ``date``, ``datetime`` (incl. pendulum) or an ISO date string."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise StoqConfigError(f"{name} must be a date, a datetime or a 'YYYY-MM-DD' string, got {value!r}.")


def date_range(start: Any, end: Any) -> tuple[str | None, str | None]:
    """Both ends of a creation-date filter, checked to be in order."""
    start_text, end_text = api_date(start, "start_date"), api_date(end, "end_date")
    if start_text and end_text and start_text > end_text:
        raise StoqConfigError(f"start_date ({start_text}) is after end_date ({end_text}); swap them.")
    return start_text, end_text


def positive_int(value: Any, name: str, *, maximum: int | None = None) -> int:
    """A positive integer (for sizes and counts), optionally capped."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise StoqConfigError(f"{name} must be a positive integer, got {value!r}.")
    if maximum is not None and value > maximum:
        raise StoqConfigError(f"{name} must be at most {maximum}, got {value}.")
    return value


def choice(value: Any, name: str, allowed: Iterable[str]) -> str:
    """One of a fixed set of strings."""
    options = tuple(allowed)
    if value not in options:
        raise StoqConfigError(f"{name} must be one of {', '.join(options)}; got {value!r}.")
    return str(value)


def intent_filters(
    *,
    shopify_variant_id: Any = None,
    shopify_product_id: Any = None,
    email: str | None = None,
    phone: str | None = None,
    start_date: Any = None,
    end_date: Any = None,
    notified: bool | None = None,
    mask: Callable[[str], None],
) -> dict[str, Any]:
    """Validate the filters of ``GET /intents`` into query values (``None``: not filtered).

    ``email`` and ``phone`` are customer data: they are handed to ``mask`` (the hooks register them with
    Airflow's secrets masker) before any request carries them.
    """
    start, end = date_range(start_date, end_date)
    if notified is not None and not isinstance(notified, bool):
        raise StoqConfigError(f"notified must be True, False or None, got {notified!r}.")
    for name, value in (("email", email), ("phone", phone)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise StoqConfigError(f"{name} must be a non-empty string when given.")
        if value:
            mask(value)
    variant, product = shopify_variant_id, shopify_product_id
    return {
        "shopify_variant_id": None if variant is None else shopify_id(variant, "shopify_variant_id"),
        "shopify_product_id": None if product is None else shopify_id(product, "shopify_product_id"),
        "email": email.strip() if email else None,
        "phone": phone.strip() if phone else None,
        "start_date": start,
        "end_date": end,
        "notified": notified,
    }


CHANNELS = ("email", "sms", "push")
TRANSFER_TYPES = ("unsent", "sent", "all")


def signup_body(
    *,
    shopify_variant_id: Any,
    shopify_product_id: Any,
    channel: str,
    quantity: Any,
    email: str | None,
    phone: str | None,
    shopify_market_id: Any,
    source: str,
    customer: Mapping[str, Any] | None,
    product: Mapping[str, Any] | None,
    mask: Callable[[str], None],
) -> dict[str, Any]:
    """Validate a storefront signup into the body of ``POST /api/v1/intents.json``.

    The customer's e-mail and phone are handed to ``mask`` before any request carries them.
    """
    channel = choice(channel, "channel", CHANNELS)
    intent: dict[str, Any] = {
        "shopify_variant_id": shopify_id(shopify_variant_id, "shopify_variant_id"),
        "shopify_product_id": shopify_id(shopify_product_id, "shopify_product_id"),
        "channel": channel,
        "quantity": positive_int(quantity, "quantity"),
        "source": source,
    }
    if shopify_market_id is not None:
        intent["shopify_market_id"] = shopify_id(shopify_market_id, "shopify_market_id")
    person = dict(customer or {})
    if email is not None:
        if "@" not in email:
            raise StoqConfigError(
                "email does not look like an e-mail address (no '@'); pass the customer's address, "
                "e.g. 'name@example.com'."
            )
        person["email"] = email.strip()
        mask(person["email"])
    if phone is not None:
        digits = "".join(ch for ch in str(phone) if ch not in " -().+")
        if not digits.isdigit():
            raise StoqConfigError("phone must contain digits only (country code first, no '+').")
        person["phone"] = digits
        mask(digits)
    if channel == "email" and not person.get("email"):
        raise StoqConfigError("channel 'email' needs email=...: pass the customer's e-mail address.")
    if channel == "sms" and not person.get("phone"):
        raise StoqConfigError("channel 'sms' needs phone=...: pass the customer's phone, digits only.")
    body: dict[str, Any] = {"intent": intent, "customer": person}
    if product:
        body["product"] = dict(product)
    return body


def intent_types(value: Any, name: str = "intent_types") -> tuple[str, ...]:
    """One intent type or a list of them, each a type STOQ documents (``restock``, ``wishlist_reminder``)."""
    from stoq_provider.api.contract import INTENT_TYPES

    items = [value] if isinstance(value, str) else value
    if isinstance(items, Mapping) or not isinstance(items, Iterable):
        raise StoqConfigError(f"{name} must be a list of intent types {INTENT_TYPES}, got {value!r}.")
    types = tuple(dict.fromkeys(items))
    unknown = [t for t in types if t not in INTENT_TYPES]
    if not types or unknown:
        raise StoqConfigError(f"{name} must name one or more of {', '.join(INTENT_TYPES)}; got {list(types)!r}.")
    return types

"""Naming API requests: which STOQ endpoint a method and path address.

The name is needed before routing (fault injection and rate limiting happen in ASGI layers in front
of the router), so it is derived here from the method and path alone.
"""

from __future__ import annotations

from stoq_provider.sandbox.constants import (
    API_ROOT,
    BULK_DESTROY,
    BULK_NOTIFY,
    CREATE_INTENT,
    CREATE_INTENT_PATH,
    EXTERNAL_PREFIX,
    GET_INTENT,
    LIST_INTENTS,
    NOTIFY_INTENT,
    PRODUCTS_IN_DEMAND,
    TRANSFER_SIGNUPS,
    UNKNOWN_ENDPOINT,
)

_INTENTS = EXTERNAL_PREFIX + "/intents"
_FIXED: dict[tuple[str, str], str] = {
    ("GET", _INTENTS): LIST_INTENTS,
    ("GET", _INTENTS + "/products_in_demand"): PRODUCTS_IN_DEMAND,
    ("POST", _INTENTS + "/notify_intent"): NOTIFY_INTENT,
    ("POST", _INTENTS + "/bulk_notify_intent"): BULK_NOTIFY,
    ("DELETE", _INTENTS + "/bulk_destroy"): BULK_DESTROY,
    ("POST", _INTENTS + "/transfer_signups"): TRANSFER_SIGNUPS,
    ("POST", CREATE_INTENT_PATH): CREATE_INTENT,
}


def is_api_path(path: str) -> bool:
    """True for the STOQ-like routes (faults apply), false for admin and documentation routes."""
    return path.startswith(API_ROOT)


def is_external_path(path: str) -> bool:
    """True for the authenticated, rate-limited routes."""
    return path == EXTERNAL_PREFIX or path.startswith(EXTERNAL_PREFIX + "/")


def endpoint_name(method: str, path: str) -> str:
    """The endpoint name of an API request (``"unknown"`` when it matches none)."""
    method = "GET" if method.upper() == "HEAD" else method.upper()
    path = path.rstrip("/") or "/"
    name = _FIXED.get((method, path))
    if name is not None:
        return name
    if method == "GET" and path.startswith(_INTENTS + "/") and "/" not in path[len(_INTENTS) + 1 :]:
        return GET_INTENT
    return UNKNOWN_ENDPOINT

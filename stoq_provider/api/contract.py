"""The STOQ v1 contract in one place: paths, costs, limits, how each request is built and how each answer is read.

Transports (``requests`` for hooks, ``httpx`` for triggers) only move bytes: they hand an :class:`ApiRequest`
to the network and give back an :class:`ApiResponse`; :func:`check_response` turns that into parsed JSON or
the right :mod:`stoq_provider.exceptions` error. Messages never include the API key, and server text is
passed through :func:`redact` before it reaches a message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from stoq_provider.api.redaction import scrub
from stoq_provider.exceptions import (
    StoqAuthError,
    StoqNotFoundError,
    StoqProtocolError,
    StoqRequestError,
    StoqServerError,
)

_MAX_SERVER_TEXT = 300
#: Largest ``per_page`` STOQ documents for its paged endpoints (what the provider asks for).
MAX_PER_PAGE = 500
#: Largest ``batch_size`` accepted for bulk notify (STOQ documents no cap; a smaller one is learned from refusals).
MAX_BATCH_SIZE = 1000
#: Intent fields that, when set, mean the customer must not be alerted.
OPTED_OUT = ("unsubscribed_at", "customer_unsubscribed_at", "blocked_at")
#: Intent types STOQ documents, and those alerted unless told otherwise.
INTENT_TYPES = ("restock", "wishlist_reminder")
DEFAULT_INTENT_TYPES = ("restock",)
#: Rate-budget points: ``GET`` costs 1, every write 2 (a bulk call too, whatever its size).
READ_COST = 1
WRITE_COST = 2
#: The documented rolling window of the rate budget (the budget itself is read from the headers, never assumed).
DOCUMENTED_WINDOW_SECONDS = 60.0


def request_cost(method: str) -> int:
    """Points a request costs: 1 for ``GET``/``HEAD``, 2 for every write."""
    return READ_COST if method.upper() in {"GET", "HEAD", "OPTIONS"} else WRITE_COST


@dataclass(frozen=True)
class ApiRequest:
    """One request to STOQ, independent of the HTTP client.

    :param method: HTTP method.
    :param path: path relative to the base URL (``intents/notify_intent``), or a full URL for the public endpoint.
    :param endpoint: short name used in logs and messages (``list_intents``).
    :param params: query parameters.
    :param json_body: JSON body.
    :param authenticated: send ``X-Auth-Token`` (False only for the public create endpoint).
    :param headers: extra headers.
    :param allow_empty: a 2xx with an empty body is a valid answer (``transfer_signups``).
    """

    method: str
    path: str
    endpoint: str
    params: Mapping[str, Any] | None = None
    json_body: Any = None
    authenticated: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    allow_empty: bool = False

    @property
    def cost(self) -> int:
        """Rate-budget points this request costs."""
        return request_cost(self.method) if self.authenticated else 0

    @property
    def is_read(self) -> bool:
        """Reads can be retried blindly; writes never are."""
        return self.method.upper() == "GET"

    @property
    def label(self) -> str:
        """``METHOD path`` without the query string (which may hold an e-mail filter)."""
        path = self.path.split("://", 1)[-1].split("/", 1)[-1] if "://" in self.path else self.path
        return f"{self.method.upper()} /{path.lstrip('/')}"


@dataclass(frozen=True)
class ApiResponse:
    """What came back, as plain data.

    :param status: HTTP status code.
    :param headers: response headers (any mapping; lookups try the canonical and lower-case names).
    :param content: raw body bytes.
    :param sent_at: Unix time the request left (lets the rate budget bound the window's length).
    """

    status: int
    headers: Mapping[str, str]
    content: bytes
    sent_at: float | None = None

    @property
    def content_type(self) -> str:
        value = self.headers.get("Content-Type") or self.headers.get("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    @property
    def looks_like_html(self) -> bool:
        if self.content_type in {"text/html", "application/xhtml+xml"}:
            return True
        head = self.content[:200].lstrip().lower()
        return head.startswith((b"<!doctype html", b"<html"))


def redact(text: str, *secrets: str | None) -> str:
    """Remove e-mail addresses and the given secrets from server text, and shorten it."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = scrub(text)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SERVER_TEXT else text[: _MAX_SERVER_TEXT - 3] + "..."


def server_message(body: Any) -> str:
    """The human text of an error body, whichever of STOQ's envelopes it uses (may be empty)."""
    if isinstance(body, Mapping):
        parts: list[str] = []
        for key in ("error", "message", "errors"):
            value = body.get(key)
            if isinstance(value, str) and value:
                parts.append(value)
            elif isinstance(value, list):
                parts.extend(str(item) for item in value if item)
            elif isinstance(value, Mapping):
                parts.extend(f"{k}: {v}" for k, v in value.items())
        return "; ".join(dict.fromkeys(parts))
    if isinstance(body, str):
        return body
    return ""


def decode_json(response: ApiResponse) -> Any:
    """Parse the body as JSON; ``None`` for an empty body; raise :class:`ValueError` otherwise."""
    if not response.content.strip():
        return None
    return json.loads(response.content)


def check_response(request: ApiRequest, response: ApiResponse, *, conn_id: str, secrets: tuple[str, ...] = ()) -> Any:
    """Return the parsed body of a successful answer, or raise the matching provider error.

    429 is not handled here: the transport waits and retries it before calling this function.
    """
    status = response.status
    where = f"{request.label} ({request.endpoint})"
    if status == 413:
        # Refused for its size before anything was applied (by STOQ or a proxy); the body may be an HTML page.
        raise StoqRequestError(
            f"STOQ, or a proxy in front of it, refused {where} as too large (413). Send fewer items per request.",
            status_code=status,
            reason="413 Request Entity Too Large",
        )
    if status >= 500 or response.looks_like_html:
        kind = "an HTML error page" if response.looks_like_html else "an error"
        raise StoqServerError(
            f"STOQ, or a proxy in front of it, answered {status} with {kind} to {where}. This is usually "
            "temporary: the provider retries (a notify only after reading back what was sent); run the task again "
            "later if it persists.",
            status_code=status,
        )
    try:
        body = decode_json(response)
    except ValueError:
        if 200 <= status < 300:
            raise StoqServerError(
                f"STOQ answered {status} to {where} with a body that is not JSON; treating it as a failure, "
                f"retried like a 5xx. If it persists, check that connection {conn_id!r} points at the STOQ API "
                "(not a proxy or login page) and run the task again later.",
                status_code=status,
            ) from None
        body = response.content.decode("utf-8", "replace")
    message = redact(server_message(body), *secrets)
    reason = f": {message}" if message else ""
    if 200 <= status < 300:
        if body is None and not request.allow_empty:
            raise StoqServerError(
                f"STOQ answered {status} to {where} with an empty body; treating it as a failure, retried like a "
                "5xx. Run the task again later if it persists.",
                status_code=status,
            )
        return body
    if status == 401:
        raise StoqAuthError(
            f"STOQ rejected the API key (401) on {where}. Check the password of Airflow connection "
            f"{conn_id!r}: it must be the store's current key (STOQ app > Settings > Integrations > API Key).",
            status_code=status,
        )
    if status == 404:
        raise StoqNotFoundError(
            f"STOQ answered 404 Not Found to {where}{reason}. Check the IDs you passed (they must exist in the "
            f"store whose API key connection {conn_id!r} holds) and that the connection's host is the v1 API "
            "base URL.",
            status_code=status,
            reason=message or None,
        )
    if 300 <= status < 400:
        raise StoqRequestError(
            f"STOQ answered {status} (a redirect) to {where}; redirects are not followed so the API key never "
            f"leaves the configured host. Point connection {conn_id!r} at the final URL.",
            status_code=status,
        )
    sent = body.get("sent_intent_ids") if isinstance(body, Mapping) else None
    raise StoqRequestError(
        f"STOQ refused {where} with {status}{reason or ' and no reason'}. Check the parameters; "
        "repeating the same request will fail the same way.",
        status_code=status,
        reason=message or None,
        sent_intent_ids=[str(i) for i in sent] if isinstance(sent, list) else None,
    )


# ---------------------------------------------------------------- shape checks of successful bodies


#: Added to shape errors of notify answers: the alert may have gone out.
NOTIFY_OUTCOME_UNKNOWN = (
    "Whether STOQ sent the alerts is unknown: check the intents (get_intent, notified_at) before sending again; "
    "a rerun with allow_resend=False never alerts anyone twice."
)


def shape_error(endpoint: str, expected: str, *, outcome: str = "") -> StoqProtocolError:
    """The error for a successful answer whose body does not have the documented shape.

    :param endpoint: the hook method, for the message.
    :param expected: the documented shape, in words.
    :param outcome: for writes, what the caller should check since the request may have been applied.
    """
    return StoqProtocolError(
        f"STOQ's answer to {endpoint} does not have the documented shape (expected {expected}). "
        "The API may have changed; upgrade airflow-provider-stoq or report it." + (f" {outcome}" if outcome else "")
    )


def parse_intents_page(body: Any) -> tuple[list[dict[str, Any]], dict[str, Any], bool | None]:
    """Split a ``GET /intents`` answer into its intents, its ``meta`` (possibly empty) and ``has_next_page``.

    Page sizes are checked by :class:`~stoq_provider.api.paging.Listing`, against what the server says it
    served rather than what was asked.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("intents"), list):
        raise shape_error("list_intents", 'an object with an "intents" list')
    intents = body["intents"]
    if not all(isinstance(item, Mapping) and item.get("id") not in (None, "") for item in intents):
        raise shape_error("list_intents", "intent objects that each carry an id")
    meta = body.get("meta")
    meta = dict(meta) if isinstance(meta, Mapping) else {}
    has_next = body.get("has_next_page", meta.get("has_next_page"))
    return [dict(item) for item in intents], meta, has_next if isinstance(has_next, bool) else None


def parse_intent(body: Any) -> dict[str, Any]:
    """Check a bare Intent object."""
    if not isinstance(body, Mapping) or body.get("id") in (None, ""):
        raise shape_error("get_intent", "an intent object with an id")
    return dict(body)


def parse_bulk_notify(body: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """Read a bulk notify answer into ``(sent_ids, [(intent_id, error), ...])``."""
    expected = 'an object with "success" and "failed" lists'
    if not isinstance(body, Mapping):
        raise shape_error("bulk_notify_intents", expected, outcome=NOTIFY_OUTCOME_UNKNOWN)
    success = body.get("success", [])
    failed = body.get("failed", [])
    if not isinstance(success, list) or not isinstance(failed, list):
        raise shape_error("bulk_notify_intents", expected, outcome=NOTIFY_OUTCOME_UNKNOWN)
    sent = [str(item) for item in success]
    failures: list[tuple[str, str]] = []
    for item in failed:
        if isinstance(item, Mapping) and item.get("intent_id") not in (None, ""):
            failures.append((str(item["intent_id"]), str(item.get("error") or "unknown error")))
        else:
            raise shape_error(
                "bulk_notify_intents",
                'failed entries of the form {"intent_id", "error"}',
                outcome=NOTIFY_OUTCOME_UNKNOWN,
            )
    return sent, failures


def check_notify_answer(body: Any, intent_id: str) -> None:
    """Check a ``notify_intent`` answer, documented as ``{"success": true, "intent_id": ...}``.

    Extra fields, and a missing ``success`` or ``intent_id``, are tolerated (a 200 means sent); a body that is
    not an object, a ``success`` that is not ``true`` or another intent's ID is refused.
    """
    expected = '{"success": true, "intent_id": ...}'
    if not isinstance(body, Mapping) or body.get("success", True) is not True:
        raise shape_error("notify_intent", expected, outcome=NOTIFY_OUTCOME_UNKNOWN)
    answered = body.get("intent_id")
    if answered not in (None, "") and str(answered) != intent_id:
        raise shape_error("notify_intent", f"{expected} for intent {intent_id}", outcome=NOTIFY_OUTCOME_UNKNOWN)


def parse_demand_page(body: Any) -> tuple[list[dict[str, Any]], dict[str, Any], bool | None]:
    """Read a products-in-demand page into ``(items, meta, has_next_page or None)``."""
    if not isinstance(body, Mapping):
        raise shape_error("products_in_demand", "an object")
    items = body.get("product_variants_in_demand")
    if items is None:
        items = body.get("products_in_demand", body.get("data"))
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise shape_error("products_in_demand", 'a "product_variants_in_demand" list of objects')
    meta = body.get("meta")
    meta = dict(meta) if isinstance(meta, Mapping) else {}
    has_next = body.get("has_next_page", meta.get("has_next_page"))
    return [dict(item) for item in items], meta, has_next if isinstance(has_next, bool) else None


def parse_deleted_count(body: Any) -> int:
    """The ``deleted_count`` of a bulk destroy answer."""
    count = body.get("deleted_count") if isinstance(body, Mapping) else None
    if not isinstance(count, int) or isinstance(count, bool):
        raise shape_error(
            "delete_intents",
            'an object with an integer "deleted_count"',
            outcome="Whether STOQ deleted the intents is unknown: list them before deleting again.",
        )
    return count


def parse_created_intent(body: Any, *, secrets: tuple[str | None, ...] = ()) -> dict[str, Any]:
    """The Intent object of the signup endpoint's answer, whether STOQ wraps it (``{"intent": {...}}``) or not
    (the bare Intent); any other object is returned as STOQ sent it.

    A ``200`` that carries ``errors`` is raised as :class:`StoqRequestError`, with ``secrets`` (the customer's
    contact) redacted from STOQ's text.
    """
    if isinstance(body, Mapping) and body.get("errors"):
        errors = body["errors"]
        text = "; ".join(map(str, errors)) if isinstance(errors, list) else str(errors)
        raise StoqRequestError(
            f"STOQ processed create_intent but reported errors: {redact(text, *secrets)}", status_code=200
        )
    if not isinstance(body, Mapping):
        raise shape_error(
            "create_intent",
            "a JSON object",
            outcome="Whether STOQ created the intent is unknown: check with list_intents before signing up "
            "the customer again.",
        )
    inner = body.get("intent")
    if isinstance(inner, Mapping) and "id" not in body:
        return dict(inner)
    return dict(body)


#: Already-sent IDs named in ``delete_intents``' error before the rest are only counted.
NAMED_SENT_IDS = 20


def already_sent_error(exc: StoqRequestError) -> StoqRequestError:
    """``delete_intents``' ``422``: nothing deleted because some IDs were sent; name them (up to 20)."""
    sent = exc.sent_intent_ids
    if sent:
        named = ", ".join(sent[:NAMED_SENT_IDS])
        more = f" and {len(sent) - NAMED_SENT_IDS} more" if len(sent) > NAMED_SENT_IDS else ""
        what = f"{len(sent)} of the intents were already sent: {named}{more}"
    else:
        what = "some of the intents were already sent (STOQ did not say which)"
    return StoqRequestError(
        f"STOQ deleted nothing (422, all or nothing): {what}. Only unsent intents can be deleted: leave those "
        "out and delete again.",
        status_code=422,
        reason=exc.reason,
        sent_intent_ids=sent,
    )


_ALREADY_NOTIFIED = re.compile(r"already\s+(?:been\s+)?(?:notified|sent)", re.IGNORECASE)


def means_already_notified(error: str) -> bool:
    """True when STOQ's per-intent error text says the intent was already notified."""
    return bool(_ALREADY_NOTIFIED.search(error))


def is_pending(intent: Mapping[str, Any], intent_types: Iterable[str] = DEFAULT_INTENT_TYPES) -> bool:
    """True for a never-notified, subscribed, unblocked intent whose ``type`` is one of ``intent_types``: a
    customer still waiting, whom a restock alert may reach (the operator's rule, the sensor's and the hook's).

    An intent without a ``type`` field (older API answers) is a ``restock`` intent.
    """
    if intent.get("type", "restock") not in tuple(intent_types):
        return False
    return not intent.get("notified_at") and not any(intent.get(name) for name in OPTED_OUT)


# ---------------------------------------------------------------- request builders (from validated values)


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

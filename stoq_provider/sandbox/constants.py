"""Names and fixed values shared by every module of the sandbox."""

from __future__ import annotations

#: The API key the sandbox accepts unless told otherwise (``stoq_api_key_`` + 32 characters).
DEFAULT_API_KEY = "stoq_api_key_sandbox0000000000000000000000000"
#: The shop domain the public create-intent endpoint accepts unless told otherwise.
DEFAULT_SHOP_DOMAIN = "sandbox-shop.myshopify.com"

#: Prefix of every route that behaves like STOQ (faults apply here, never elsewhere).
API_ROOT = "/api/v1/"
#: Base path of the authenticated, rate-limited v1 API.
EXTERNAL_PREFIX = "/api/v1/external"
#: Path of the public storefront signup endpoint (no key, not rate limited).
CREATE_INTENT_PATH = "/api/v1/intents.json"
#: Prefix of the sandbox's own admin routes (no auth, no budget, no faults); ``GET`` on it lists them.
ADMIN_PREFIX = "/_sandbox"
#: Where the OpenAPI 3 description of the STOQ v1 API is served.
OPENAPI_PATH = "/openapi.json"

#: Header carrying the API key.
AUTH_HEADER = "X-Auth-Token"
#: Header carrying the shop domain on the public endpoint.
SHOP_DOMAIN_HEADER = "X-Shopify-Shop-Domain"

#: Largest ``per_page`` any paginated endpoint accepts.
LARGEST_PAGE = 500
#: ``per_page`` used when the caller gives none.
DEFAULT_PER_PAGE = 25

# Endpoint names, used by statistics and by fault targeting.
LIST_INTENTS = "list_intents"
GET_INTENT = "get_intent"
NOTIFY_INTENT = "notify_intent"
BULK_NOTIFY = "bulk_notify"
BULK_DESTROY = "bulk_destroy"
TRANSFER_SIGNUPS = "transfer_signups"
PRODUCTS_IN_DEMAND = "products_in_demand"
CREATE_INTENT = "create_intent"
#: Name given to a request under the API root that matches no endpoint.
UNKNOWN_ENDPOINT = "unknown"

ENDPOINT_NAMES: tuple[str, ...] = (
    LIST_INTENTS,
    GET_INTENT,
    NOTIFY_INTENT,
    BULK_NOTIFY,
    BULK_DESTROY,
    TRANSFER_SIGNUPS,
    PRODUCTS_IN_DEMAND,
    CREATE_INTENT,
)

#: Other spellings accepted where an endpoint name is expected.
ENDPOINT_ALIASES: dict[str, str] = {
    "bulk_notify_intent": BULK_NOTIFY,
    "bulk_notify_intents": BULK_NOTIFY,
    "delete_intents": BULK_DESTROY,
}

# Fault kinds.
FAULT_ERROR500 = "error500"
FAULT_HTML502 = "html502"
FAULT_DROP = "drop"
FAULT_SLOW = "slow"
FAULT_LOST = "lost"
#: The transport faults random draws use by default (``--fault-rate`` without ``--faults``).
FAULT_KINDS: tuple[str, ...] = (FAULT_ERROR500, FAULT_HTML502, FAULT_DROP, FAULT_SLOW, FAULT_LOST)
# Malformed answers: accepted by scripts and explicit ``kinds``, never drawn by default.
FAULT_GARBAGE = "garbage"
FAULT_WRONG_SHAPE = "wrong_shape"
FAULT_OVERSIZE = "oversize"
FAULT_EXTRA_FIELDS = "extra_fields"
MALFORMED_FAULT_KINDS: tuple[str, ...] = (FAULT_GARBAGE, FAULT_WRONG_SHAPE, FAULT_OVERSIZE, FAULT_EXTRA_FIELDS)
#: Every fault kind a script, an explicit ``kinds`` list or an outage may name.
ALL_FAULT_KINDS: tuple[str, ...] = FAULT_KINDS + MALFORMED_FAULT_KINDS
#: A script entry meaning "let this request through untouched".
FAULT_NONE = "none"

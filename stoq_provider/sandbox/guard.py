"""The gatekeeper in front of the API routes: authentication, the rate budget and statistics.

A pure ASGI middleware, so that it also covers requests the router refuses (400, 404, 405):

* ``/api/v1/external/...``: ``X-Auth-Token`` must be the key, else ``401 {"error": "Unauthorized"}``
  (no rate headers, no charge). Then the request is charged (GET 1 point, others 2); over budget
  it gets ``429`` with ``Retry-After`` and is not charged. Every answer after authentication carries
  ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``.
* ``/api/v1/intents.json``: ``X-Shopify-Shop-Domain`` must be the configured shop, else
  ``404 {"error": "Not found"}``. Not rate limited.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stoq_provider.sandbox.budget import BudgetDecision, points_for
from stoq_provider.sandbox.constants import AUTH_HEADER, CREATE_INTENT_PATH, SHOP_DOMAIN_HEADER
from stoq_provider.sandbox.endpoints import endpoint_name, is_api_path, is_external_path
from stoq_provider.sandbox.state import SandboxState


def _rate_limited_body(decision: BudgetDecision) -> dict[str, object]:
    retry_after = decision.retry_after_value()
    return {
        "error": "Rate limit exceeded",
        "retry_after": retry_after,
        "message": (
            f"This store's budget of {decision.limit} points per rolling window is used up; "
            f"a request costing {decision.cost} points fits again in {retry_after} seconds."
        ),
    }


class GuardMiddleware:
    """Authenticates, rate-limits and counts API requests; other paths pass straight through."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = self.state
        path, method = scope["path"], scope["method"]
        endpoint = endpoint_name(method, path)
        headers = Headers(scope=scope)
        extra_headers: dict[str, str] = {}

        if is_external_path(path):
            token = headers.get(AUTH_HEADER, "")
            if not hmac.compare_digest(token.encode(), state.api_key.encode()):
                state.stats.record_request(endpoint, 401)
                await JSONResponse({"error": "Unauthorized"}, status_code=401)(scope, receive, send)
                return
            decision = state.budget.charge(points_for(method))
            if not decision.allowed:
                state.stats.record_request(endpoint, 429)
                response = JSONResponse(_rate_limited_body(decision), status_code=429, headers=decision.headers())
                await response(scope, receive, send)
                return
            state.stats.record_charge(decision.cost)
            extra_headers = decision.headers()
        elif path.rstrip("/") == CREATE_INTENT_PATH:
            domain = headers.get(SHOP_DOMAIN_HEADER, "").strip().lower()
            if domain != state.shop_domain.lower():
                state.stats.record_request(endpoint, 404)
                await JSONResponse({"error": "Not found"}, status_code=404)(scope, receive, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.stats.record_request(endpoint, message["status"])
                if extra_headers:
                    response_headers = MutableHeaders(scope=message)
                    for name, value in extra_headers.items():
                        response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""Carrying out injected faults, as the outermost ASGI layer (talking to the server directly).

How a connection is dropped
---------------------------
ASGI has no message for "abort this connection", so the layer asks the server's transport. With
uvicorn (both its h11 and httptools protocols) the ``send`` callable an application receives is a
method of the per-request cycle object, which holds the connection's asyncio ``transport``.
:func:`abort_connection` calls ``transport.abort()``: the socket is closed at once and nothing is
written, so an HTTP client sees the connection end with no response at all (``requests`` raises
``requests.exceptions.ConnectionError``). Once the loop has delivered ``connection_lost``, uvicorn
marks the cycle disconnected and, when the application returns without having answered, it neither
sends its fallback 500 nor logs an error: one drop leaves nothing in the server log.

If the transport cannot be reached (another ASGI server, or ``send`` wrapped by something), the
fallback is a truncated response: headers announcing a body that never comes, after which the
application returns; servers then close the connection and a client reading the body fails
(``requests`` raises ``ChunkedEncodingError``).

This layer must see the server's own ``send``, hence it wraps the whole Starlette stack (see
:class:`stoq_provider.sandbox.app.SandboxAPI`) rather than being an ordinary user middleware.

Malformed answers
-----------------
``garbage`` and ``wrong_shape`` answer ``200`` at once, without running the application (nothing is
applied or charged, as for ``error500``). ``oversize`` and ``extra_fields`` run the application (the
request is applied and charged), capture its answer and rewrite the JSON body before it is sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stoq_provider.sandbox.constants import (
    BULK_DESTROY,
    BULK_NOTIFY,
    CREATE_INTENT,
    DEFAULT_PER_PAGE,
    FAULT_DROP,
    FAULT_ERROR500,
    FAULT_EXTRA_FIELDS,
    FAULT_GARBAGE,
    FAULT_HTML502,
    FAULT_LOST,
    FAULT_OVERSIZE,
    FAULT_SLOW,
    FAULT_WRONG_SHAPE,
    GET_INTENT,
    LARGEST_PAGE,
    LIST_INTENTS,
    NOTIFY_INTENT,
    PRODUCTS_IN_DEMAND,
    TRANSFER_SIGNUPS,
)
from stoq_provider.sandbox.endpoints import endpoint_name, is_api_path
from stoq_provider.sandbox.state import SandboxState

BAD_GATEWAY_PAGE = """<!DOCTYPE html>
<html>
<head><title>502 Bad Gateway</title></head>
<body>
<h1>502 Bad Gateway</h1>
<p>The server, while acting as a gateway, received an invalid response from the upstream server.</p>
<p><small>STOQ sandbox: injected fault</small></p>
</body>
</html>
"""


#: The ``garbage`` body: announced as JSON, cut off part way, so it does not parse.
GARBAGE_BODY = b'{"intents": [{"id": "sandbox-garbage", "quantity": '

#: The ``wrong_shape`` body per endpoint: the documented envelope with a field of the wrong type or missing.
WRONG_SHAPES: dict[str, Any] = {
    LIST_INTENTS: {"intents": {"data": "not a list"}, "meta": {"total_count": "unknown"}},
    GET_INTENT: {"intent": {"note": "wrapped in an envelope; the top-level id is missing"}},
    NOTIFY_INTENT: {"success": "queued"},
    BULK_NOTIFY: {"success": "all", "failed": {"count": 0}},
    BULK_DESTROY: {"success": True, "deleted_count": "several"},
    TRANSFER_SIGNUPS: ["unexpected"],
    PRODUCTS_IN_DEMAND: {"product_variants_in_demand": {"data": "not a list"}, "has_next_page": "maybe"},
    CREATE_INTENT: ["unexpected"],
}
#: The ``wrong_shape`` body of any other API path.
WRONG_SHAPE_DEFAULT: Any = ["unexpected"]

#: Fields ``extra_fields`` adds to every JSON object of an answer (existing fields are never replaced).
EXTRA_FIELDS: dict[str, Any] = {
    "sandbox_unknown_field": "a field this client has never heard of",
    "sandbox_unknown_object": {"nested": [1, 2, 3], "enabled": True, "since": None},
}

#: Keys of the paginated lists ``oversize`` pads.
PAGE_LISTS = ("intents", "product_variants_in_demand")


def with_extra_fields(value: Any) -> Any:
    """``value`` with :data:`EXTRA_FIELDS` added to every JSON object inside it."""
    if isinstance(value, dict):
        result = {key: with_extra_fields(item) for key, item in value.items()}
        for key, item in EXTRA_FIELDS.items():
            result.setdefault(key, json.loads(json.dumps(item)))
        return result
    if isinstance(value, list):
        return [with_extra_fields(item) for item in value]
    return value


def requested_per_page(scope: Scope) -> int:
    """The ``per_page`` the request asked for (the endpoints' default when absent), within 1..500."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    try:
        per_page = int(query.get("per_page", [DEFAULT_PER_PAGE])[0])
    except ValueError:
        per_page = DEFAULT_PER_PAGE
    return min(max(per_page, 1), LARGEST_PAGE)


def oversized(value: Any, per_page: int) -> Any:
    """A page answer whose (non-empty) item list is padded, by repeating items, to ``per_page + 1``."""
    if isinstance(value, dict):
        for key in PAGE_LISTS:
            items = value.get(key)
            if isinstance(items, list) and items:
                value = {**value, key: [items[n % len(items)] for n in range(per_page + 1)]}
    return value


async def rewrite_json_answer(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, change: Callable[[Any], Any]
) -> None:
    """Run ``app``, then send its answer with the JSON body passed through ``change``.

    Non-JSON and empty bodies are sent unchanged. ``Content-Length`` is recomputed.
    """
    start: Message | None = None
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
        else:  # pragma: no cover - no other response messages are used by the sandbox
            await send(message)

    await app(scope, receive, capture)
    if start is None:  # pragma: no cover - the application always answers
        return
    body = b"".join(chunks)
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    if body.strip() and headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(body)
        except ValueError:
            pass
        else:
            body = json.dumps(change(parsed)).encode()
            headers["content-length"] = str(len(body))
    await send({**start, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _server_transport(send: Send) -> tuple[Any, Any] | None:
    """``(cycle, transport)`` behind uvicorn's ``send``, or ``None`` if not reachable."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not callable(getattr(transport, "abort", None)):
        return None
    return cycle, transport


async def abort_connection(send: Send) -> None:
    """Close the client connection without a (complete) response. See the module docstring."""
    found = _server_transport(send)
    if found is not None:
        cycle, transport = found
        transport.abort()
        # Let the loop deliver connection_lost, so the server knows the client is gone before the
        # application returns (otherwise it would try to answer 500 and log an error).
        for _ in range(20):
            if getattr(cycle, "disconnected", True):
                break
            await asyncio.sleep(0)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 502,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1048576")],
        }
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": True})


async def buffer_request(receive: Receive) -> Receive:
    """Read the whole request body now; return a ``receive`` that replays it.

    A ``slow`` request must still be applied when the client gives up waiting (the case a client
    cannot tell from a lost answer), but once the client is gone the server no longer hands out the
    body. Reading it before the delay keeps the request intact.
    """
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def replaying_receive() -> Message:
        return replay.pop() if replay else await receive()

    return replaying_receive


async def _discard(_message: Message) -> None:
    """A ``send`` that swallows the application's answer (for ``lost``)."""


class FaultMiddleware:
    """Injects the fault chosen by ``state.faults`` into API requests; other paths pass through."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        endpoint = endpoint_name(scope["method"], scope["path"])
        kind = self.state.faults.pick(endpoint)
        if kind is None:
            await self.app(scope, receive, send)
            return
        self.state.stats.record_fault(endpoint, kind)
        if kind == FAULT_ERROR500:
            await JSONResponse({"error": "Internal server error"}, status_code=500)(scope, receive, send)
        elif kind == FAULT_HTML502:
            await HTMLResponse(BAD_GATEWAY_PAGE, status_code=502)(scope, receive, send)
        elif kind == FAULT_DROP:
            await abort_connection(send)
        elif kind == FAULT_SLOW:
            replay = await buffer_request(receive)
            await asyncio.sleep(self.state.faults.settings.slow_seconds)
            await self.app(scope, replay, send)
        elif kind == FAULT_LOST:
            await self.app(scope, receive, _discard)
            await abort_connection(send)
        elif kind == FAULT_GARBAGE:
            await Response(GARBAGE_BODY, status_code=200, media_type="application/json")(scope, receive, send)
        elif kind == FAULT_WRONG_SHAPE:
            body = WRONG_SHAPES.get(endpoint, WRONG_SHAPE_DEFAULT)
            await JSONResponse(body, status_code=200)(scope, receive, send)
        elif kind == FAULT_OVERSIZE:
            per_page = requested_per_page(scope)
            await rewrite_json_answer(self.app, scope, receive, send, lambda body: oversized(body, per_page))
        elif kind == FAULT_EXTRA_FIELDS:
            await rewrite_json_answer(self.app, scope, receive, send, with_extra_fields)
        else:  # pragma: no cover - kinds are validated when configured
            await self.app(scope, receive, send)

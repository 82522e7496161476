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
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stoq_provider.sandbox.constants import FAULT_DROP, FAULT_ERROR500, FAULT_HTML502, FAULT_LOST, FAULT_SLOW
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
        else:  # pragma: no cover - kinds are validated when configured
            await self.app(scope, receive, send)

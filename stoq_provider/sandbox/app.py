"""The FastAPI application of the sandbox.

Layers, outermost first: fault injection (:mod:`.fault_layer`), Starlette's error handling, the
gatekeeper (:mod:`.guard`: key, budget, statistics), then the routers: the authenticated API
(:mod:`.routes`), the public signup endpoint (:mod:`.public`) and the admin routes (:mod:`.admin`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.types import ASGIApp

from stoq_provider.sandbox import admin, public, routes
from stoq_provider.sandbox.constants import OPENAPI_PATH
from stoq_provider.sandbox.errors import install_error_handlers
from stoq_provider.sandbox.fault_layer import FaultMiddleware
from stoq_provider.sandbox.guard import GuardMiddleware
from stoq_provider.sandbox.state import SandboxState

DESCRIPTION = (
    "A local, STOQ-compatible server implementing the STOQ v1 API contract (intents, notifications, "
    "rate limits) for tests, demos and benchmarks. This document describes that contract: the "
    "authenticated endpoints under /api/v1/external (header X-Auth-Token) and the public storefront "
    "signup POST /api/v1/intents.json (header X-Shopify-Shop-Domain, no key). The sandbox's own admin "
    "routes under /_sandbox are not part of it."
)


class SandboxAPI(FastAPI):
    """FastAPI with the fault layer wrapped around the whole middleware stack.

    The fault layer needs the ASGI server's own ``send`` to abort connections (see
    :mod:`.fault_layer`); an ordinary user middleware only sees Starlette's wrapped ``send``.
    """

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return FaultMiddleware(stack, self.state.sandbox)

    def openapi(self) -> dict[str, Any]:
        """The document of the STOQ v1 API, built once, without FastAPI's automatic ``422`` responses."""
        if self.openapi_schema is None:
            self.openapi_schema = _tidy_openapi(
                get_openapi(title=self.title, version=self.version, description=self.description, routes=self.routes)
            )
        return self.openapi_schema


def _tidy_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop FastAPI's automatic ``422`` validation responses: the sandbox answers ``400`` instead."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            validation = responses.get("422", {})
            ref = str(validation.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", ""))
            if ref.endswith("/HTTPValidationError"):
                del responses["422"]
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return schema


def _operation_id(route: APIRoute) -> str:
    """The endpoint name (``list_intents``, ``notify_intent`` ...) as the operation id."""
    return route.name


def create_app(state: SandboxState) -> FastAPI:
    """A sandbox application serving ``state``.

    ``redirect_slashes`` is off: a path with a stray trailing slash is unknown (404), not a redirect
    (the contract has none, and clients never follow them with the key).
    """
    app = SandboxAPI(
        title="STOQ sandbox",
        version="1",
        description=DESCRIPTION,
        openapi_url=OPENAPI_PATH,
        redirect_slashes=False,
        generate_unique_id_function=_operation_id,
    )
    app.state.sandbox = state
    install_error_handlers(app)
    app.add_middleware(GuardMiddleware, state=state)
    app.include_router(routes.router)
    app.include_router(public.router)
    app.include_router(admin.router)

    return app

"""The sandbox's own admin routes under ``/_sandbox`` (no auth, no budget, no faults).

Tests use them to reseed data, reconfigure the budget, script faults and inspect what happened.
"""

from __future__ import annotations

from dataclasses import Field as Field_
from dataclasses import fields as dataclass_fields
from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.responses import JSONResponse

from stoq_provider.sandbox.admin_intents import add_intents
from stoq_provider.sandbox.constants import ADMIN_PREFIX, AUTH_HEADER, EXTERNAL_PREFIX, FAULT_HTML502, OPENAPI_PATH
from stoq_provider.sandbox.deps import State
from stoq_provider.sandbox.errors import ApiError
from stoq_provider.sandbox.faults import FaultSettings, check_kind
from stoq_provider.sandbox.models import ErrorBody
from stoq_provider.sandbox.readings import OPTION_NAMES, Reading
from stoq_provider.sandbox.state import SETTINGS, SandboxConfig, SandboxState

router = APIRouter(
    prefix=ADMIN_PREFIX,
    tags=["sandbox admin"],
    include_in_schema=False,  # the document describes the STOQ API; keep fuzzers off the admin routes
    responses={400: {"model": ErrorBody, "description": "Bad request"}},
)


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _declared(name: str, option: Field_) -> tuple[Any, Any]:
    """A pydantic field for one declared option: optional (omitted means "as at startup"), with its limits."""
    limits = {key: value for key, value in option.metadata.items() if key in ("ge", "gt", "le")}
    kind: Any = type(option.default) if option.default is not None else (date if name == "anchor" else int)
    return kind | None, Field(default=None, description=option.metadata.get("help"), **limits)


#: Every option of the configuration and of the reading, as the admin API takes them (only those given change).
_ALL_OPTIONS: dict[str, tuple[Any, Any]] = {
    **{f.name: _declared(f.name, f) for f in dataclass_fields(SandboxConfig) if f.name in SETTINGS},
    **{f.name: _declared(f.name, f) for f in dataclass_fields(Reading)},
}
ResetOptions = create_model(  # type: ignore[call-overload]
    "ResetOptions",
    __config__=ConfigDict(extra="forbid"),
    __doc__="Reseed; omitted values return to the startup configuration.",
    **_ALL_OPTIONS,
)
ConfigOptions = create_model(  # type: ignore[call-overload]
    "ConfigOptions",
    __config__=ConfigDict(extra="forbid"),
    __doc__="Runtime configuration; changing budget or window empties the window.",
    **{name: _ALL_OPTIONS[name] for name in ("budget", "window", *OPTION_NAMES)},
)


def _given(options: BaseModel) -> dict[str, Any]:
    """The options a request names (``max_bulk: null`` included)."""
    return {name: getattr(options, name) for name in options.model_fields_set}


class FaultOptions(_Options):
    """Fault injection; ``{}`` clears it."""

    rate: float = Field(default=0.0, ge=0.0, le=1.0)
    kinds: list[str] | None = None
    endpoints: list[str] | None = None
    slow_seconds: float = Field(default=5.0, ge=0.0)
    seed: int = 0
    script: list[str] = Field(default_factory=list)


class OutageOptions(_Options):
    """Fail every API request with ``kind`` for ``seconds`` (0 ends it)."""

    seconds: float = Field(ge=0.0)
    kind: str = FAULT_HTML502


class AddIntents(_Options):
    """Partial intents to add."""

    intents: list[dict[str, Any]]


def _config(state: SandboxState) -> dict[str, Any]:
    return {"budget": state.budget.limit, "window": state.budget.window, **state.reading.as_dict()}


@router.get("")
async def index(state: State) -> dict[str, Any]:
    """This list: the admin routes, the API's base path and key, and where the OpenAPI document is."""
    routes = [
        {"method": method, "path": route.path, "summary": (route.endpoint.__doc__ or "").strip().splitlines()[0]}
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]
    return {
        "api": {"base_path": EXTERNAL_PREFIX, "auth_header": AUTH_HEADER, "api_key": state.api_key},
        "openapi": OPENAPI_PATH,
        "admin_routes": routes,
    }


@router.get("/health")
async def health(state: State) -> dict[str, Any]:
    """Liveness, with a summary of the data."""
    return {"status": "ok", "intents": len(state.store), "variants": len(state.catalog), "base_path": EXTERNAL_PREFIX}


@router.get("/ledger")
async def ledger(state: State) -> dict[str, Any]:
    """Every notification sent: counts per intent, duplicates and events."""
    return state.ledger.snapshot()


@router.get("/stats")
async def stats(state: State) -> dict[str, Any]:
    """Request counters, plus the budget and fault configuration."""
    return {
        **state.stats.snapshot(),
        "budget": {**_config(state), "remaining": state.budget.remaining(), "peak": state.budget.peak},
        "fault_config": state.faults.describe(),
    }


@router.post("/reset")
async def reset(state: State, options: ResetOptions | None = None) -> dict[str, Any]:  # type: ignore[valid-type]
    """Reseed the data; clear the ledger, statistics, faults and budget window."""
    try:
        state.reset(**(_given(options) if options is not None else {}))
    except ValueError as exc:
        raise ApiError.of(400, str(exc)) from None
    return {
        "intents": len(state.store),
        "variants": len(state.catalog),
        "seed": state.seed_options.seed,
        **_config(state),
    }


@router.get("/config")
async def get_config(state: State) -> dict[str, Any]:
    """The runtime configuration."""
    return _config(state)


@router.post("/config")
async def set_config(state: State, options: ConfigOptions) -> dict[str, Any]:  # type: ignore[valid-type]
    """Change the budget, window and/or the reading of the undocumented behaviours."""
    given = _given(options)
    budget, window = given.pop("budget", None), given.pop("window", None)
    try:
        reading = state.reading.with_options(**given)
    except ValueError as exc:
        raise ApiError.of(400, str(exc)) from None
    if budget is not None or window is not None:
        state.budget.configure(limit=budget, window=window)
    state.set_reading(reading)
    return _config(state)


@router.get("/faults")
async def get_faults(state: State) -> dict[str, Any]:
    """The fault configuration."""
    return state.faults.describe()


@router.post("/faults")
async def set_faults(state: State, options: FaultOptions) -> dict[str, Any]:
    """Configure fault injection (``{}`` clears it; an outage in progress is kept)."""
    try:
        settings = FaultSettings.build(**options.model_dump())
    except ValueError as exc:
        raise ApiError.of(400, str(exc)) from None
    state.faults.configure(settings)
    return state.faults.describe()


@router.post("/outage")
async def outage(state: State, options: OutageOptions) -> dict[str, Any]:
    """Start (or end, with 0 seconds) an outage."""
    try:
        check_kind(options.kind)
    except ValueError as exc:
        raise ApiError.of(400, str(exc)) from None
    state.faults.start_outage(options.seconds, options.kind)
    return state.faults.describe()


@router.post("/intents")
async def create_intents(state: State, body: AddIntents) -> dict[str, Any]:
    """Add intents given as partial field dictionaries; answers the complete intents."""
    return {"intents": add_intents(state, body.intents)}


@router.get("/intents", response_model=None)
async def all_intents(state: State) -> JSONResponse:
    """Every intent, in listing order."""
    return JSONResponse({"intents": state.store.ordered()})


@router.get("/catalog")
async def catalog(state: State) -> dict[str, Any]:
    """Every known variant."""
    return {
        "variants": [
            {
                "shopify_variant_id": v.shopify_variant_id,
                "shopify_product_id": v.shopify_product_id,
                "shopify_inventory_item_id": v.shopify_inventory_item_id,
                "title": v.title,
                "sku": v.sku,
                "product_title": v.product_title,
                "vendor": v.vendor,
            }
            for v in state.catalog
        ]
    }


@router.get("/pii")
async def pii(state: State) -> dict[str, Any]:
    """The secrets and personal data a client must never log (for leak checks)."""
    intents = state.store.ordered()
    return {
        "api_key": state.api_key,
        "emails": sorted({i["email"] for i in intents if i["email"]}),
        "phones": sorted({i["phone"] for i in intents if i["phone"]}),
    }

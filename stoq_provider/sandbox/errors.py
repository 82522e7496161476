"""Error bodies: the contract's ``{"error": "..."}`` envelope for every refusal.

FastAPI answers invalid input with ``422 {"detail": [...]}``; the sandbox answers ``400
{"error": "<what is wrong>"}`` instead, as STOQ does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_DEFAULT_DETAILS = {404: "Not found", 405: "Method not allowed"}


class ApiError(Exception):
    """A refusal with the exact status code and JSON body the API answers."""

    def __init__(self, status_code: int, body: dict[str, Any], *, html: str | None = None) -> None:
        super().__init__(f"{status_code}: {body}")
        self.status_code = status_code
        self.body = body
        #: An HTML page answered instead of the JSON body (what a proxy in front of STOQ sends).
        self.html_page = html

    @classmethod
    def html(cls, status_code: int, title: str) -> ApiError:
        """A proxy's HTML error page, e.g. ``413 Request Entity Too Large``."""
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return cls(status_code, {}, html=page)

    @classmethod
    def of(cls, status_code: int, message: str, **extra: Any) -> ApiError:
        """An error whose body is ``{"error": message, **extra}``."""
        return cls(status_code, {"error": message, **extra})


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """One readable sentence from pydantic's error list, e.g. ``"per_page: Input should be ..."``."""
    parts: list[str] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in _LOCATIONS]
        field = ".".join(loc) or "request body"
        kind = error.get("type", "")
        if kind == "missing":
            parts.append(f"{field} is required")
        elif kind == "json_invalid":
            parts.append("request body is not valid JSON")
        else:
            parts.append(f"{field}: {error.get('msg', 'invalid value')}")
    return "; ".join(dict.fromkeys(parts)) or "Bad request"


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"error": describe_validation_errors(exc.errors())}, status_code=400)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code in _DEFAULT_DETAILS and detail in ("Not Found", "Method Not Allowed"):
        detail = _DEFAULT_DETAILS[exc.status_code]
    return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.html_page is not None:
        return HTMLResponse(exc.html_page, status_code=exc.status_code)
    return JSONResponse(exc.body, status_code=exc.status_code)


def install_error_handlers(app: FastAPI) -> None:
    """Make every refusal of ``app`` use the ``{"error": ...}`` envelope."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)

"""The v1 contract (``api/contract.py``): costs, answers mapped to errors, page and notify parsers."""

from __future__ import annotations

import json

import pytest

from stoq_provider.api import contract as protocol
from stoq_provider.api.contract import ApiRequest, ApiResponse, request_cost
from stoq_provider.exceptions import (
    StoqAuthError,
    StoqNotFoundError,
    StoqProtocolError,
    StoqRequestError,
    StoqServerError,
)


def test_costs():
    assert request_cost("GET") == 1
    assert [request_cost(m) for m in ("POST", "PUT", "PATCH", "DELETE")] == [2, 2, 2, 2]


REQ = ApiRequest("GET", "intents", "list_intents")


def _resp(status, body=b"", content_type="application/json"):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return ApiResponse(status, {"Content-Type": content_type}, body)


@pytest.mark.parametrize(
    ("response", "error", "match"),
    [
        (_resp(401), StoqAuthError, "401"),
        (_resp(404, {"error": "Not found"}), StoqNotFoundError, "Not found"),
        (_resp(400, {"error": "bad date"}), StoqRequestError, "bad date"),
        (_resp(422, b"<oops>", "text/plain"), StoqRequestError, "422"),
        (_resp(502, b"<html><body>Bad gateway</body></html>", "text/html"), StoqServerError, "HTML error page"),
        (_resp(200, b"<!DOCTYPE html><p>captive portal</p>", "text/plain"), StoqServerError, "HTML"),
        (_resp(503, {"error": "down"}), StoqServerError, "503"),
        (_resp(200, b"{not json"), StoqServerError, "not JSON"),
        (_resp(200, b""), StoqServerError, "empty body"),
        (_resp(301), StoqRequestError, "redirect"),
    ],
)
def test_check_response_maps_errors(response, error, match):
    with pytest.raises(error, match=match):
        protocol.check_response(REQ, response, conn_id="stoq_default")


def test_check_response_redacts_server_text():
    response = _resp(422, {"errors": ["Email jane.doe@example.com is invalid", "key stoq_api_key_abc"]})
    with pytest.raises(StoqRequestError) as info:
        protocol.check_response(REQ, response, conn_id="c", secrets=("stoq_api_key_abc",))
    assert "jane.doe@example.com" not in str(info.value) and "stoq_api_key_abc" not in str(info.value)
    assert "<email>" in str(info.value)


def test_parse_intents_page_tolerates_unknown_fields_and_reads_has_next_page():
    page, meta, has_next = protocol.parse_intents_page(
        {"intents": [{"id": "a", "new_field": 1}], "meta": {"page": 1}, "x": 2}
    )
    assert page == [{"id": "a", "new_field": 1}] and meta == {"page": 1} and has_next is None
    assert protocol.parse_intents_page({"intents": [], "has_next_page": False})[2] is False
    for wrong in ([], {"intents": {}}, {"intents": [{"no_id": 1}]}, "text"):
        with pytest.raises(StoqProtocolError):
            protocol.parse_intents_page(wrong)


def test_parse_bulk_notify_shapes():
    assert protocol.parse_bulk_notify({"success": ["a"], "failed": [{"intent_id": "b", "error": "x"}]}) == (
        ["a"],
        [("b", "x")],
    )
    with pytest.raises(StoqProtocolError):
        protocol.parse_bulk_notify({"success": "a"})
    with pytest.raises(StoqProtocolError):
        protocol.parse_bulk_notify({"failed": ["b"]})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Intent has already been notified", True), ("already sent", True), ("Customer unsubscribed", False)],
)
def test_means_already_notified(text, expected):
    assert protocol.means_already_notified(text) is expected


def test_request_label_has_no_query_and_costs():
    request = ApiRequest("GET", "intents", "list_intents", params={"email": "a@b.c"})
    assert request.label == "GET /intents" and request.cost == 1 and request.is_read
    public = ApiRequest("POST", "https://app.stoqapp.com/api/v1/intents.json", "create_intent", authenticated=False)
    assert public.label == "POST /api/v1/intents.json" and public.cost == 0

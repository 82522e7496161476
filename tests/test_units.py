"""Unit tests of the pure parts: rate budget, settings, protocol parsing, redaction, results."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from stoq_provider.api import contract as protocol
from stoq_provider.api.contract import ApiRequest, ApiResponse, request_cost
from stoq_provider.api.ratelimit import RateBudget, retry_after_seconds
from stoq_provider.api.results import BulkNotifyResult
from stoq_provider.api.settings import DEFAULT_BASE_URL, StoqSettings, validate_shop_domain
from stoq_provider.exceptions import (
    StoqAuthError,
    StoqConfigError,
    StoqNotFoundError,
    StoqProtocolError,
    StoqRequestError,
    StoqServerError,
)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _headers(limit, remaining, reset):
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}


def test_costs():
    assert request_cost("GET") == 1
    assert [request_cost(m) for m in ("POST", "PUT", "PATCH", "DELETE")] == [2, 2, 2, 2]


def test_budget_unknown_until_headers_arrive():
    budget = RateBudget(clock=Clock())
    assert budget.reserve(2) == 0.0
    assert budget.remaining is None


def test_budget_reset_passed_restores_limit():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(360, 0, 999.0))
    assert budget.reserve(2) == 0.0
    assert budget.remaining == 360


def test_budget_takes_size_from_headers_not_a_constant():
    budget = RateBudget(clock=Clock())
    budget.observe(_headers(20, 20, 1002))
    assert budget.limit == 20


def test_budget_ignores_malformed_headers():
    budget = RateBudget(clock=Clock())
    budget.observe({"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": "3"})
    budget.observe({})
    assert budget.limit is None and budget.reserve(2) == 0.0


def test_budget_after_429_blocks_everyone():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(10, 10, 1010))
    budget.exhausted_for(3.0)
    assert budget.reserve(1) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "7"}, {"retry_after": 24}, 7.0),
        ({}, {"retry_after": 24}, 24.0),
        ({"X-RateLimit-Reset": "1012.5"}, None, 12.5),
        ({"Retry-After": "soon"}, {"retry_after": "later"}, None),
        ({"Retry-After": "-3"}, None, 0.0),
    ],
)
def test_retry_after(headers, body, expected):
    assert retry_after_seconds(headers, body, now=1000.0) == expected


def _conn(**kwargs):
    base = {"conn_id": "stoq_default", "password": "stoq_api_key_x", "host": None, "schema": None, "port": None}
    base.update(kwargs)
    extra = base.pop("extra", {})
    return SimpleNamespace(extra_dejson=extra, **base)


def test_settings_defaults_and_repr_hides_key():
    settings = StoqSettings.from_connection(_conn())
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.public_intents_url == "https://app.stoqapp.com/api/v1/intents.json"
    assert "stoq_api_key_x" not in repr(settings)
    assert settings.verify is True


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        ("app.restockrocket.io", None, None, "https://app.restockrocket.io/api/v1/external"),
        ("http://127.0.0.1:8765/api/v1/external/", None, None, "http://127.0.0.1:8765/api/v1/external"),
        ("localhost", "http", 8765, "http://localhost:8765/api/v1/external"),
        ("https://proxy.example.com/stoq", None, None, "https://proxy.example.com/stoq"),
    ],
)
def test_settings_base_url(host, schema, port, expected):
    assert StoqSettings.from_connection(_conn(host=host, schema=schema, port=port)).base_url == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"password": None}, "no API key"),
        ({"host": "http://10.1.2.3/api"}, "http://"),
        ({"host": "ftp://x"}, "host"),
        ({"host": "https://user:pw@app.stoqapp.com"}, "credentials"),
        ({"extra": {"timeout": "soon"}}, "timeout"),
        ({"extra": {"timeout": 0}}, "timeout"),
        ({"extra": {"batch_size": 2.5}}, "batch_size"),
        ({"extra": {"shop_domain": "mystore.com"}}, "shop_domain"),
        ({"host": "http://stoq-proxy.internal/api/v1/external"}, "refusing plain http://"),
    ],
)
def test_settings_refuse_bad_connections(kwargs, match):
    with pytest.raises(StoqConfigError, match=match):
        StoqSettings.from_connection(_conn(**kwargs))


@pytest.mark.parametrize(
    "extra",
    [
        {"verify": False},
        {"verify": "false"},
        {"verify_ssl": "0"},
        {"ssl_verify": "no"},
        {"insecure": True},
        {"insecure_skip_verify": "true"},
        {"verify": "/etc/ssl/custom.pem"},
    ],
)
def test_settings_refuse_extras_that_would_switch_tls_verification_off(extra):
    with pytest.raises(StoqConfigError, match=r"never switches TLS certificate verification off.*ca_bundle"):
        StoqSettings.from_connection(_conn(extra=extra))


@pytest.mark.parametrize("extra", [{"verify": True}, {"verify": "true"}, {"insecure": "false"}])
def test_settings_accept_extras_that_keep_tls_verification_on(extra):
    assert StoqSettings.from_connection(_conn(extra=extra)).verify is True


def test_settings_plain_http_has_no_opt_in():
    conn = _conn(host="http://stoq-proxy.internal/api/v1/external", extra={"allow_insecure_http": "true"})
    with pytest.raises(StoqConfigError, match="https://"):
        StoqSettings.from_connection(conn)


def test_settings_ui_prefixed_extras_and_ca_bundle():
    conn = _conn(extra={"extra__stoq__shop_domain": "My-Store.myshopify.com", "ca_bundle": "/etc/ca.pem"})
    settings = StoqSettings.from_connection(conn)
    assert settings.shop_domain == "my-store.myshopify.com"
    assert settings.verify == "/etc/ca.pem"


@pytest.mark.parametrize(
    "domain", [".myshopify.com", "shop.myshopify.com/x", "shop.myshopify.co", "https://a.myshopify.com"]
)
def test_shop_domain_validation(domain):
    with pytest.raises(StoqConfigError, match=r"myshopify\.com"):
        validate_shop_domain(domain)


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


def test_results_to_dict_is_json():
    result = BulkNotifyResult(requested=3, sent=["a"], already_notified=["b"], failed=[("c", "blocked")], requests=1)
    data = json.loads(json.dumps(result.to_dict(max_failures=0)))
    assert data["sent_count"] == 1 and data["failed_count"] == 1 and data["failed"] == []
    assert str(result) == "1 sent, 1 already notified, 1 failed of 3"


def test_redaction_filter_scrubs_urllib3_lines():
    import logging

    from stoq_provider.api.redaction import ContactDataFilter

    record = logging.LogRecord(
        "urllib3", logging.DEBUG, "", 0, '"%s %s HTTP/1.1" %s', ("GET", "/x?email=a%40b.com&page=1", 200), None
    )
    ContactDataFilter().filter(record)
    assert "a%40b.com" not in record.getMessage() and "page=1" in record.getMessage()


def test_budget_learns_the_window_and_reuses_points_as_own_requests_leave_it():
    """A lone client of a rolling window waits for its own oldest request to age out, not for a full reset."""
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(6, 6, 1000.0))  # nothing in the window yet
    for remaining in (4, 2, 0):
        assert budget.reserve(2) == 0.0
        sent = clock.now
        clock.now += 0.1  # answered 0.1 s later; the server charged it at +0.05 s, its reset is exact (ms)
        budget.observe(_headers(6, remaining, sent + 0.05 + 10.0), sent_at=sent, cost=2)
        clock.now = sent + 1.0
    # The first answer, alone in the window, bounds it: reset 1010.05 - sent 1000.
    assert budget.window_at_most == pytest.approx(10.05)
    # At 1003 the window is full (answered at 1000.1, 1001.1, 1002.1); the first surely leaves by 1010.15.
    assert budget.reserve(2) == pytest.approx(1010.15 - 1003.0)
    assert budget.reserve(2) == pytest.approx(1011.15 - 1003.0)  # then the second, not the reset at 1012.05


def test_budget_forgets_own_requests_that_the_headers_already_count_as_gone():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(6, 6, 1000.0))
    assert budget.reserve(2) == 0.0  # sent at 1000
    budget.observe(_headers(6, 4, 1010.0), sent_at=1000.0, cost=2)
    clock.now = 1010.5  # that request left the window at 1010; a later answer already counts it as gone
    budget.observe(_headers(6, 0, 1015.0), sent_at=1010.4, cost=2)  # meanwhile others spent everything
    assert budget.reserve(2) == pytest.approx(4.5)  # the reset: our old request must not be counted twice


def test_budget_refused_requests_are_not_expected_back():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(6, 0, 1004.5), sent_at=999.9, cost=0)  # a 429: nothing charged, nothing returns
    assert budget.reserve(2) == pytest.approx(4.5)


def test_budget_waits_for_the_reset_when_other_tasks_spent_the_window():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(10, 0, 1004.0))  # someone else spent it all; none of it is ours
    assert budget.reserve(2) == pytest.approx(4.0)
    assert budget.remaining == 10  # the window after the reset, from which this request draws


def test_budget_never_waits_longer_than_the_reset():
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(10, 10, 1060.0))  # learns a 60 s window
    assert budget.reserve(2) == 0.0
    budget.observe(_headers(10, 0, 1003.0))  # a fixed window about to reset: sooner than our request leaves
    assert budget.reserve(2) == pytest.approx(3.0)

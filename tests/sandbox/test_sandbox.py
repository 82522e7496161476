"""Tests of the STOQ sandbox itself, over real HTTP on loopback.

Run with ``pytest tests/sandbox/test_sandbox.py -p stoq_provider.sandbox.pytest_plugin`` (or with the
plugin listed in ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from stoq_provider.sandbox import DEFAULT_API_KEY, DEFAULT_SHOP_DOMAIN, SandboxServer
from stoq_provider.sandbox.constants import ENDPOINT_NAMES, FAULT_KINDS, MALFORMED_FAULT_KINDS
from stoq_provider.sandbox.fault_layer import EXTRA_FIELDS, GARBAGE_BODY, WRONG_SHAPES, abort_connection
from stoq_provider.sandbox.faults import FaultSettings
from stoq_provider.sandbox.server import SandboxAdminError
from tests.support.paths import ROOT

pytestmark = pytest.mark.sandbox

CONNECTION_FAILURES = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
INTENT_FIELDS = {
    "id",
    "type",
    "channel",
    "email",
    "phone",
    "contact",
    "customer_name",
    "customer_id",
    "shop_id",
    "product_variant_id",
    "intent_trigger_id",
    "shopify_variant_id",
    "shopify_product_id",
    "shopify_inventory_item_id",
    "shopify_market_id",
    "quantity",
    "sent_notifications_count",
    "notifications_count",
    "optin_confirmed",
    "accepts_marketing",
    "notified_at",
    "blocked_at",
    "unsubscribed_at",
    "customer_unsubscribed_at",
    "created_at",
    "updated_at",
}


class Api:
    """A tiny client of the sandbox's v1 API (key included)."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["X-Auth-Token"] = sandbox.api_key

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.sandbox.base_url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.sandbox.base_url + path, timeout=10, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.delete(self.sandbox.base_url + path, timeout=10, **kwargs)

    def notify(self, intent_id: str, **kwargs: Any) -> requests.Response:
        return self.post("/intents/notify_intent", json={"id": intent_id, **kwargs})

    def signup(self, body: Any, *, domain: str | None = DEFAULT_SHOP_DOMAIN, **kwargs: Any) -> requests.Response:
        headers = {"X-Shopify-Shop-Domain": domain} if domain is not None else {}
        return requests.post(
            self.sandbox.origin + "/api/v1/intents.json", json=body, headers=headers, timeout=10, **kwargs
        )


@pytest.fixture
def api(stoq_sandbox: SandboxServer) -> Iterator[Api]:
    client = Api(stoq_sandbox)
    yield client
    client.session.close()


def pending(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """Intents that can be notified."""
    return [
        i
        for i in sandbox.intents()
        if not (i["notified_at"] or i["blocked_at"] or i["unsubscribed_at"] or i["customer_unsubscribed_at"])
    ]


def first_where(sandbox: SandboxServer, field: str) -> dict[str, Any]:
    """The first intent with ``field`` set."""
    return next(i for i in sandbox.intents() if i[field] is not None)


def signup_body(variant_id: int, product_id: int, **customer: Any) -> dict[str, Any]:
    return {
        "intent": {
            "shopify_variant_id": variant_id,
            "shopify_product_id": product_id,
            "channel": "email",
            "quantity": 1,
            "source": "api",
        },
        "customer": {"email": "new.shopper@example.com", "name": "New Shopper", **customer},
    }


# -- seeding -------------------------------------------------------------------------------------


def test_seeded_data_is_deterministic_and_complete(stoq_sandbox: SandboxServer) -> None:
    intents = stoq_sandbox.intents()
    assert len(intents) == 200
    assert all(set(i) == INTENT_FIELDS for i in intents)
    assert stoq_sandbox.intents() == intents
    assert {i["shopify_variant_id"] for i in intents} == {40_000_000_000 + n for n in range(5)}
    assert all(
        i["shopify_product_id"] == 8_000_000_000 + (i["shopify_variant_id"] - 40_000_000_000) // 2 for i in intents
    )
    assert all(
        i["email"].endswith("@example.com") and i["phone"].startswith("1555") and i["phone"].isdigit() for i in intents
    )
    assert all(i["created_at"].endswith("Z") and 1 <= i["quantity"] <= 3 for i in intents)
    assert any(i["notified_at"] for i in intents) and any(i["type"] == "wishlist_reminder" for i in intents)
    assert any(i["intent_trigger_id"] is None for i in intents)
    stoq_sandbox.reset(seed=1)
    assert {i["id"] for i in stoq_sandbox.intents()}.isdisjoint({i["id"] for i in intents})
    stoq_sandbox.reset(seed=0)
    assert stoq_sandbox.intents() == intents


def test_reset_pending_only(stoq_sandbox: SandboxServer) -> None:
    assert stoq_sandbox.reset(intents=30, variants=3, pending_only=True)["intents"] == 30
    intents = stoq_sandbox.intents()
    assert len(intents) == 30 and len(pending(stoq_sandbox)) == 30
    assert {i["type"] for i in intents} == {"restock"}


def test_large_data_set_lists_fast(api: Api, stoq_sandbox: SandboxServer) -> None:
    started = time.perf_counter()
    stoq_sandbox.reset(intents=100_000, variants=10)
    assert time.perf_counter() - started < 6
    started = time.perf_counter()
    last = api.get("/intents", params={"page": 200, "per_page": 500}).json()
    variant = api.get("/intents", params={"shopify_variant_id": 40_000_000_003, "per_page": 500}).json()
    assert time.perf_counter() - started < 2
    assert len(last["intents"]) == 500 and last["meta"]["total_pages"] == 200
    assert variant["meta"]["total_count"] == 10_000


# -- GET /intents ---------------------------------------------------------------------------------


def test_list_intents_pages_in_order(api: Api) -> None:
    first = api.get("/intents")
    assert first.status_code == 200
    body = first.json()
    assert body["meta"] == {"total_count": 200, "page": 1, "per_page": 25, "total_pages": 8}
    collected = []
    for page in range(1, 5):
        collected += api.get("/intents", params={"page": page, "per_page": 60}).json()["intents"]
    assert len(collected) == 200
    assert collected == sorted(collected, key=lambda i: (i["created_at"], i["id"]))
    beyond = api.get("/intents", params={"page": 5, "per_page": 60}).json()
    assert beyond["intents"] == [] and beyond["meta"]["total_pages"] == 4


def test_list_intents_filters(api: Api, stoq_sandbox: SandboxServer) -> None:
    everything = stoq_sandbox.intents()

    def listed(**params: Any) -> list[dict[str, Any]]:
        return api.get("/intents", params={"per_page": 500, **params}).json()["intents"]

    assert len(listed(shopify_variant_id=40_000_000_001)) == 40
    assert len(listed(shopify_product_id=8_000_000_000)) == 80
    assert len(listed(shopify_product_id=8_000_000_000, shopify_variant_id=40_000_000_002)) == 0
    someone = everything[7]
    assert {i["email"] for i in listed(email=someone["email"])} == {someone["email"]}
    assert {i["phone"] for i in listed(phone=someone["phone"])} == {someone["phone"]}
    notified = listed(notified="true")
    assert notified and all(i["notified_at"] for i in notified)
    assert len(notified) + len(listed(notified="false")) == 200
    day = someone["created_at"][:10]
    expected = [i["id"] for i in everything if i["created_at"][:10] >= day]
    assert [i["id"] for i in listed(start_date=day)] == expected
    assert all(i["created_at"][:10] == day for i in listed(start_date=day, end_date=day))


@pytest.mark.parametrize(
    "params",
    [
        {"shopify_variant_id": "abc"},
        {"shopify_product_id": "1.5x"},
        {"start_date": "2026-13-01"},
        {"end_date": "yesterday"},
        {"start_date": "2026-05-02", "end_date": "2026-05-01"},
        {"per_page": 501},
        {"per_page": 0},
        {"page": 0},
        {"notified": "yes"},
    ],
)
def test_list_intents_rejects_bad_parameters(api: Api, params: dict[str, Any]) -> None:
    response = api.get("/intents", params=params)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert all(name in response.headers for name in RATE_HEADERS)


# -- GET /intents/{id} ----------------------------------------------------------------------------


def test_get_intent(api: Api, stoq_sandbox: SandboxServer) -> None:
    intent = stoq_sandbox.intents()[3]
    assert api.get(f"/intents/{intent['id']}").json() == intent
    missing = api.get("/intents/no-such-intent")
    assert missing.status_code == 404 and missing.json() == {"error": "Not found"}


# -- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "stoq_api_key_wrong"}])
def test_unauthorized_is_not_charged(stoq_sandbox: SandboxServer, headers: dict[str, str]) -> None:
    response = requests.get(stoq_sandbox.base_url + "/intents", headers=headers, timeout=10)
    assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}
    assert not any(name in response.headers for name in RATE_HEADERS)
    stats = stoq_sandbox.stats()
    assert stats["points_charged"] == 0 and stats["requests"]["list_intents"] == {"401": 1}


# -- POST /intents/notify_intent ------------------------------------------------------------------


def test_notify_intent_and_resend(api: Api, stoq_sandbox: SandboxServer) -> None:
    intent = pending(stoq_sandbox)[0]
    sent = api.notify(intent["id"])
    assert sent.status_code == 200 and sent.json() == {"success": True, "intent_id": intent["id"]}
    after = api.get(f"/intents/{intent['id']}").json()
    assert after["notified_at"] and after["sent_notifications_count"] == intent["sent_notifications_count"] + 1
    again = api.notify(intent["id"])
    assert again.status_code == 422 and again.json() == {"error": "Intent has already been notified"}
    assert stoq_sandbox.ledger()["duplicates"] == []
    assert api.notify(intent["id"], allow_resend=True).status_code == 200
    ledger = stoq_sandbox.ledger()
    assert ledger["sends"] == {intent["id"]: 2} and ledger["total_sends"] == 2
    assert ledger["duplicates"] == [intent["id"]]
    assert [e["allow_resend"] for e in ledger["events"]] == [False, True]


@pytest.mark.parametrize(
    ("field", "word"),
    [("blocked_at", "blocked"), ("unsubscribed_at", "unsubscribed"), ("customer_unsubscribed_at", "Customer")],
)
def test_notify_refuses_unreachable_intents(api: Api, stoq_sandbox: SandboxServer, field: str, word: str) -> None:
    intent = first_where(stoq_sandbox, field)
    response = api.notify(intent["id"], allow_resend=True)
    assert response.status_code == 422 and word in response.json()["error"]
    assert stoq_sandbox.ledger()["total_sends"] == 0


def test_notify_unknown_and_bad_bodies(api: Api) -> None:
    assert api.notify("nope").status_code == 404
    assert api.notify("nope").json() == {"error": "Not found"}
    for body in ({}, {"id": 5}, {"id": "x", "allow_resend": "yes"}, ["x"]):
        response = api.post("/intents/notify_intent", json=body)
        assert response.status_code == 400 and response.json()["error"], body
    not_json = api.post("/intents/notify_intent", data=b"{oops", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and "JSON" in not_json.json()["error"]


# -- POST /intents/bulk_notify_intent -------------------------------------------------------------


def test_bulk_notify_all_and_partial(api: Api, stoq_sandbox: SandboxServer) -> None:
    ready = [i["id"] for i in pending(stoq_sandbox)[:4]]
    ok = api.post("/intents/bulk_notify_intent", json={"intent_ids": [*ready[:2], ready[0]]})
    assert ok.status_code == 200 and ok.json() == {"success": ready[:2], "failed": []}
    blocked = first_where(stoq_sandbox, "blocked_at")["id"]
    mixed = api.post("/intents/bulk_notify_intent", json={"intent_ids": [ready[0], ready[2], "ghost", blocked]})
    assert mixed.status_code == 207
    body = mixed.json()
    assert body["success"] == [ready[2]]
    errors = {f["intent_id"]: f["error"] for f in body["failed"]}
    assert errors[ready[0]] == "Intent has already been notified"
    assert errors["ghost"] == "Intent not found" and "blocked" in errors[blocked]
    assert stoq_sandbox.ledger()["sends"] == {ready[0]: 1, ready[1]: 1, ready[2]: 1}


@pytest.mark.parametrize("body", [{}, {"intent_ids": []}, {"intent_ids": "abc"}, {"intent_ids": [1, 2]}])
def test_bulk_notify_rejects_bad_bodies(api: Api, body: dict[str, Any]) -> None:
    response = api.post("/intents/bulk_notify_intent", json=body)
    assert response.status_code == 400 and response.json()["error"]


def test_bulk_notify_maximum(api: Api, stoq_sandbox: SandboxServer) -> None:
    stoq_sandbox.configure(max_bulk=3)
    ids = [i["id"] for i in pending(stoq_sandbox)[:4]]
    refused = api.post("/intents/bulk_notify_intent", json={"intent_ids": ids})
    assert refused.status_code == 400 and refused.json() == {"error": "at most 3 intent_ids per request"}
    assert api.post("/intents/bulk_notify_intent", json={"intent_ids": ids[:3]}).status_code == 200
    stoq_sandbox.configure(max_bulk=None)
    assert api.post("/intents/bulk_notify_intent", json={"intent_ids": ids}).status_code == 207


# -- DELETE /intents/bulk_destroy -----------------------------------------------------------------


def test_bulk_destroy(api: Api, stoq_sandbox: SandboxServer) -> None:
    unsent = [i["id"] for i in stoq_sandbox.intents() if i["notified_at"] is None][:3]
    sent = first_where(stoq_sandbox, "notified_at")["id"]
    conflict = api.delete("/intents/bulk_destroy", json={"intent_ids": [*unsent, sent]})
    assert conflict.status_code == 422 and conflict.json()["sent_intent_ids"] == [sent]
    assert len(stoq_sandbox.intents()) == 200
    done = api.delete("/intents/bulk_destroy", json={"intent_ids": [*unsent, "ghost"]})
    assert done.status_code == 200 and done.json() == {"success": True, "deleted_count": 3}
    assert len(stoq_sandbox.intents()) == 197
    assert api.get(f"/intents/{unsent[0]}").status_code == 404
    gone = api.delete("/intents/bulk_destroy", json={"intent_ids": unsent})
    assert gone.status_code == 404 and gone.json() == {"error": "Not found"}
    for body in ({}, {"intent_ids": []}):
        bad = api.delete("/intents/bulk_destroy", json=body)
        assert bad.status_code == 400 and bad.json()["error"]


# -- POST /intents/transfer_signups ---------------------------------------------------------------


def test_transfer_signups(api: Api, stoq_sandbox: SandboxServer) -> None:
    source = [i for i in stoq_sandbox.intents() if i["shopify_variant_id"] == 40_000_000_000]
    unsent = [i["id"] for i in source if i["notified_at"] is None]
    body = {
        "from_shopify_variant_id": 40_000_000_000,
        "from_shopify_product_id": 8_000_000_000,
        "to_shopify_variant_id": 40_000_000_001,
        "to_shopify_product_id": 8_000_000_000,
    }
    moved = api.post("/intents/transfer_signups", json=body)
    assert moved.status_code == 200 and moved.content == b""
    assert {i["shopify_variant_id"] for i in (api.get(f"/intents/{x}").json() for x in unsent)} == {40_000_000_001}
    remaining = api.get("/intents", params={"shopify_variant_id": 40_000_000_000, "per_page": 500}).json()
    assert remaining["meta"]["total_count"] == len(source) - len(unsent)
    assert api.post("/intents/transfer_signups", json=body).status_code == 422
    new_home = {
        **body,
        "to_shopify_variant_id": 49_999_999_999,
        "to_shopify_product_id": 8_999_999_999,
        "intent_type": "all",
    }
    assert api.post("/intents/transfer_signups", json=new_home).status_code == 200
    demand = api.get("/intents/products_in_demand", params={"per_page": 500}).json()["product_variants_in_demand"]
    moved_item = next(d for d in demand if d["shopify_variant_id"] == 49_999_999_999)
    assert moved_item["total"] == len(source) - len(unsent)
    assert moved_item["product_data"]["id"] == 8_999_999_999


@pytest.mark.parametrize(
    "body",
    [
        {},
        {
            "from_shopify_variant_id": "40000000000",
            "from_shopify_product_id": 1,
            "to_shopify_variant_id": 2,
            "to_shopify_product_id": 3,
        },
        {
            "from_shopify_variant_id": 1,
            "from_shopify_product_id": 1,
            "to_shopify_variant_id": 2,
            "to_shopify_product_id": 3,
            "intent_type": "some",
        },
    ],
)
def test_transfer_signups_rejects_bad_bodies(api: Api, body: dict[str, Any]) -> None:
    response = api.post("/intents/transfer_signups", json=body)
    assert response.status_code == 400 and response.json()["error"]


def test_transfer_signups_with_no_match(api: Api) -> None:
    body = {
        "from_shopify_variant_id": 1,
        "from_shopify_product_id": 2,
        "to_shopify_variant_id": 3,
        "to_shopify_product_id": 4,
        "intent_type": "sent",
    }
    response = api.post("/intents/transfer_signups", json=body)
    assert response.status_code == 422 and response.json()["error"]


# -- GET /intents/products_in_demand --------------------------------------------------------------


def test_products_in_demand(api: Api, stoq_sandbox: SandboxServer) -> None:
    intents = stoq_sandbox.intents()
    page1 = api.get("/intents/products_in_demand", params={"per_page": 3}).json()
    page2 = api.get("/intents/products_in_demand", params={"per_page": 3, "page": 2}).json()
    assert page1["has_next_page"] is True and page2["has_next_page"] is False
    items = page1["product_variants_in_demand"] + page2["product_variants_in_demand"]
    assert len(items) == 5 and page1["meta"]["total_count"] == 5
    for item in items:
        mine = [i for i in intents if i["shopify_variant_id"] == item["shopify_variant_id"]]
        assert item["total"] == len(mine)
        assert item["pending"] == sum(1 for i in mine if i["notified_at"] is None)
        assert item["last_requested_at"] == max(i["created_at"] for i in mine)
        assert set(item) == {
            "shopify_variant_id",
            "shopify_product_id",
            "shopify_inventory_item_id",
            "total",
            "pending",
            "last_requested_at",
            "product_data",
        }
        data = item["product_data"]
        assert data["id"] == item["shopify_product_id"] and data["title"] and data["vendor"]
        assert {v["id"] for v in data["variants"]} >= {item["shopify_variant_id"]}
        assert all(set(v) == {"id", "title", "sku"} for v in data["variants"])
    day = intents[100]["created_at"][:10]
    since = api.get("/intents/products_in_demand", params={"start_date": day, "per_page": 500}).json()
    assert sum(d["total"] for d in since["product_variants_in_demand"]) == sum(
        1 for i in intents if i["created_at"][:10] >= day
    )
    assert api.get("/intents/products_in_demand", params={"per_page": 501}).status_code == 400
    bad_range = api.get("/intents/products_in_demand", params={"start_date": "2026-02-02", "end_date": "2026-02-01"})
    assert bad_range.status_code == 400


# -- POST /api/v1/intents.json ---------------------------------------------------------------------


def test_create_intent(api: Api, stoq_sandbox: SandboxServer) -> None:
    created = api.signup(signup_body(40_000_000_002, 8_000_000_001))
    assert created.status_code == 201
    intent = created.json()["intent"]
    assert set(intent) == INTENT_FIELDS and intent["notified_at"] is None
    assert intent["contact"] == "new.shopper@example.com" and intent["channel"] == "email"
    assert not any(name in created.headers for name in RATE_HEADERS)
    assert api.get(f"/intents/{intent['id']}").json() == intent
    duplicate = api.signup(signup_body(40_000_000_002, 8_000_000_001))
    assert duplicate.status_code == 200 and duplicate.json()["errors"]
    assert stoq_sandbox.stats()["points_charged"] == 1


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"intent": {"shopify_variant_id": 40_000_000_000, "shopify_product_id": 8_000_000_000}}, "channel"),
        (
            {
                "intent": {
                    "shopify_variant_id": 40_000_000_000,
                    "shopify_product_id": 8_000_000_000,
                    "channel": "fax",
                    "quantity": 1,
                    "source": "api",
                }
            },
            "channel must be",
        ),
        (
            {
                "intent": {
                    "shopify_variant_id": 40_000_000_000,
                    "shopify_product_id": 8_000_000_000,
                    "channel": "sms",
                    "quantity": 1,
                    "source": "api",
                }
            },
            "customer.phone",
        ),
        (
            {
                "intent": {
                    "shopify_variant_id": 123,
                    "shopify_product_id": 8_000_000_000,
                    "channel": "email",
                    "quantity": 1,
                    "source": "api",
                }
            },
            "not found",
        ),
        ({"customer": {"email": "x@example.com", "phone": "+15551234567"}}, "digits"),
    ],
)
def test_create_intent_reports_errors_in_a_200(api: Api, change: dict[str, Any], fragment: str) -> None:
    body = {**signup_body(40_000_000_000, 8_000_000_000), **change}
    response = api.signup(body)
    assert response.status_code == 200
    assert any(fragment in error for error in response.json()["errors"])


def test_create_intent_rejections(api: Api) -> None:
    body = signup_body(40_000_000_000, 8_000_000_000)
    assert api.signup(body, domain="other.myshopify.com").json() == {"error": "Not found"}
    assert api.signup(body, domain=None).status_code == 404
    assert api.signup({"customer": body["customer"]}).status_code == 400
    not_json = requests.post(
        api.sandbox.origin + "/api/v1/intents.json",
        data=b"intent=1",
        timeout=10,
        headers={"X-Shopify-Shop-Domain": DEFAULT_SHOP_DOMAIN, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400 and not_json.json()["error"]


# -- rate budget ----------------------------------------------------------------------------------


def test_rate_headers_and_costs(api: Api, stoq_sandbox: SandboxServer) -> None:
    before = time.time()
    first = api.get("/intents")
    assert first.headers["X-RateLimit-Limit"] == "360"
    assert first.headers["X-RateLimit-Remaining"] == "359"
    reset = int(first.headers["X-RateLimit-Reset"])
    assert before + 60 <= reset <= time.time() + 61
    post = api.notify("ghost")
    assert post.status_code == 404 and post.headers["X-RateLimit-Remaining"] == "357"
    bulk = api.post("/intents/bulk_notify_intent", json={"intent_ids": ["a", "b", "c"]})
    assert bulk.headers["X-RateLimit-Remaining"] == "355"
    assert stoq_sandbox.stats()["points_charged"] == 5


def test_over_budget_answers_429_without_charging(api: Api, stoq_sandbox: SandboxServer) -> None:
    stoq_sandbox.configure(budget=5)
    for _ in range(2):
        assert api.notify("ghost").status_code == 404
    refused = api.notify("ghost")
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"] == "Rate limit exceeded" and body["message"]
    assert isinstance(body["retry_after"], int) and 1 <= body["retry_after"] <= 60
    assert refused.headers["Retry-After"] == str(body["retry_after"])
    assert refused.headers["X-RateLimit-Remaining"] == "1"
    assert api.get("/intents").status_code == 200  # a GET (1 point) still fits
    assert api.get("/intents").status_code == 429
    stats = stoq_sandbox.stats()
    assert stats["points_charged"] == 5 and stats["rate_limited"] == 2


def test_rolling_window_with_a_short_window(api: Api, stoq_sandbox: SandboxServer) -> None:
    stoq_sandbox.configure(budget=4, window=1.0)
    started = time.time()
    assert api.notify("ghost").status_code == 404
    time.sleep(0.3)
    assert api.notify("ghost").status_code == 404
    refused = api.get("/intents")
    assert refused.status_code == 429
    retry_after = refused.headers["Retry-After"]
    assert len(retry_after.split(".")[1]) == 3  # milliseconds for a sped-up clock
    assert 0.5 <= float(retry_after) <= 1.0  # the first charge leaves the window first
    assert "." in refused.headers["X-RateLimit-Reset"]
    assert float(refused.headers["X-RateLimit-Reset"]) >= started + 1.3
    time.sleep(float(retry_after))
    ok = api.get("/intents")
    assert ok.status_code == 200 and ok.headers["X-RateLimit-Remaining"] == "1"


def test_configure_clears_the_window(api: Api, stoq_sandbox: SandboxServer) -> None:
    stoq_sandbox.configure(budget=2)
    api.notify("ghost")
    assert api.get("/intents").status_code == 429
    config = stoq_sandbox.configure(budget=10, window=30.0)
    assert (config["budget"], config["window"], config["max_bulk"]) == (10, 30.0, None)
    assert api.get("/intents").headers["X-RateLimit-Remaining"] == "9"


# -- faults ---------------------------------------------------------------------------------------


def _notify_outcome(api: Api, intent_id: str, **kwargs: Any) -> requests.Response | Exception:
    try:
        return api.notify(intent_id, **kwargs)
    except CONNECTION_FAILURES as exc:
        return exc


def test_error500_and_html502_are_not_applied_nor_charged(api: Api, stoq_sandbox: SandboxServer) -> None:
    intent = pending(stoq_sandbox)[0]
    stoq_sandbox.set_faults(script=["error500", "html502"])
    first = api.notify(intent["id"])
    assert first.status_code == 500 and first.json() == {"error": "Internal server error"}
    second = api.notify(intent["id"])
    assert second.status_code == 502 and second.headers["content-type"].startswith("text/html")
    assert "<html" in second.text.lower()
    assert stoq_sandbox.ledger()["total_sends"] == 0
    stats = stoq_sandbox.stats()
    assert stats["points_charged"] == 0 and stats["faults"] == {"error500": 1, "html502": 1}
    assert api.notify(intent["id"]).status_code == 200


def test_drop_closes_the_connection_and_is_not_applied(api: Api, stoq_sandbox: SandboxServer) -> None:
    intent = pending(stoq_sandbox)[0]
    stoq_sandbox.set_faults(script=["drop"])
    outcome = _notify_outcome(api, intent["id"])
    assert isinstance(outcome, requests.exceptions.ConnectionError)
    assert stoq_sandbox.ledger()["total_sends"] == 0
    assert api.get(f"/intents/{intent['id']}").json()["notified_at"] is None
    assert stoq_sandbox.stats()["faults"] == {"drop": 1}


def test_lost_applies_the_request_but_the_answer_never_arrives(api: Api, stoq_sandbox: SandboxServer) -> None:
    intent = pending(stoq_sandbox)[0]
    stoq_sandbox.set_faults(script=["lost"])
    outcome = _notify_outcome(api, intent["id"])
    assert isinstance(outcome, CONNECTION_FAILURES)
    assert stoq_sandbox.ledger()["sends"] == {intent["id"]: 1}
    assert api.get(f"/intents/{intent['id']}").json()["notified_at"] is not None
    assert stoq_sandbox.stats()["points_charged"] == 3  # the lost notify was charged, then the GET


def test_slow_answers_late_but_normally(api: Api, stoq_sandbox: SandboxServer) -> None:
    intent = pending(stoq_sandbox)[0]
    stoq_sandbox.set_faults(script=["slow"], slow_seconds=0.4)
    started = time.perf_counter()
    response = api.notify(intent["id"])
    assert response.status_code == 200 and time.perf_counter() - started >= 0.4
    stoq_sandbox.set_faults(script=["slow"], slow_seconds=0.5)
    other = pending(stoq_sandbox)[0]
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.session.post(api.sandbox.base_url + "/intents/notify_intent", json={"id": other["id"]}, timeout=0.1)
    time.sleep(0.6)
    assert stoq_sandbox.ledger()["sends"] == {intent["id"]: 1, other["id"]: 1}  # applied after the timeout


def test_faults_target_endpoints_and_script_none(api: Api, stoq_sandbox: SandboxServer) -> None:
    intent = pending(stoq_sandbox)[0]
    stoq_sandbox.set_faults(endpoints=["notify_intent"], script=["none", "error500"])
    assert api.get("/intents").status_code == 200  # not targeted: the script is not consumed
    assert api.notify(intent["id"]).status_code == 200  # "none"
    assert api.notify(intent["id"], allow_resend=True).status_code == 500
    assert api.notify(intent["id"], allow_resend=True).status_code == 200


def test_random_faults_are_seeded(api: Api, stoq_sandbox: SandboxServer) -> None:
    def statuses() -> list[int]:
        stoq_sandbox.set_faults(rate=0.5, kinds=["error500", "html502"], seed=7)
        return [api.get("/intents").status_code for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 500, 502}
    stoq_sandbox.set_faults(rate=1.0, kinds=["error500"], endpoints=["get_intent"])
    assert api.get("/intents/whatever").status_code == 500
    assert api.get("/intents").status_code == 200
    stoq_sandbox.clear_faults()
    assert api.get("/intents/whatever").status_code == 404


def test_faults_never_touch_admin_routes(stoq_sandbox: SandboxServer) -> None:
    stoq_sandbox.set_faults(rate=1.0, kinds=["drop"])
    assert stoq_sandbox.health()["status"] == "ok"
    assert stoq_sandbox.ledger()["total_sends"] == 0


def test_outage(api: Api, stoq_sandbox: SandboxServer) -> None:
    stoq_sandbox.outage(0.5)
    down = api.get("/intents")
    assert down.status_code == 502 and "text/html" in down.headers["content-type"]
    assert api.signup(signup_body(40_000_000_000, 8_000_000_000)).status_code == 502
    assert stoq_sandbox.stats()["fault_config"]["outage"]["kind"] == "html502"
    time.sleep(0.6)
    assert api.get("/intents").status_code == 200
    stoq_sandbox.outage(30, kind="error500")
    assert api.get("/intents").status_code == 500
    stoq_sandbox.outage(0)
    assert api.get("/intents").status_code == 200


def test_invalid_fault_settings_are_refused(stoq_sandbox: SandboxServer) -> None:
    for options in ({"kinds": ["meteor"]}, {"endpoints": ["nope"]}, {"rate": 2}, {"script": ["boom"]}):
        with pytest.raises(SandboxAdminError) as info:
            stoq_sandbox.set_faults(**options)
        assert info.value.status == 400
    with pytest.raises(SandboxAdminError):
        stoq_sandbox.outage(1, kind="meteor")


def test_garbage_and_wrong_shape_answer_200_without_applying(api: Api, stoq_sandbox: SandboxServer) -> None:
    intent = pending(stoq_sandbox)[0]
    stoq_sandbox.set_faults(script=["garbage", "wrong_shape", "wrong_shape", "wrong_shape"])
    garbage = api.notify(intent["id"])
    assert garbage.status_code == 200 and garbage.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(garbage.content)
    bulk = api.post("/intents/bulk_notify_intent", json={"intent_ids": [intent["id"]]})
    assert bulk.json() == WRONG_SHAPES["bulk_notify"]
    listing = api.get("/intents").json()
    assert listing == WRONG_SHAPES["list_intents"] and not isinstance(listing["intents"], list)
    assert "id" not in api.get(f"/intents/{intent['id']}").json()
    assert stoq_sandbox.ledger()["total_sends"] == 0
    stats = stoq_sandbox.stats()
    assert stats["points_charged"] == 0 and stats["faults"] == {"garbage": 1, "wrong_shape": 3}
    assert api.notify(intent["id"]).json() == {"success": True, "intent_id": intent["id"]}


def test_wrong_shape_of_every_endpoint(stoq_sandbox: SandboxServer) -> None:
    assert set(WRONG_SHAPES) == set(ENDPOINT_NAMES)
    for endpoint, body in WRONG_SHAPES.items():
        assert json.loads(json.dumps(body)) == body, endpoint


def test_oversize_pads_pages_past_per_page_and_applies_requests(api: Api, stoq_sandbox: SandboxServer) -> None:
    stoq_sandbox.set_faults(script=["oversize"] * 4)
    intents = api.get("/intents", params={"per_page": 5}).json()
    assert len(intents["intents"]) == 6 and intents["meta"]["per_page"] == 5
    assert intents["intents"][5] == intents["intents"][0]  # padded by repeating the page
    assert len(api.get("/intents").json()["intents"]) == 26  # the default per_page is 25
    demand = api.get("/intents/products_in_demand", params={"per_page": 2}).json()
    assert len(demand["product_variants_in_demand"]) == 3
    intent = pending(stoq_sandbox)[0]
    assert api.notify(intent["id"]).json() == {"success": True, "intent_id": intent["id"]}  # not a page: untouched
    assert stoq_sandbox.ledger()["sends"] == {intent["id"]: 1}
    assert stoq_sandbox.stats()["faults"] == {"oversize": 4}


def test_oversize_leaves_an_empty_page_empty(api: Api, stoq_sandbox: SandboxServer) -> None:
    stoq_sandbox.set_faults(script=["oversize"])
    assert api.get("/intents", params={"shopify_variant_id": 1}).json()["intents"] == []


def test_extra_fields_reach_every_object_and_requests_apply(api: Api, stoq_sandbox: SandboxServer) -> None:
    intent = pending(stoq_sandbox)[0]
    plain = api.get(f"/intents/{intent['id']}").json()
    stoq_sandbox.set_faults(script=["extra_fields"] * 3)
    extra = api.get(f"/intents/{intent['id']}").json()
    assert {key: extra[key] for key in plain} == plain and set(extra) - set(plain) == set(EXTRA_FIELDS)
    page = api.get("/intents", params={"per_page": 3}).json()
    assert set(EXTRA_FIELDS) <= set(page) and set(EXTRA_FIELDS) <= set(page["meta"])
    assert all(set(EXTRA_FIELDS) <= set(item) and set(item) >= INTENT_FIELDS for item in page["intents"])
    sent = api.post("/intents/bulk_notify_intent", json={"intent_ids": [intent["id"]]})
    assert int(sent.headers["content-length"]) == len(sent.content)
    assert sent.json()["success"] == [intent["id"]] and sent.json()["failed"] == []
    assert stoq_sandbox.ledger()["sends"] == {intent["id"]: 1}
    assert "X-RateLimit-Remaining" in sent.headers


def test_malformed_kinds_are_never_drawn_unless_named(api: Api, stoq_sandbox: SandboxServer) -> None:
    assert set(MALFORMED_FAULT_KINDS).isdisjoint(FAULT_KINDS)
    assert FaultSettings.build(rate=1.0).kinds == FAULT_KINDS == FaultSettings().kinds
    assert stoq_sandbox.set_faults(rate=0.5)["kinds"] == list(FAULT_KINDS)
    named = stoq_sandbox.set_faults(rate=1.0, kinds=["wrong_shape"], endpoints=["list_intents"])
    assert named["kinds"] == ["wrong_shape"]
    assert api.get("/intents").json() == WRONG_SHAPES["list_intents"]
    stoq_sandbox.outage(30, kind="garbage")
    assert api.get("/intents/products_in_demand").content == GARBAGE_BODY
    stoq_sandbox.outage(0)


def test_cli_accepts_malformed_kinds_but_never_draws_them_by_default() -> None:
    from stoq_provider.sandbox.__main__ import build_parser, config_from_args

    parser = build_parser()
    assert config_from_args(parser.parse_args([])).faults.kinds == FAULT_KINDS
    chosen = config_from_args(parser.parse_args(["--fault-rate", "0.1", "--faults", "garbage,extra_fields,drop"]))
    assert chosen.faults.kinds == ("garbage", "extra_fields", "drop")
    with pytest.raises(SystemExit):
        parser.parse_args(["--faults", "meteor"])
    assert all(kind in parser.format_help().replace("\n", "").replace(" ", "") for kind in MALFORMED_FAULT_KINDS)


def test_drop_fallback_without_a_reachable_transport() -> None:
    """Under a server whose transport is out of reach, the drop sends a truncated answer instead."""
    messages: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        messages.append(message)

    asyncio.run(abort_connection(send))
    start, body = messages
    assert start["type"] == "http.response.start"
    declared = int(dict(start["headers"])[b"content-length"])
    assert body["more_body"] is True and len(body["body"]) < declared


# -- admin routes ---------------------------------------------------------------------------------


def test_admin_add_intents_and_pii(api: Api, stoq_sandbox: SandboxServer) -> None:
    added = stoq_sandbox.add_intents(
        [
            {"email": "solo@example.com", "shopify_variant_id": 40_000_000_004},
            {"id": "fixed-id", "notified_at": "2026-01-02T03:04:05+00:00", "created_at": "2026-01-01"},
        ]
    )
    assert set(added[0]) == INTENT_FIELDS and added[0]["email"] == "solo@example.com"
    assert added[0]["shopify_product_id"] == 8_000_000_002
    assert added[1]["notified_at"] == "2026-01-02T03:04:05Z" and added[1]["sent_notifications_count"] == 1
    assert api.get("/intents/fixed-id").json() == added[1]
    assert api.get("/intents", params={"per_page": 1}).json()["intents"][0]["id"] == "fixed-id"  # oldest
    assert len(stoq_sandbox.intents()) == 202
    for bad in ([{"bogus": 1}], [{"id": "fixed-id"}], [{"quantity": "many"}]):
        with pytest.raises(SandboxAdminError):
            stoq_sandbox.add_intents(bad)
    pii = stoq_sandbox.pii()
    assert pii["api_key"] == DEFAULT_API_KEY and "solo@example.com" in pii["emails"]
    assert all(phone.startswith("1555") for phone in pii["phones"])


def test_admin_reset_clears_everything(api: Api, stoq_sandbox: SandboxServer) -> None:
    stoq_sandbox.configure(budget=3, window=5.0, max_bulk=2)
    stoq_sandbox.set_faults(script=["error500"])
    api.notify(pending(stoq_sandbox)[0]["id"])
    api.notify(pending(stoq_sandbox)[0]["id"])
    summary = stoq_sandbox.reset(intents=12, variants=2, anchor="2026-03-01")
    assert summary["intents"] == 12 and summary["budget"] == 360 and summary["max_bulk"] is None
    assert stoq_sandbox.ledger() == {"sends": {}, "total_sends": 0, "duplicates": [], "events": []}
    stats = stoq_sandbox.stats()
    assert stats["total_requests"] == 0 and stats["faults"] == {}
    assert stats["fault_config"]["script_remaining"] == []
    assert all(i["created_at"] < "2026-03-01" for i in stoq_sandbox.intents())
    assert api.get("/intents").headers["X-RateLimit-Remaining"] == "359"
    with pytest.raises(SandboxAdminError):
        stoq_sandbox.reset(intents=-1)


def test_stats_count_requests_per_endpoint(api: Api, stoq_sandbox: SandboxServer) -> None:
    api.get("/intents")
    api.get("/intents/ghost")
    api.notify("ghost")
    requests_by_endpoint = stoq_sandbox.stats()["requests"]
    assert requests_by_endpoint == {"list_intents": {"200": 1}, "get_intent": {"404": 1}, "notify_intent": {"404": 1}}


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/intents/notify_intent", "POST"),
        ("/intents/bulk_notify_intent", "POST"),
        ("/intents/bulk_destroy", "DELETE"),
        ("/intents/transfer_signups", "POST"),
        ("/intents/some-intent-id", "GET"),
    ],
)
def test_wrong_method_names_the_methods_of_that_path(api: Api, path: str, allowed: str) -> None:
    response = api.session.put(api.sandbox.base_url + path, timeout=10)
    assert response.status_code == 405 and response.json() == {"error": "Method not allowed"}
    assert response.headers["Allow"] == allowed


def test_a_trailing_slash_is_not_redirected(api: Api) -> None:
    response = api.get("/intents/", allow_redirects=False)
    assert response.status_code == 404 and response.json() == {"error": "Not found"}


def test_openapi_document(stoq_sandbox: SandboxServer) -> None:
    schema = requests.get(stoq_sandbox.openapi_url, timeout=10).json()
    assert stoq_sandbox.openapi_url == stoq_sandbox.origin + "/openapi.json" and stoq_sandbox.openapi() == schema
    listing = schema["paths"]["/api/v1/external/intents"]["get"]
    assert {"200", "400", "401", "429"} <= set(listing["responses"]) and "422" not in listing["responses"]
    assert listing["operationId"] == "list_intents"
    assert set(RATE_HEADERS) <= set(listing["responses"]["200"]["headers"])
    assert "Retry-After" in listing["responses"]["429"]["headers"] and "headers" not in listing["responses"]["401"]
    notified = next(p for p in listing["parameters"] if p["name"] == "notified")
    assert notified["schema"]["type"] == "boolean"
    notify = schema["paths"]["/api/v1/external/intents/notify_intent"]["post"]
    assert "422" in notify["responses"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-Auth-Token"
    intent = schema["components"]["schemas"]["Intent"]["properties"]
    assert intent["created_at"]["format"] == "date-time" and intent["type"]["enum"] == ["restock", "wishlist_reminder"]
    signup = schema["paths"]["/api/v1/intents.json"]["post"]
    assert "security" not in signup and signup["parameters"][0]["required"] is True
    assert not any(path.startswith("/_sandbox") for path in schema["paths"])


def test_connection_json(stoq_sandbox: SandboxServer) -> None:
    conn = json.loads(stoq_sandbox.connection_json(timeout=3))
    assert conn == {
        "conn_type": "stoq",
        "host": stoq_sandbox.base_url,
        "password": DEFAULT_API_KEY,
        "extra": {"shop_domain": DEFAULT_SHOP_DOMAIN, "timeout": 3},
    }


# -- running modes ---------------------------------------------------------------------------------


def test_subprocess_mode_starts_and_stops() -> None:
    sandbox = SandboxServer(subprocess=True, intents=20, variants=2, api_key="stoq_api_key_" + "k" * 32, max_bulk=5)
    with sandbox:
        assert sandbox.state is None and sandbox.health()["intents"] == 20
        response = requests.get(sandbox.base_url + "/intents", headers={"X-Auth-Token": sandbox.api_key}, timeout=10)
        assert response.status_code == 200 and response.json()["meta"]["total_count"] == 20
        assert sandbox.stats()["budget"]["max_bulk"] == 5
        sandbox.set_faults(script=["drop"])
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(sandbox.base_url + "/intents", headers={"X-Auth-Token": sandbox.api_key}, timeout=10)
    assert sandbox.exit_code == 0 and not sandbox.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(sandbox.origin + "/_sandbox/health", timeout=2)


def test_in_process_server_with_its_own_settings() -> None:
    with SandboxServer(intents=10, variants=1, budget=3, window=2.0, shop_domain="x.myshopify.com") as sandbox:
        assert sandbox.state is not None and len(sandbox.state.store) == 10
        response = requests.get(sandbox.base_url + "/intents", headers={"X-Auth-Token": sandbox.api_key}, timeout=10)
        assert response.headers["X-RateLimit-Limit"] == "3" and "." in response.headers["X-RateLimit-Reset"]
        port = sandbox.port
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=2)


def test_cli_help() -> None:
    root = ROOT
    result = subprocess.run(
        [sys.executable, "-m", "stoq_provider.sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": ""},
    )
    assert result.returncode == 0
    for option in (
        "--port",
        "--seed",
        "--intents",
        "--budget",
        "--window",
        "--fault-rate",
        "--faults",
        "--slow-seconds",
        "--fault-seed",
        "--max-bulk",
        "--api-key",
        "--shop-domain",
    ):
        assert option in result.stdout


def test_cli_serves_until_terminated() -> None:
    root = ROOT
    process = subprocess.Popen(
        [sys.executable, "-m", "stoq_provider.sandbox", "--port", "0", "--intents", "5", "--window", "10"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": ""},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("STOQ sandbox listening on http://127.0.0.1:") and line.endswith("/api/v1/external")
        base_url = line.rsplit(" ", 1)[1]
        response = requests.get(base_url + "/intents", headers={"X-Auth-Token": DEFAULT_API_KEY}, timeout=10)
        assert response.json()["meta"]["total_count"] == 5
    finally:
        process.terminate()
        assert process.wait(10) == 0
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_fault_rate_shows_from_the_first_requests(seed: int) -> None:
    """At ``--fault-rate 0.2`` the first 25 requests meet faults, whatever the seed (0, the default, included)."""
    from stoq_provider.sandbox.faults import FaultPolicy, FaultSettings

    policy = FaultPolicy(settings=FaultSettings.build(rate=0.2, seed=seed))
    drawn = [policy.pick("list_intents") for _ in range(25)]
    assert 2 <= sum(kind is not None for kind in drawn) <= 9

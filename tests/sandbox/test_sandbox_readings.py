"""The sandbox serves every reading of STOQ's docs it is asked for (see ``stoq_provider.sandbox.readings``)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import requests

from stoq_provider.sandbox import SandboxServer
from stoq_provider.sandbox.__main__ import build_parser, config_from_args
from stoq_provider.sandbox.budget import RateBudget
from stoq_provider.sandbox.readings import Reading
from stoq_provider.sandbox.state import SandboxConfig, SandboxState
from stoq_provider.sandbox.store import IntentFilter, IntentStore

pytestmark = pytest.mark.sandbox


@pytest.fixture
def api(stoq_sandbox: SandboxServer) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.headers["X-Auth-Token"] = stoq_sandbox.api_key
    yield session
    session.close()


def test_page_cap_serves_smaller_pages_and_says_so(stoq_sandbox, api):
    stoq_sandbox.reset(intents=250, page_cap=100)
    body = api.get(stoq_sandbox.base_url + "/intents", params={"per_page": 500, "page": 3}, timeout=10).json()
    assert len(body["intents"]) == 50
    assert body["meta"] == {"total_count": 250, "page": 3, "per_page": 100, "total_pages": 3}
    demand = api.get(stoq_sandbox.base_url + "/intents/products_in_demand", params={"per_page": 2}, timeout=10).json()
    assert demand["meta"]["per_page"] == 2, "a smaller per_page than the cap is honoured"


def test_ignoring_per_page_serves_the_cap_whatever_is_asked(stoq_sandbox, api):
    stoq_sandbox.reset(intents=60, ignore_per_page=True, page_cap=25)
    body = api.get(stoq_sandbox.base_url + "/intents", params={"per_page": 1}, timeout=10).json()
    assert len(body["intents"]) == 25 and body["meta"]["per_page"] == 25 and body["meta"]["total_pages"] == 3


def test_count_extra_makes_listings_fall_short_of_their_count(stoq_sandbox, api):
    stoq_sandbox.reset(intents=30, count_extra=4)
    body = api.get(stoq_sandbox.base_url + "/intents", params={"per_page": 500}, timeout=10).json()
    assert len(body["intents"]) == 30 and body["meta"]["total_count"] == 34


@pytest.mark.parametrize(("status", "content_type"), [(400, "application/json"), (413, "text/html")])
def test_bulk_cap_refuses_and_applies_nothing(stoq_sandbox, api, status, content_type):
    stoq_sandbox.reset(intents=30, variants=1, pending_only=True, max_bulk=5, max_bulk_status=status)
    ids = [i["id"] for i in stoq_sandbox.intents()][:6]
    answer = api.post(stoq_sandbox.base_url + "/intents/bulk_notify_intent", json={"intent_ids": ids}, timeout=10)
    assert answer.status_code == status and answer.headers["content-type"].startswith(content_type)
    if status == 400:
        assert answer.json() == {"error": "at most 5 intent_ids per request"}
    assert stoq_sandbox.ledger()["total_sends"] == 0
    ok = api.post(stoq_sandbox.base_url + "/intents/bulk_notify_intent", json={"intent_ids": ids[:5]}, timeout=10)
    assert ok.status_code == 200 and stoq_sandbox.ledger()["total_sends"] == 5


def test_alternative_refusal_wording(stoq_sandbox, api):
    stoq_sandbox.reset(refusals="alternative")
    sent = next(i["id"] for i in stoq_sandbox.intents() if i["notified_at"])
    bulk = api.post(stoq_sandbox.base_url + "/intents/bulk_notify_intent", json={"intent_ids": [sent]}, timeout=10)
    assert bulk.json()["failed"] == [
        {"intent_id": sent, "error": "Notification was previously delivered for this signup"}
    ]
    single = api.post(stoq_sandbox.base_url + "/intents/notify_intent", json={"id": sent}, timeout=10)
    assert (
        single.status_code == 422 and single.json()["error"] == "Notification was previously delivered for this signup"
    )


def _resets(reading: str, times: list[float]) -> list[float]:
    clock = [0.0]
    budget = RateBudget(10, 5.0, clock=lambda: clock[0], reset_reading=reading)
    resets = []
    for at in times:
        clock[0] = at
        resets.append(budget.charge(1).reset_at)
    return resets


def test_reset_readings():
    times = [1000.5, 1001.0, 1003.0, 1005.6]
    # Fixed windows of 5 s from the epoch: the window's end.
    assert _resets("fixed", times) == [1005.0, 1005.0, 1005.0, 1010.0]
    # Rolling, oldest charge's expiry: stays put while the oldest is in the window.
    assert _resets("rolling-oldest", times) == [1005.5, 1005.5, 1005.5, 1006.0]
    # Rolling, newest charge's expiry (the sandbox's own reading): moves with every charge.
    assert _resets("rolling-newest", times) == [1005.5, 1006.0, 1008.0, 1010.6]


def test_a_fixed_window_refuses_until_its_end_then_frees_everything():
    clock = [1002.0]
    budget = RateBudget(2, 5.0, clock=lambda: clock[0], reset_reading="fixed")
    assert budget.charge(2).allowed
    refused = budget.charge(1)
    assert not refused.allowed and math.isclose(refused.retry_after, 3.0)
    clock[0] = 1005.0
    assert budget.remaining() == 2


def test_create_shape_bare(stoq_sandbox):
    stoq_sandbox.reset(create_shape="bare")
    variant = stoq_sandbox.intents()[0]
    body = {
        "intent": {
            "shopify_variant_id": variant["shopify_variant_id"],
            "shopify_product_id": variant["shopify_product_id"],
            "channel": "email",
            "quantity": 1,
            "source": "api",
        },
        "customer": {"email": "bare.shape@example.com"},
    }
    answer = requests.post(
        stoq_sandbox.origin + "/api/v1/intents.json",
        json=body,
        headers={"X-Shopify-Shop-Domain": stoq_sandbox.shop_domain},
        timeout=10,
    )
    assert answer.status_code == 201 and "intent" not in answer.json() and answer.json()["id"]


def test_readings_from_the_command_line_and_back():
    args = build_parser().parse_args(
        [
            "--page-cap",
            "100",
            "--ignore-per-page",
            "--max-bulk",
            "7",
            "--max-bulk-status",
            "413",
            "--reset-reading",
            "rolling-oldest",
            "--refusals",
            "alternative",
            "--create-shape",
            "bare",
            "--count-extra",
            "3",
        ]
    )
    reading = config_from_args(args).reading
    assert reading == Reading(
        page_cap=100,
        ignore_per_page=True,
        max_bulk=7,
        max_bulk_status=413,
        reset_reading="rolling-oldest",
        refusals="alternative",
        create_shape="bare",
        count_extra=3,
    )
    assert config_from_args(build_parser().parse_args(reading.cli_args())).reading == reading


def test_readings_in_a_child_process():
    with SandboxServer(subprocess=True, intents=20, page_cap=7, reset_reading="fixed") as sandbox:
        config = sandbox.stats()["budget"]
        assert (config["page_cap"], config["reset_reading"]) == (7, "fixed")


@pytest.mark.parametrize("zone", [-12, 14])
def test_day_filters_in_another_time_zone(stoq_sandbox, api, zone):
    """23:30 UTC on 2026-03-01 is 2026-03-01 at UTC-12 and 2026-03-02 at UTC+14."""
    stoq_sandbox.reset(intents=0, day_zone_hours=zone)
    [added] = stoq_sandbox.add_intents([{"shopify_variant_id": 40000000000, "created_at": "2026-03-01T23:30:00Z"}])
    local = "2026-03-01" if zone < 0 else "2026-03-02"
    for endpoint, key in (("/intents", "intents"), ("/intents/products_in_demand", "product_variants_in_demand")):
        url = stoq_sandbox.base_url + endpoint
        on_day = api.get(url, params={"start_date": local, "end_date": local}, timeout=10).json()[key]
        assert len(on_day) == 1, (endpoint, zone)
        other = "2026-03-02" if zone < 0 else "2026-03-01"
        assert api.get(url, params={"start_date": other, "end_date": other}, timeout=10).json()[key] == []
    assert added["created_at"] == "2026-03-01T23:30:00Z", "created_at itself stays UTC"


def test_bad_readings_are_refused(stoq_sandbox):
    from stoq_provider.sandbox.server import SandboxAdminError

    for options in (
        {"reset_reading": "sometimes"},
        {"max_bulk_status": 418},
        {"page_cap": 501},
        {"day_zone_hours": 15},
    ):
        with pytest.raises(SandboxAdminError) as info:
            stoq_sandbox.configure(**options)
        assert info.value.status == 400
    with pytest.raises(ValueError, match="unknown reading"):
        Reading().with_options(page_size=3)


def test_reset_returns_to_the_startup_reading(stoq_sandbox):
    stoq_sandbox.configure(page_cap=10, refusals="alternative")
    stoq_sandbox.reset()
    config = stoq_sandbox.stats()["budget"]
    assert (config["page_cap"], config["refusals"]) == (500, "default")


def test_a_listing_is_computed_once_until_the_store_changes(monkeypatch):
    """Paging costs each page its own size: the filtered list is kept until something changes."""
    state = SandboxState(SandboxConfig(intents=2000, variants=2))
    computed = []
    original = IntentStore._query
    monkeypatch.setattr(IntentStore, "_query", lambda self, flt: computed.append(flt) or original(self, flt))
    flt = IntentFilter(shopify_variant_id=40000000000, notified=False)
    first = state.store.query(flt)
    assert state.store.query(flt) is first and len(computed) == 1
    state.store.changed()  # e.g. an intent was notified
    state.store.query(flt)
    assert len(computed) == 2


def test_the_budget_reports_the_most_points_its_window_held():
    clock = [1000.0]
    budget = RateBudget(5, 10.0, clock=lambda: clock[0])
    for cost in (2, 2, 2):  # the third does not fit: refused, not charged
        budget.charge(cost)
    assert budget.peak == 4
    clock[0] += 11  # everything left the window
    budget.charge(1)
    assert budget.peak == 4, "the peak is the most ever held, not the current use"
    budget.clear()
    assert budget.peak == 0

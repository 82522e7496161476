"""StoqHook reads over real HTTP against the sandbox: paging, filters, errors, test_connection."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from stoq_provider.exceptions import StoqAuthError, StoqConfigError, StoqNotFoundError
from stoq_provider.hooks.stoq import StoqHook
from tests.support.helpers import calls, points


def _requests(server) -> int:
    return calls(server)


def test_list_intents_streams_every_page(stoq_sandbox, hook):
    stoq_sandbox.reset(seed=3, intents=1234, variants=3)
    expected = [i["id"] for i in sorted(stoq_sandbox.intents(), key=lambda i: (i["created_at"], i["id"]))]

    stream = hook.list_intents()
    assert next(stream)["id"] == expected[0]  # lazily: the first page arrives before the rest is asked for
    got = [expected[0]] + [intent["id"] for intent in stream]

    assert got == expected
    assert calls(stoq_sandbox, "list_intents") == 3  # 500 + 500 + 234


def test_list_intents_exact_multiple_of_page_size(stoq_sandbox, hook):
    stoq_sandbox.reset(seed=4, intents=1000, variants=2)
    assert len(list(hook.list_intents())) == 1000
    assert calls(stoq_sandbox, "list_intents") == 2


@pytest.mark.parametrize(
    ("kwargs", "keep"),
    [
        ({"shopify_variant_id": "VARIANT"}, lambda i, ref: i["shopify_variant_id"] == ref["shopify_variant_id"]),
        ({"shopify_product_id": "PRODUCT"}, lambda i, ref: i["shopify_product_id"] == ref["shopify_product_id"]),
        ({"email": "EMAIL"}, lambda i, ref: i["email"] == ref["email"]),
        ({"phone": "PHONE"}, lambda i, ref: i["phone"] == ref["phone"]),
        ({"notified": True}, lambda i, ref: i["notified_at"] is not None),
        ({"notified": False}, lambda i, ref: i["notified_at"] is None),
    ],
    ids=["variant", "product", "email", "phone", "notified", "not-notified"],
)
def test_list_intents_filters(stoq_sandbox, hook, kwargs, keep):
    intents = stoq_sandbox.intents()
    ref = intents[7]
    substitutes = {
        "VARIANT": ref["shopify_variant_id"],
        "PRODUCT": str(ref["shopify_product_id"]),
        "EMAIL": ref["email"],
        "PHONE": ref["phone"],
    }
    kwargs = {key: substitutes.get(value, value) if isinstance(value, str) else value for key, value in kwargs.items()}
    expected = sorted(i["id"] for i in intents if keep(i, ref))
    assert expected, "the seed must produce matches for this filter"
    assert sorted(i["id"] for i in hook.list_intents(**kwargs)) == expected


@pytest.mark.parametrize(
    "start",
    ["DATE", "DATETIME", "PENDULUM", "STRING"],
)
def test_list_intents_date_filters_accept_every_date_type(stoq_sandbox, hook, start):
    intents = stoq_sandbox.intents()
    days = sorted({i["created_at"][:10] for i in intents})
    first, last = days[len(days) // 3], days[2 * len(days) // 3]
    day = dt.date.fromisoformat(first)
    value = {
        "DATE": day,
        "DATETIME": dt.datetime(day.year, day.month, day.day, 23, 59),  # noqa: DTZ001 - a naive one is accepted too
        "PENDULUM": pendulum.datetime(day.year, day.month, day.day, tz="UTC"),
        "STRING": first,
    }[start]
    expected = sorted(i["id"] for i in intents if first <= i["created_at"][:10] <= last)
    assert sorted(i["id"] for i in hook.list_intents(start_date=value, end_date=last)) == expected


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"shopify_variant_id": "abc"}, "shopify_variant_id"),
        ({"shopify_variant_id": -5}, "shopify_variant_id"),
        ({"shopify_product_id": 0}, "shopify_product_id"),
        ({"start_date": "2026-13-01"}, "start_date"),
        ({"end_date": "yesterday"}, "end_date"),
        ({"start_date": "2026-05-02", "end_date": "2026-05-01"}, "start_date"),
        ({"notified": "no"}, "notified"),
        ({"email": ""}, "email"),
    ],
)
def test_bad_list_filters_fail_before_any_request(stoq_sandbox, hook, kwargs, names):
    with pytest.raises(StoqConfigError, match=names):
        list(hook.list_intents(**kwargs))
    assert _requests(stoq_sandbox) == 0


def test_get_intent_and_unknown_intent(stoq_sandbox, hook):
    ref = stoq_sandbox.intents()[0]
    assert hook.get_intent(ref["id"]) == ref
    with pytest.raises(StoqNotFoundError, match="404"):
        hook.get_intent("00000000-0000-4000-8000-000000000000")


def test_products_in_demand_pages_and_counts(stoq_sandbox, hook):
    stoq_sandbox.reset(seed=5, intents=3000, variants=600)
    intents = stoq_sandbox.intents()
    items = list(hook.products_in_demand())
    assert len(items) == len({i["shopify_variant_id"] for i in intents}) == 600
    assert calls(stoq_sandbox, "products_in_demand") == 2
    by_variant = {item["shopify_variant_id"]: item for item in items}
    some = intents[11]["shopify_variant_id"]
    mine = [i for i in intents if i["shopify_variant_id"] == some]
    assert by_variant[some]["total"] == len(mine)
    assert by_variant[some]["pending"] == sum(1 for i in mine if i["notified_at"] is None)
    assert {"shopify_product_id", "product_data", "last_requested_at"} <= set(by_variant[some])


def test_wrong_key_is_a_clear_auth_error(stoq_sandbox, set_stoq_connection, monkeypatch):
    set_stoq_connection()
    import json
    import os

    payload = json.loads(os.environ["AIRFLOW_CONN_STOQ_DEFAULT"])
    payload["password"] = "stoq_api_key_" + "x" * 32
    monkeypatch.setenv("AIRFLOW_CONN_STOQ_DEFAULT", json.dumps(payload))
    hook = StoqHook()
    with pytest.raises(StoqAuthError, match="401") as info:
        hook.get_intent("anything")
    assert "x" * 32 not in str(info.value)
    ok, message = hook.test_connection()
    assert not ok and "401" in message


@pytest.mark.parametrize("password", [None, "", "   "])
def test_blank_key_fails_before_any_request(stoq_sandbox, monkeypatch, password):
    import json

    payload = {"conn_type": "stoq", "host": stoq_sandbox.base_url}
    if password is not None:
        payload["password"] = password
    monkeypatch.setenv("AIRFLOW_CONN_STOQ_DEFAULT", json.dumps(payload))
    with pytest.raises(StoqConfigError, match="no API key"):
        StoqHook().get_intent("abc")
    assert _requests(stoq_sandbox) == 0


def test_missing_connection_is_a_clear_error():
    with pytest.raises(StoqConfigError, match="does not exist"):
        StoqHook(stoq_conn_id="no_such_stoq_connection").get_intent("abc")


def test_test_connection_ok(stoq_sandbox, hook):
    ok, message = hook.test_connection()
    assert ok, message
    assert "200 intents" in message
    assert points(stoq_sandbox) == 1


def test_caplog_holds_no_key_and_no_email(stoq_sandbox, hook, caplog):
    ref = stoq_sandbox.intents()[3]
    caplog.set_level("DEBUG")
    assert [i["id"] for i in hook.list_intents(email=ref["email"])]
    assert [i["id"] for i in hook.list_intents(phone=ref["phone"])]
    hook.notify_intent(ref["id"], allow_resend=True)
    assert caplog.records, "the hook and urllib3 log at DEBUG; the check must see real records"
    text = caplog.text
    assert stoq_sandbox.api_key not in text
    assert ref["email"] not in text and ref["email"].replace("@", "%40") not in text
    assert ref["phone"] not in text


def test_list_alertable_intents_applies_the_operators_rule(stoq_sandbox, hook):
    """What the README's hook snippet sends: nobody opted out, so no refusal comes back, now or on a rerun."""
    from stoq_provider.api.contract import OPTED_OUT

    stoq_sandbox.reset(seed=8, intents=600, variants=2)
    variant = stoq_sandbox.catalog()[0]["shopify_variant_id"]
    intents = [i for i in stoq_sandbox.intents() if i["shopify_variant_id"] == variant and not i["notified_at"]]
    waiting = {i["id"] for i in intents if i["type"] == "restock" and not any(i[name] for name in OPTED_OUT)}
    assert 0 < len(waiting) < len(intents)  # the seed has opted-out and other-type intents to leave out

    alertable = [i["id"] for i in hook.list_alertable_intents(shopify_variant_id=variant)]
    result = hook.bulk_notify_intents(alertable)

    assert set(alertable) == waiting and len(alertable) == len(waiting)
    assert result.failed == [] and set(result.sent) == waiting
    assert list(hook.list_alertable_intents(shopify_variant_id=variant)) == []
    both = {i["id"] for i in hook.list_alertable_intents(intent_types=["restock", "wishlist_reminder"])}
    assert both and not both & waiting
    with pytest.raises(StoqConfigError, match="intent_types"):
        hook.list_alertable_intents(intent_types=["restok"])

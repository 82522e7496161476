"""StoqHook writes over real HTTP against the sandbox: notify, bulk notify, delete, transfer, create."""

from __future__ import annotations

import json

import pytest

from stoq_provider.exceptions import (
    StoqConfigError,
    StoqNotFoundError,
    StoqRequestError,
)
from tests.support.helpers import calls, points


def _pending(server, **filters):
    return [
        i
        for i in server.intents()
        if i["notified_at"] is None
        and i["unsubscribed_at"] is None
        and i["customer_unsubscribed_at"] is None
        and i["blocked_at"] is None
        and all(i[key] == value for key, value in filters.items())
    ]


def _with(server, field):
    return next(i for i in server.intents() if i[field] is not None)


def test_notify_intent_sends_once_then_counts_as_already_notified(stoq_sandbox, hook):
    target = _pending(stoq_sandbox)[0]
    assert hook.notify_intent(target["id"]) == {"success": True, "intent_id": target["id"], "already_notified": False}
    again = hook.notify_intent(target["id"])
    assert again["already_notified"] is True
    assert stoq_sandbox.ledger()["sends"] == {target["id"]: 1}


def test_notify_intent_allow_resend_sends_again(stoq_sandbox, hook):
    target = _with(stoq_sandbox, "notified_at")
    assert hook.notify_intent(target["id"], allow_resend=True)["already_notified"] is False
    assert stoq_sandbox.ledger()["sends"] == {target["id"]: 1}


@pytest.mark.parametrize("field", ["unsubscribed_at", "customer_unsubscribed_at", "blocked_at"])
def test_notify_intent_refused_by_stoq_is_an_error(stoq_sandbox, hook, field):
    target = next(i for i in stoq_sandbox.intents() if i[field] is not None and i["notified_at"] is None)
    with pytest.raises(StoqRequestError, match=target["id"]):
        hook.notify_intent(target["id"])
    assert stoq_sandbox.ledger()["total_sends"] == 0


def test_notify_unknown_intent_is_not_found(stoq_sandbox, hook):
    with pytest.raises(StoqNotFoundError):
        hook.notify_intent("00000000-0000-4000-8000-000000000000")


def test_bulk_notify_all_sent_in_batches(stoq_sandbox, hook):
    ids = [i["id"] for i in _pending(stoq_sandbox)]
    result = hook.bulk_notify_intents(ids, batch_size=7)
    assert sorted(result.sent) == sorted(ids)
    assert result.failed == [] and result.already_notified == []
    assert result.requests == -(-len(ids) // 7) == calls(stoq_sandbox, "bulk_notify")
    assert stoq_sandbox.ledger()["sends"] == dict.fromkeys(ids, 1)
    assert json.loads(json.dumps(result.to_dict()))["sent_count"] == len(ids)


def test_bulk_notify_partial_207(stoq_sandbox, hook):
    pending = [i["id"] for i in _pending(stoq_sandbox)][:5]
    notified = _with(stoq_sandbox, "notified_at")["id"]
    blocked = next(i for i in stoq_sandbox.intents() if i["blocked_at"] and not i["notified_at"])["id"]
    unknown = "00000000-0000-4000-8000-000000000000"
    result = hook.bulk_notify_intents([*pending, notified, blocked, unknown, pending[0]])
    assert result.requested == 8  # the duplicate is dropped
    assert sorted(result.sent) == sorted(pending)
    assert result.already_notified == [notified]
    assert {iid for iid, _ in result.failed} == {blocked, unknown}
    assert all(error for _, error in result.failed)
    assert calls(stoq_sandbox, "bulk_notify", 207) == 1
    assert stoq_sandbox.ledger()["sends"] == dict.fromkeys(pending, 1)


def test_bulk_notify_rerun_sends_nothing_new(stoq_sandbox, hook):
    ids = [i["id"] for i in _pending(stoq_sandbox)]
    hook.bulk_notify_intents(ids)
    second = hook.bulk_notify_intents(ids)
    assert second.sent == [] and sorted(second.already_notified) == sorted(ids)
    assert stoq_sandbox.ledger()["duplicates"] == []


@pytest.mark.parametrize(
    ("ids", "kwargs", "match"),
    [
        ([], {}, "intent_ids is empty"),
        ("abc", {}, "intent_ids must be a list"),
        (["ok", ""], {}, "intent_ids"),
        (["ok", None], {}, "intent_ids"),
        (["ok"], {"batch_size": 0}, "batch_size"),
        (["ok"], {"batch_size": 10**6}, "batch_size"),
    ],
)
def test_bulk_notify_bad_input_fails_before_any_request(stoq_sandbox, hook, ids, kwargs, match):
    with pytest.raises(StoqConfigError, match=match):
        hook.bulk_notify_intents(ids, **kwargs)
    assert calls(stoq_sandbox) == 0


def test_delete_intents(stoq_sandbox, hook):
    unsent = [i["id"] for i in _pending(stoq_sandbox)][:3]
    assert hook.delete_intents(unsent) == 3
    remaining = {i["id"] for i in stoq_sandbox.intents()}
    assert not remaining & set(unsent)


def test_delete_intents_is_all_or_nothing(stoq_sandbox, hook):
    unsent = [i["id"] for i in _pending(stoq_sandbox)][:2]
    sent = _with(stoq_sandbox, "notified_at")["id"]
    with pytest.raises(StoqRequestError, match="422") as info:
        hook.delete_intents([*unsent, sent])
    assert info.value.status_code == 422
    assert info.value.sent_intent_ids == [sent] and f"already sent: {sent}." in str(info.value)
    remaining = {i["id"] for i in stoq_sandbox.intents()}
    assert set(unsent) <= remaining


def test_delete_intents_names_at_most_twenty_sent_ids(stoq_sandbox, hook):
    stoq_sandbox.reset(intents=600)
    sent = [i["id"] for i in stoq_sandbox.intents() if i["notified_at"]][:25]
    assert len(sent) == 25
    with pytest.raises(StoqRequestError) as info:
        hook.delete_intents(sent)
    message = str(info.value)
    assert "25 of the intents were already sent" in message and "and 5 more" in message
    assert all(iid in message for iid in sent[:20]) and not any(iid in message for iid in sent[20:])
    assert info.value.sent_intent_ids == sent


def test_delete_unknown_intents_is_not_found(stoq_sandbox, hook):
    with pytest.raises(StoqNotFoundError):
        hook.delete_intents(["00000000-0000-4000-8000-000000000000"])


def test_transfer_signups_moves_unsent(stoq_sandbox, hook):
    intents = stoq_sandbox.intents()
    source = intents[0]
    target = next(i for i in intents if i["shopify_variant_id"] != source["shopify_variant_id"])
    moving = [
        i["id"] for i in intents if i["shopify_variant_id"] == source["shopify_variant_id"] and not i["notified_at"]
    ]
    assert (
        hook.transfer_signups(
            from_variant_id=source["shopify_variant_id"],
            from_product_id=source["shopify_product_id"],
            to_variant_id=target["shopify_variant_id"],
            to_product_id=target["shopify_product_id"],
        )
        is None
    )
    moved = {i["id"]: i for i in stoq_sandbox.intents()}
    assert all(moved[iid]["shopify_variant_id"] == target["shopify_variant_id"] for iid in moving)


def test_transfer_signups_errors(stoq_sandbox, hook):
    with pytest.raises(StoqConfigError, match="intent_type"):
        hook.transfer_signups(from_variant_id=1, from_product_id=2, to_variant_id=3, to_product_id=4, intent_type="x")
    with pytest.raises(StoqConfigError, match="to_variant_id"):
        hook.transfer_signups(from_variant_id=1, from_product_id=2, to_variant_id="v", to_product_id=4)
    assert calls(stoq_sandbox) == 0
    with pytest.raises(StoqRequestError, match="422"):
        hook.transfer_signups(from_variant_id=1, from_product_id=2, to_variant_id=3, to_product_id=4)


def test_create_intent_public_endpoint(stoq_sandbox, hook):
    variant = stoq_sandbox.intents()[0]
    created = hook.create_intent(
        shopify_variant_id=variant["shopify_variant_id"],
        shopify_product_id=variant["shopify_product_id"],
        email="new.customer@example.com",
        quantity=2,
    )
    assert created
    mine = [i for i in stoq_sandbox.intents() if i["email"] == "new.customer@example.com"]
    assert len(mine) == 1 and mine[0]["quantity"] == 2
    # The same signup again: STOQ answers 200 with "errors", which is not a success.
    with pytest.raises(StoqRequestError, match="reported errors") as info:
        hook.create_intent(
            shopify_variant_id=variant["shopify_variant_id"],
            shopify_product_id=variant["shopify_product_id"],
            email="new.customer@example.com",
        )
    assert "new.customer@example.com" not in str(info.value)
    assert points(stoq_sandbox) == 0  # the public endpoint uses no key and no budget


@pytest.mark.parametrize("shape", ["wrapped", "bare"])
def test_create_intent_returns_the_intent_whatever_the_201_shape(stoq_sandbox, hook, shape):
    stoq_sandbox.configure(create_shape=shape)
    variant = stoq_sandbox.intents()[0]
    created = hook.create_intent(
        shopify_variant_id=variant["shopify_variant_id"],
        shopify_product_id=variant["shopify_product_id"],
        email=f"{shape}.customer@example.com",
    )
    assert created["shopify_variant_id"] == variant["shopify_variant_id"]
    assert created["id"] in {i["id"] for i in stoq_sandbox.intents()}


def test_create_intent_unknown_shop_and_missing_domain(stoq_sandbox, set_stoq_connection):
    from stoq_provider.hooks.stoq import StoqHook

    set_stoq_connection(shop_domain="someone-else.myshopify.com")
    with pytest.raises(StoqNotFoundError, match="shop domain"):
        StoqHook().create_intent(shopify_variant_id=1, shopify_product_id=2, email="a@example.com")
    set_stoq_connection(shop_domain="")
    with pytest.raises(StoqConfigError, match="shop_domain"):
        StoqHook().create_intent(shopify_variant_id=1, shopify_product_id=2, email="a@example.com")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channel": "fax"}, "channel"),
        ({"channel": "sms"}, "phone"),
        ({"channel": "sms", "phone": "+1 (555) abc"}, "phone"),
        ({"email": None}, "email"),
        ({"quantity": 0}, "quantity"),
        ({"shopify_variant_id": "x"}, "shopify_variant_id"),
    ],
)
def test_create_intent_bad_input(stoq_sandbox, hook, kwargs, match):
    args = {"shopify_variant_id": 1, "shopify_product_id": 2, "email": "a@example.com", **kwargs}
    with pytest.raises(StoqConfigError, match=match):
        hook.create_intent(**args)
    assert calls(stoq_sandbox) == 0

"""StoqNotifyOperator and StoqNotifier against the sandbox: selection, inventory rule, summary, failures."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

from stoq_provider.exceptions import StoqConfigError, StoqNotifyPartialFailure
from stoq_provider.notifications.stoq import StoqNotifier, send_stoq_restock_alerts
from stoq_provider.operators.notify import StoqNotifyOperator
from stoq_provider.restock.alerts import fit_inventory
from tests.support.helpers import calls


class _TI:
    """The one piece of the task context the operator touches: XCom push."""

    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        json.dumps(value)  # XCom values must be plain JSON
        self.xcom[key] = value


def _run(**kwargs):
    ti = _TI()
    operator = StoqNotifyOperator(task_id="notify", **kwargs)
    return operator.execute({"ti": ti}), ti


def _eligible(server, variants, types=("restock",)):
    return {
        i["id"]
        for i in server.intents()
        if i["shopify_variant_id"] in variants
        and i["notified_at"] is None
        and i["type"] in types
        and not (i["unsubscribed_at"] or i["customer_unsubscribed_at"] or i["blocked_at"])
    }


def test_notify_by_variants_sends_each_eligible_intent_once(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    intents = stoq_sandbox.intents()
    variants = sorted({i["shopify_variant_id"] for i in intents})[:2]
    expected = _eligible(stoq_sandbox, variants)
    pending = [i for i in intents if i["shopify_variant_id"] in variants and i["notified_at"] is None]

    summary, ti = _run(shopify_variant_ids=variants)

    assert set(stoq_sandbox.ledger()["sends"]) == expected
    assert stoq_sandbox.ledger()["duplicates"] == []
    assert summary["requested"] == summary["notified"] == len(expected)
    assert summary["skipped"] == len(pending) - len(expected) > 0
    assert summary["failed"] == 0 and summary["failures"] == []
    assert sum(row["notified"] for row in summary["per_variant"].values()) == len(expected)
    assert set(summary["per_variant"]) == {str(v) for v in variants}
    assert ti.xcom["stoq_summary"] == summary
    assert "@" not in json.dumps(summary)


def test_rerun_sends_nothing(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    variant = stoq_sandbox.intents()[0]["shopify_variant_id"]
    first, _ = _run(shopify_variant_ids=[variant])
    second, _ = _run(shopify_variant_ids=[variant])
    assert first["notified"] > 0 and second["notified"] == 0 and second["requested"] == 0
    assert stoq_sandbox.ledger()["duplicates"] == []


@pytest.mark.parametrize("as_text", [json.dumps, lambda ids: ", ".join(map(str, ids))], ids=["json", "csv"])
def test_rendered_template_text_is_accepted(stoq_sandbox, set_stoq_connection, as_text):
    set_stoq_connection()
    variants = sorted({i["shopify_variant_id"] for i in stoq_sandbox.intents()})[:2]
    expected = _eligible(stoq_sandbox, variants)
    summary, _ = _run(shopify_variant_ids=as_text(variants))
    assert summary["notified"] == len(expected) > 0


def test_notify_by_products_and_by_intent_ids(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    intents = stoq_sandbox.intents()
    product = intents[0]["shopify_product_id"]
    variants = {i["shopify_variant_id"] for i in intents if i["shopify_product_id"] == product}
    expected = _eligible(stoq_sandbox, variants)
    summary, _ = _run(shopify_product_ids=[str(product)])
    assert summary["notified"] == len(expected) and set(summary["per_variant"]) == {str(v) for v in variants}

    others = sorted(_eligible(stoq_sandbox, {i["shopify_variant_id"] for i in intents} - variants))[:4]
    summary, _ = _run(intent_ids=others)
    assert summary["notified"] == 4 and summary["per_variant"] == {}
    assert set(stoq_sandbox.ledger()["sends"]) == expected | set(others)


def test_other_intent_types_can_be_included(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    variant = stoq_sandbox.intents()[0]["shopify_variant_id"]
    both = ("restock", "wishlist_reminder")
    expected = _eligible(stoq_sandbox, {variant}, both)
    assert expected > _eligible(stoq_sandbox, {variant})
    summary, _ = _run(shopify_variant_ids=[variant], intent_types=both)
    assert summary["notified"] == len(expected)


def test_inventory_first_come_first_served(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    variant = 49999999999
    waiting = stoq_sandbox.add_intents(
        [
            {
                "shopify_variant_id": variant,
                "shopify_product_id": 8999999999,
                "quantity": q,
                "created_at": day,
                "notified_at": None,
                "unsubscribed_at": None,
                "customer_unsubscribed_at": None,
                "blocked_at": None,
                "type": "restock",
            }
            for q, day in [
                (2, "2026-01-04T00:00:00Z"),
                (2, "2026-01-01T00:00:00Z"),
                (1, "2026-01-05T00:00:00Z"),
                (2, "2026-01-02T00:00:00Z"),
                (1, "2026-01-03T00:00:00Z"),
            ]
        ]
    )
    by_day = {i["created_at"][:10]: i["id"] for i in waiting}
    # Oldest first: 01 (2) + 02 (2) = 4 fit in 5 units; 03 (1) makes 5; 04 (2) would make 7: stop there.
    summary, _ = _run(inventory={str(variant): 5})
    sent = set(stoq_sandbox.ledger()["sends"])
    assert sent == {by_day["2026-01-01"], by_day["2026-01-02"], by_day["2026-01-03"]}
    assert summary["held_back"] == 2 and summary["per_variant"][str(variant)]["held_back"] == 2
    # The next restock serves the rest, oldest first.
    summary, _ = _run(inventory=json.dumps({str(variant): 10}))
    assert summary["notified"] == 2 and stoq_sandbox.ledger()["duplicates"] == []


@pytest.mark.parametrize(
    ("units", "quantities", "expected"),
    [(0, [1], 0), (3, [1, 1, 1, 1], 3), (3, [4, 1], 0), (5, [None, "x", 2], 3), (10, [], 0)],
)
def test_fit_inventory_rule(units, quantities, expected):
    intents = [{"id": str(n), "created_at": f"2026-01-0{n + 1}", "quantity": q} for n, q in enumerate(quantities)]
    chosen, held = fit_inventory(intents, units)
    assert len(chosen) == expected and held == len(quantities) - expected


def test_dry_run_sends_nothing(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    variant = stoq_sandbox.intents()[0]["shopify_variant_id"]
    summary, _ = _run(shopify_variant_ids=[variant], dry_run="True")
    assert summary["dry_run"] is True and summary["would_notify"] == len(_eligible(stoq_sandbox, {variant})) > 0
    assert summary["per_variant"][str(variant)]["eligible"] == summary["would_notify"]
    assert summary["notified"] == 0 and stoq_sandbox.ledger()["total_sends"] == 0
    assert calls(stoq_sandbox, "bulk_notify") == 0


def test_partial_failure_fails_after_sending_the_rest_and_warn_succeeds(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    intents = stoq_sandbox.intents()
    blocked = next(i["id"] for i in intents if i["blocked_at"] and not i["notified_at"])
    good = sorted(_eligible(stoq_sandbox, {i["shopify_variant_id"] for i in intents}))[:5]
    ti = _TI()
    with pytest.raises(StoqNotifyPartialFailure, match="1 of 6 intents failed") as info:
        StoqNotifyOperator(task_id="n", intent_ids=[blocked, *good]).execute({"ti": ti})
    assert info.value.summary["notified"] == 5 and info.value.summary["failures"][0]["intent_id"] == blocked
    assert ti.xcom["stoq_summary"]["failed"] == 1
    summary, _ = _run(intent_ids=[blocked], on_partial_failure="warn")
    assert summary["failed"] == 1
    assert set(stoq_sandbox.ledger()["sends"]) == set(good)


def test_retry_after_an_interrupted_run_sends_only_what_was_left(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(max_retries=2)
    variant = stoq_sandbox.intents()[0]["shopify_variant_id"]
    expected = _eligible(stoq_sandbox, {variant})
    # The first bulk call succeeds, then the notify endpoint keeps failing: the run stops part way.
    stoq_sandbox.set_faults(script=["none"] + ["error500"] * 4, endpoints=["bulk_notify"])
    with pytest.raises(StoqNotifyPartialFailure, match="run the notify again") as info:
        _run(shopify_variant_ids=[variant], batch_size=10)
    first = info.value.summary
    assert first["interrupted"] and first["notified"] == 10
    stoq_sandbox.clear_faults()
    retry, _ = _run(shopify_variant_ids=[variant], batch_size=10)
    assert retry["notified"] == len(expected) - 10
    assert set(stoq_sandbox.ledger()["sends"]) == expected and stoq_sandbox.ledger()["duplicates"] == []


def test_the_run_logs_its_variants_and_a_closing_line(stoq_sandbox, set_stoq_connection, capsys):
    set_stoq_connection()
    variant = stoq_sandbox.intents()[0]["shopify_variant_id"]
    summary, _ = _run(shopify_variant_ids=[variant], batch_size=2)
    out = capsys.readouterr().out
    assert "over 1 variant." in out
    row = summary["per_variant"][str(variant)]
    assert f"variant {variant}: {row['pending']} pending, {row['eligible']} to notify, {row['skipped']} skipped" in out
    done = [line for line in out.splitlines() if "STOQ notify done" in line]
    batches = -(-row["eligible"] // 2)
    assert len(done) == 1 and f"{row['eligible']}/{row['eligible']} intents" in done[0]
    assert f"{batches} batches, 0 read-backs, {2 * batches} points" in done[0], done[0]
    assert "STOQ notify progress" not in out  # a run of well under 5 s needs no progress line


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one of"),
        ({"shopify_variant_ids": [1], "intent_ids": ["a"]}, "got 2"),
        ({"shopify_variant_ids": ["abc"]}, "shopify_variant_ids"),
        ({"shopify_variant_ids": []}, "shopify_variant_ids is empty"),
        ({"shopify_variant_ids": ""}, "shopify_variant_ids is empty"),
        ({"shopify_product_ids": "[1, -2]"}, "shopify_product_ids"),
        ({"intent_ids": ["a", " "]}, "intent_ids"),
        ({"inventory": {"40000000000": -1}}, "inventory"),
        ({"inventory": {"x": 1}}, "inventory"),
        ({"inventory": "[1]"}, "inventory"),
        ({"shopify_variant_ids": [1], "on_partial_failure": "ignore"}, "on_partial_failure"),
        ({"shopify_variant_ids": [1], "batch_size": 0}, "batch_size"),
        ({"shopify_variant_ids": [1], "dry_run": "maybe"}, "dry_run"),
        ({"shopify_variant_ids": [1], "intent_types": []}, "intent_types"),
    ],
)
def test_bad_input_fails_before_any_request(stoq_sandbox, set_stoq_connection, kwargs, match):
    set_stoq_connection()
    with pytest.raises(StoqConfigError, match=match):
        _run(**kwargs)
    assert calls(stoq_sandbox) == 0
    # The notifier shares the options and validates them exactly alike (it used to turn "ignore" into "fail").
    with pytest.raises(StoqConfigError, match=match):
        StoqNotifier(**kwargs).notify({})
    assert calls(stoq_sandbox) == 0


def test_notifier_on_error_is_told_what_failed_and_the_run_ends_with_a_summary(
    stoq_sandbox, set_stoq_connection, capsys
):
    from airflow.sdk import BaseNotifier

    class Recorder(BaseNotifier):
        """What a Slack or e-mail notifier would do with the failure: render a message from the context."""

        template_fields = ("text",)
        told: ClassVar[list[str]] = []

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

        def notify(self, context):
            type(self).told.append(self.text)

    variant = stoq_sandbox.intents()[0]["shopify_variant_id"]
    set_stoq_connection(max_retries=1)
    stoq_sandbox.outage(seconds=30, kind="error500")
    on_error = Recorder("STOQ alerts failed: {{ exception }} (summary: {{ stoq_summary }})")
    StoqNotifier(shopify_variant_ids=[variant], on_error=on_error)({"ti": None})
    assert len(Recorder.told) == 1 and Recorder.told[0].startswith("STOQ alerts failed: STOQ, or a proxy")
    assert "answered 500" in Recorder.told[0] and Recorder.told[0].endswith("(summary: None)")

    stoq_sandbox.clear_faults()
    stoq_sandbox.outage(seconds=0)
    calls_before = []
    StoqNotifier(shopify_variant_ids=[variant], on_error=calls_before.append)({"ti": None})
    out = capsys.readouterr().out
    print(out, end="")  # hand the output back to the leak guard
    assert calls_before == [] and "STOQ restock alerts done: " in out


def test_operator_is_keyword_only_and_lazy():
    with pytest.raises(TypeError):
        StoqNotifyOperator("notify")  # type: ignore[misc]
    operator = StoqNotifyOperator(task_id="n", stoq_conn_id="does_not_exist", shopify_variant_ids=[1])
    assert "hook" not in operator.__dict__  # nothing built at parse time
    assert set(StoqNotifyOperator.template_fields) >= {
        "intent_ids",
        "shopify_variant_ids",
        "shopify_product_ids",
        "inventory",
    }


def test_notifier_sends_like_the_operator(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    assert send_stoq_restock_alerts is StoqNotifier
    variant = stoq_sandbox.intents()[0]["shopify_variant_id"]
    expected = _eligible(stoq_sandbox, {variant})
    notifier = StoqNotifier(shopify_variant_ids=[variant])
    notifier.notify({})
    assert notifier.summary["notified"] == len(expected) > 0
    assert set(stoq_sandbox.ledger()["sends"]) == expected
    with pytest.raises(StoqConfigError, match="exactly one of"):
        StoqNotifier().notify({})

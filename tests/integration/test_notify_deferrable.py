"""A deferrable notify: long budget waits are spent in the triggerer, not in the worker, and nobody is alerted
twice across legs. ``dag.test()`` runs the deferrals for real (the trigger inline, the task resumed)."""

from __future__ import annotations

import pytest

from tests.support.airflow_db import run_dag
from tests.support.paths import TEST_DAGS

#: A tight budget: 20 points per 6 s. 1,000 intents in batches of 50 cost 42 points: waits of several seconds.
TIGHT = {"budget": 20, "window": 6}
#: The tests' threshold (production: 10 s): waits longer than this defer.
DEFER_OVER = 1.0


@pytest.fixture
def tight_sandbox(stoq_sandbox, set_stoq_connection, monkeypatch):
    from stoq_provider.operators import notify

    monkeypatch.setattr(notify, "DEFER_WAITS_OVER", DEFER_OVER)
    stoq_sandbox.reset(intents=1000, variants=1, pending_only=True, **TIGHT)
    set_stoq_connection()
    return stoq_sandbox


def test_a_variant_restock_defers_for_the_budget_and_alerts_each_customer_once(
    tight_sandbox, airflow_db_inprocess, monkeypatch
):
    [variant] = [v["shopify_variant_id"] for v in tight_sandbox.catalog()]
    result = run_dag(TEST_DAGS, "stoq_deferrable_shopify_variant_ids", monkeypatch, run_conf={"value": [variant]})
    assert result.state("notify") == "success"
    summary = result.xcom("notify")
    ledger = tight_sandbox.ledger()
    assert ledger["total_sends"] == len(ledger["sends"]) == 1000 and ledger["duplicates"] == []
    assert summary["notified"] == 1000 and summary["failed"] == 0 and summary["requested"] == 1000
    assert summary["legs"] >= 2 and summary["deferrals"] == summary["legs"] - 1 >= 1, summary
    assert summary["per_variant"][str(variant)]["notified"] == 1000
    assert summary["deferred_seconds"] > 0


def test_intent_ids_across_legs_are_each_sent_once(tight_sandbox, airflow_db_inprocess, monkeypatch):
    ids = [i["id"] for i in tight_sandbox.intents()]
    result = run_dag(TEST_DAGS, "stoq_deferrable_intent_ids", monkeypatch, run_conf={"value": ids})
    summary = result.xcom("notify")
    ledger = tight_sandbox.ledger()
    assert result.state("notify") == "success"
    assert ledger["total_sends"] == len(ledger["sends"]) == len(ids) and ledger["duplicates"] == []
    assert summary["notified"] == len(ids) and summary["already_notified"] == 0 and summary["deferrals"] >= 1


def test_inventory_units_are_not_spent_twice_across_legs(tight_sandbox, airflow_db_inprocess, monkeypatch):
    [variant] = [v["shopify_variant_id"] for v in tight_sandbox.catalog()]
    units = 1500  # about 750 customers: more points than one window holds
    result = run_dag(TEST_DAGS, "stoq_deferrable_inventory", monkeypatch, run_conf={"value": {str(variant): units}})
    summary = result.xcom("notify")
    sent = {i["id"]: i for i in tight_sandbox.intents() if i["id"] in tight_sandbox.ledger()["sends"]}
    assert result.state("notify") == "success" and summary["deferrals"] >= 1, summary
    assert sum(i["quantity"] for i in sent.values()) <= units
    assert summary["per_variant"][str(variant)]["units_sent"] == sum(i["quantity"] for i in sent.values())
    assert tight_sandbox.ledger()["duplicates"] == []


def test_the_mapped_form_defers_each_instance_and_alerts_each_customer_once(
    stoq_sandbox, set_stoq_connection, airflow_db_inprocess, monkeypatch
):
    from stoq_provider.operators import notify

    monkeypatch.setattr(notify, "DEFER_WAITS_OVER", DEFER_OVER)
    stoq_sandbox.reset(intents=1200, variants=2, pending_only=True, **TIGHT)
    set_stoq_connection()
    variants = sorted(v["shopify_variant_id"] for v in stoq_sandbox.catalog())
    assert variants == [40000000000, 40000000001]
    result = run_dag(TEST_DAGS, "stoq_deferrable_mapped", monkeypatch)
    ledger = stoq_sandbox.ledger()
    assert result.dag_state == "success"
    assert ledger["total_sends"] == len(ledger["sends"]) == 1200 and ledger["duplicates"] == []

"""StoqNotifyOperator in real ``dag.test()`` runs: Airflow's own retry after a partial failure sends only the rest."""

from __future__ import annotations

from tests.support.airflow_db import run_dag
from tests.support.helpers import calls
from tests.support.paths import TEST_DAGS


def _eligible(server, variant):
    return {
        i["id"]
        for i in server.intents()
        if i["shopify_variant_id"] == variant
        and i["notified_at"] is None
        and i["type"] == "restock"
        and not (i["unsubscribed_at"] or i["customer_unsubscribed_at"] or i["blocked_at"])
    }


def test_airflow_retry_after_a_failed_partial_run_sends_only_what_was_left(
    stoq_sandbox, set_stoq_connection, airflow_db_inprocess, monkeypatch
):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    set_stoq_connection(max_retries=2)
    variant = stoq_sandbox.intents()[0]["shopify_variant_id"]
    expected = _eligible(stoq_sandbox, variant)
    assert len(expected) > 10
    # Try 1: the first batch of 10 is sent, then the notify endpoint fails until the hook gives up, and the
    # task fails with a partial-failure summary. Try 2 (Airflow's retry, one second later) meets no faults.
    stoq_sandbox.set_faults(script=["none", "error500", "error500"], endpoints=["bulk_notify"])
    result = run_dag(TEST_DAGS, "stoq_notify_retry", monkeypatch, run_conf={"variants": [variant]})

    assert result.state("notify") == "success"
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id="stoq_notify_retry", run_id=result.run_id).one()
        assert ti.try_number == 2, "the task failed once and Airflow retried it"
    summary = result.xcom("notify")
    assert summary["notified"] == len(expected) - 10, "the retry sent only what the first try had not"
    ledger = stoq_sandbox.ledger()
    assert set(ledger["sends"]) == expected and ledger["duplicates"] == []
    assert stoq_sandbox.stats()["faults"] == {"error500": 2}
    assert calls(stoq_sandbox, "list_intents") >= 2, "the retry listed what was still pending"


def test_an_upstream_task_that_returns_none_is_named_in_the_error(
    stoq_sandbox, set_stoq_connection, airflow_db_inprocess, monkeypatch, capsys
):
    set_stoq_connection()
    result = run_dag(TEST_DAGS, "stoq_upstream_nothing", monkeypatch)

    assert result.state("sync_inventory") == "success" and result.state("notify") == "failed"
    out = capsys.readouterr().out
    print(out, end="")  # hand the output back to the leak guard
    assert "shopify_variant_ids came from the upstream task 'sync_inventory', which produced None" in out
    assert "none was given" not in out
    assert calls(stoq_sandbox) == 0

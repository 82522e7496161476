"""Test DAG: an inventory sync that finds nothing (returns None) feeding the notify operator (run in-process by
tests/integration/test_operator_dag_runs.py): the failure must say that the upstream task produced nothing."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from stoq_provider.operators.notify import StoqNotifyOperator

with DAG(
    "stoq_upstream_nothing",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as upstream_nothing_dag:

    @task
    def sync_inventory() -> list[int] | None:
        return None  # a sync that restocked nothing, written carelessly

    StoqNotifyOperator(task_id="notify", shopify_variant_ids=sync_inventory())

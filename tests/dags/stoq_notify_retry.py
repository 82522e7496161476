"""Test DAG: the notify operator with one Airflow retry (run in-process by
tests/integration/test_operator_dag_runs.py)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from stoq_provider.operators.notify import StoqNotifyOperator

with DAG(
    "stoq_notify_retry",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"variants": []},
) as notify_retry_dag:
    StoqNotifyOperator(
        task_id="notify",
        shopify_variant_ids="{{ params.variants }}",
        batch_size=10,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )

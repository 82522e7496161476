"""Test DAG: a long notify with Airflow retries (run with ``airflow dags test`` by tests/integration/test_chaos.py)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from stoq_provider.operators.notify import StoqNotifyOperator

with DAG(
    "stoq_chaos_outage",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"variants": []},
) as chaos_outage_dag:
    StoqNotifyOperator(
        task_id="notify",
        shopify_variant_ids="{{ params.variants }}",
        batch_size=50,
        retries=4,
        retry_delay=timedelta(seconds=3),
    )

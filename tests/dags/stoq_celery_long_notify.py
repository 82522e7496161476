"""Test DAG: one long notify (thousands of intents, small batches, a tight budget) with Airflow retries, for the
killed-worker scenario of tests/integration/test_celery.py."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from stoq_provider.operators.notify import StoqNotifyOperator

with DAG(
    "stoq_celery_long_notify",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"variants": []},
) as long_notify_dag:
    StoqNotifyOperator(
        task_id="notify",
        shopify_variant_ids="{{ params.variants }}",
        batch_size=50,
        retries=2,
        retry_delay=timedelta(seconds=2),
    )

"""Test DAGs: a deferrable notify by variants, by intent IDs and by inventory (run in-process by
tests/integration/test_notify_deferrable.py); the selector's value comes from the run's conf."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from stoq_provider.operators.notify import StoqNotifyOperator

for selector in ("shopify_variant_ids", "intent_ids", "inventory"):
    with DAG(
        f"stoq_deferrable_{selector}",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        params={"value": None, "deferrable": True},
        render_template_as_native_obj=True,
    ) as dag:
        StoqNotifyOperator(
            task_id="notify",
            batch_size=50,
            deferrable=True,
            **{selector: "{{ params.value }}"},
        )
    globals()[dag.dag_id] = dag

with DAG(
    "stoq_deferrable_mapped",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as mapped_dag:
    # The mapped form: one deferrable notify per variant.
    StoqNotifyOperator.partial(task_id="notify", batch_size=50, deferrable=True).expand(
        shopify_variant_ids=[[40000000000], [40000000001]]
    )

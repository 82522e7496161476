"""One notify task per restocked variant, with dynamic task mapping.

When a sync restocks many variants, mapping ``StoqNotifyOperator`` over them gives one task instance per
variant: each has its own summary, its own retries and its own line in the grid, and a failure on one variant
does not hold back the others. The ``stoq`` pool (created by ``make demo``; any pool works) limits how many run
at once, because every mapped instance draws on the same store rate budget.

    airflow dags test example_stoq_mapped
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from stoq_provider.operators.notify import StoqNotifyOperator


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stoq", "example"],
    params={"restocked_variant_ids": Param([40000000001, 40000000002, 40000000003], type="array")},
)
def example_stoq_mapped():
    @task
    def restocked_variants(params=None) -> list[list[int]]:
        """One single-variant list per restocked variant: each becomes one mapped notify task."""
        return [[int(variant)] for variant in params["restocked_variant_ids"]]

    StoqNotifyOperator.partial(task_id="alert_per_variant", pool="stoq", retries=2).expand(
        shopify_variant_ids=restocked_variants()
    )


example_stoq_mapped()

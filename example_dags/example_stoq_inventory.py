"""Quantity-aware restock alerts: only as many customers as the new stock can serve.

The warehouse sync reports how many units of each variant arrived. Alerting every waiting customer when only
three units came back creates disappointed shoppers, so this DAG hands the units to
``StoqNotifyOperator(inventory=...)``: per variant, the longest-waiting customers are alerted first while the
quantities they asked for fit the units; everyone else stays in the queue for the next restock.

Run it against the sandbox with ``make demo`` or::

    airflow dags test example_stoq_inventory -c '{"inventory": {"40000000000": 3, "40000000001": 10}}'
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
    params={"inventory": Param({"40000000000": 3, "40000000001": 10}, type="object")},
)
def example_stoq_inventory():
    @task
    def receive_stock(params=None) -> dict[str, int]:
        """Stand-in for the warehouse sync: returns units received per Shopify variant ID."""
        return {str(variant): int(units) for variant, units in params["inventory"].items()}

    StoqNotifyOperator(task_id="alert_first_in_line", inventory=receive_stock())


example_stoq_inventory()

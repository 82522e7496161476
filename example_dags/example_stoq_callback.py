"""Alerts as a callback: the inventory sync task itself triggers the alerts when it succeeds.

For teams that want no extra task in the graph: ``send_stoq_restock_alerts`` (the ``StoqNotifier``) runs as the
sync task's ``on_success_callback`` and alerts the customers waiting on the variants the sync returned
(pulled from XCom with Jinja). A callback cannot fail its task, so failures are logged; a rerun sends only
what is still pending.

    airflow dags test example_stoq_callback
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from stoq_provider.notifications.stoq import send_stoq_restock_alerts


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stoq", "example"],
    params={"restocked_variant_ids": Param([40000000004], type="array")},
)
def example_stoq_callback():
    @task(
        on_success_callback=send_stoq_restock_alerts(
            shopify_variant_ids="{{ ti.xcom_pull(task_ids='sync_inventory') }}",
        )
    )
    def sync_inventory(params=None) -> list[int]:
        """Stand-in for the ERP sync: returns the restocked Shopify variant IDs."""
        return [int(variant) for variant in params["restocked_variant_ids"]]

    sync_inventory()


example_stoq_callback()

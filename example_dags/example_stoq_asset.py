"""Asset-driven alerts: the inventory DAG updates an asset; the alert DAG runs whenever it changes.

Two teams, two DAGs. The inventory team's DAG syncs stock and, on success, updates the
``shopify://inventory`` asset with the restocked variants in the asset event's extra. The CRM team's DAG is
scheduled on that asset, reads the variants from the triggering event, and alerts the waiting customers.

    airflow dags test example_stoq_asset_inventory   # produces the asset event
    airflow dags test example_stoq_asset_alerts      # consumes it (standalone it falls back to its param)
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, dag, task

from stoq_provider.operators.notify import StoqNotifyOperator

SHOPIFY_INVENTORY = Asset("shopify://inventory")


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stoq", "example"],
    params={"restocked_variant_ids": Param([40000000003], type="array")},
)
def example_stoq_asset_inventory():
    @task(outlets=[SHOPIFY_INVENTORY])
    def sync_inventory(outlet_events=None, params=None) -> list[int]:
        """Stand-in for the sync; records the restocked variants on the asset event."""
        restocked = [int(variant) for variant in params["restocked_variant_ids"]]
        outlet_events[SHOPIFY_INVENTORY].extra = {"restocked_variant_ids": restocked}
        return restocked

    sync_inventory()


@dag(
    schedule=[SHOPIFY_INVENTORY],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stoq", "example"],
    params={"fallback_variant_ids": Param([40000000003], type="array")},
)
def example_stoq_asset_alerts():
    @task
    def restocked_from_asset(triggering_asset_events=None, params=None) -> list[int]:
        """The variants of every asset event that triggered this run (or the param when run by hand)."""
        variants: list[int] = []
        for events in (triggering_asset_events or {}).values():
            for event in events:
                variants.extend(int(v) for v in (event.extra or {}).get("restocked_variant_ids", []))
        return sorted(set(variants)) or [int(v) for v in params["fallback_variant_ids"]]

    StoqNotifyOperator(task_id="alert_waiting_customers", shopify_variant_ids=restocked_from_asset())


example_stoq_asset_inventory()
example_stoq_asset_alerts()

"""Event-driven alerts: a DAG that starts when customers sign up, and alerts at once those it can serve.

STOQ has no webhooks, so an ``AssetWatcher`` polls from the triggerer with ``StoqDemandEventTrigger``: each time
new customers sign up for a back-in-stock alert, the trigger updates the ``stoq://example-shop/signups`` asset,
and this DAG runs once for that burst (no run while nothing new happens). Some of those customers signed up on
a variant that is already back in stock (they found a stale product page, or the restock alert went out before
they arrived): the inventory rule says they should hear now, not at the next restock. The DAG reads the new
signups from the triggering asset event, keeps those whose variant has units available, and alerts them.

The stock levels come from the ``in_stock`` param here (stand-in for a Shopify inventory lookup). Run by hand
(no asset event) it alerts the signups given in the ``new_intent_ids_by_variant`` param, if any::

    airflow dags test example_stoq_demand_watcher -c '{"new_intent_ids_by_variant": {"40000000000": ["<id>"]}}'

In a deployment, the triggerer runs the watcher: sign a customer up on the storefront (or through the sandbox's
``POST /api/v1/intents.json``) and a run starts within ``STOQ_EXAMPLE_POLL_SECONDS`` (default 60).
"""

from __future__ import annotations

import logging
import os

import pendulum
from airflow.sdk import Asset, AssetWatcher, Param, dag, task

from stoq_provider.operators.notify import StoqNotifyOperator
from stoq_provider.triggers.demand import StoqDemandEventTrigger

log = logging.getLogger(__name__)

#: Seconds between the watcher's poll rounds (each costs one budget point when little is new).
POLL_SECONDS = float(os.environ.get("STOQ_EXAMPLE_POLL_SECONDS", "60"))

SIGNUPS = Asset(
    "stoq://example-shop/signups",
    watchers=[
        AssetWatcher(
            name="stoq_example_shop_signups",
            trigger=StoqDemandEventTrigger(stoq_conn_id="stoq_default", min_new=1, poke_interval=POLL_SECONDS),
        )
    ],
)


@dag(
    schedule=[SIGNUPS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stoq", "example"],
    params={
        "in_stock": Param({"40000000000": 25, "40000000001": 0}, type="object"),
        "new_intent_ids_by_variant": Param({}, type="object"),
    },
)
def example_stoq_demand_watcher():
    @task.short_circuit
    def signups_in_stock(triggering_asset_events=None, params=None) -> list[str]:
        """The new signups on variants with units available (empty: the alert task is skipped)."""
        by_variant: dict[str, list[str]] = {}
        for events in (triggering_asset_events or {}).values():
            for event in events:
                payload = (event.extra or {}).get("payload") or {}
                for variant, ids in payload.get("new_intent_ids_by_variant", {}).items():
                    by_variant.setdefault(str(variant), []).extend(ids)
        if not triggering_asset_events:
            by_variant = {str(k): list(v) for k, v in params["new_intent_ids_by_variant"].items()}
        units = {str(variant): int(n) for variant, n in params["in_stock"].items()}
        chosen = [i for variant, ids in sorted(by_variant.items()) if units.get(variant, 0) > 0 for i in ids]
        log.info("%d new signups, %d on variants in stock", sum(map(len, by_variant.values())), len(chosen))
        return chosen

    StoqNotifyOperator(task_id="alert_signups_in_stock", intent_ids=signups_in_stock(), pool="stoq")


example_stoq_demand_watcher()

"""The core story: inventory sync, then wait for waiting demand, then alert those customers exactly once.

An ERP-to-Shopify inventory sync returns the Shopify variant IDs that came back in stock. A deferrable
``StoqPendingIntentsSensor`` hands the wait for signups to the triggerer (no worker slot is held), and
``StoqNotifyOperator`` alerts every pending, subscribed customer of those variants. Rerunning the DAG, or an
Airflow retry after a partial failure, sends nothing twice: only intents still pending are listed, and STOQ
refuses to re-send without ``allow_resend``. If nobody is waiting within ``STOQ_EXAMPLE_WAIT_SECONDS``
(default 15 minutes), the sensor soft-fails and the alert task is skipped until the next sync. The ``stoq``
pool caps how many STOQ tasks run at once, since the store's rate budget is shared by all of them.

Run it against the sandbox with ``make demo`` or::

    airflow dags test example_stoq_restock -c '{"restocked_variant_ids": [40000000000, 40000000001]}'
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag, task

from stoq_provider.operators.notify import StoqNotifyOperator
from stoq_provider.sensors.intents import StoqPendingIntentsSensor

#: How long to wait for waiting customers before skipping the alerts (the demo and tests shorten it).
WAIT_SECONDS = int(os.environ.get("STOQ_EXAMPLE_WAIT_SECONDS", "900"))


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stoq", "example"],
    params={"restocked_variant_ids": Param([40000000000, 40000000001], type="array")},
)
def example_stoq_restock():
    @task
    def sync_inventory(params=None) -> list[int]:
        """Stand-in for the ERP sync: returns the Shopify variants whose stock went from 0 to above 0."""
        return [int(variant) for variant in params["restocked_variant_ids"]]

    restocked = sync_inventory()
    waiting = StoqPendingIntentsSensor(
        task_id="wait_for_waiting_customers",
        shopify_variant_ids=restocked,
        min_pending=1,
        deferrable=True,
        poke_interval=5,
        timeout=WAIT_SECONDS,
        soft_fail=True,
        pool="stoq",
    )
    notify = StoqNotifyOperator(
        task_id="alert_waiting_customers",
        shopify_variant_ids=restocked,
        retries=2,
        pool="stoq",
    )
    waiting >> notify


example_stoq_restock()

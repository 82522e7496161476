"""Test DAGs: the pending-intents sensor alone, in each mode (run in-process by tests/integration/test_sensor.py)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from stoq_provider.sensors.intents import StoqPendingIntentsSensor

#: A variant nobody waits on in the seeded sandbox; the tests add intents for it while the sensor waits.
WATCHED = 48888888888
START = pendulum.datetime(2026, 1, 1, tz="UTC")


def _dag(name: str) -> DAG:
    return DAG(f"stoq_sensor_{name}", schedule=None, start_date=START, catchup=False, params={"variants": [WATCHED]})


with _dag("poke") as poke_dag:
    # The IDs come from an upstream task (an XComArg), as strings.

    @task
    def restocked() -> list[str]:
        return [str(WATCHED)]

    StoqPendingIntentsSensor(
        task_id="wait", shopify_variant_ids=restocked(), min_pending=2, mode="poke", poke_interval=0.5, timeout=60
    )

with _dag("reschedule") as reschedule_dag:
    # The IDs come from a Jinja template, rendered as the text of a JSON list.
    StoqPendingIntentsSensor(
        task_id="wait",
        shopify_variant_ids="{{ params.variants }}",
        min_pending=2,
        mode="reschedule",
        poke_interval=1,
        timeout=60,
    )

with _dag("deferrable") as deferrable_dag:
    # The IDs come from a Jinja template, rendered as comma-separated text.
    StoqPendingIntentsSensor(
        task_id="wait",
        shopify_variant_ids="{{ params.variants | join(',') }}",
        min_pending=2,
        deferrable=True,
        poke_interval=0.5,
        timeout=60,
    )

with _dag("soft_fail") as soft_fail_dag:
    StoqPendingIntentsSensor(
        task_id="wait", shopify_variant_ids=[WATCHED], soft_fail=True, mode="poke", poke_interval=0.3, timeout=1
    )

with _dag("deferrable_soft_fail") as deferrable_soft_fail_dag:
    StoqPendingIntentsSensor(
        task_id="wait", shopify_variant_ids=[WATCHED], soft_fail=True, deferrable=True, poke_interval=0.3, timeout=2
    )

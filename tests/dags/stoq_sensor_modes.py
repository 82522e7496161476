"""Test DAGs: the pending-intents sensor alone, in each mode (run by tests/test_sensor.py)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from stoq_provider.sensors.intents import StoqPendingIntentsSensor

WATCHED = 48888888888

for name, kwargs in {
    "poke": {"mode": "poke"},
    "reschedule": {"mode": "reschedule"},
    "deferrable": {"deferrable": True},
    "soft_fail": {"soft_fail": True, "timeout": 2, "poke_interval": 0.5},
}.items():
    with DAG(
        f"stoq_sensor_{name}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False
    ):
        StoqPendingIntentsSensor(
            task_id="wait",
            shopify_variant_ids="{{ params.variants }}",
            min_pending=2,
            **{"poke_interval": 1, "timeout": 60, **kwargs},
            params={"variants": [WATCHED]},
        )

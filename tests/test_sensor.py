"""StoqPendingIntentsSensor and StoqPendingIntentsTrigger against the sandbox, in every mode."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from helpers import calls

from stoq_provider.exceptions import StoqConfigError
from stoq_provider.sensors.intents import StoqPendingIntentsSensor
from stoq_provider.triggers.intents import StoqPendingIntentsTrigger
from stoq_provider.utils.demand import count_waiting

NEW_VARIANT = 48888888888


def _waiting(server, variant):
    return count_waiting([i for i in server.intents() if i["shopify_variant_id"] == variant]).get(str(variant), 0)


def _new_intents(n):
    return [
        {"shopify_variant_id": NEW_VARIANT, "shopify_product_id": 8888888888, "type": "restock", "notified_at": None,
         "unsubscribed_at": None, "customer_unsubscribed_at": None, "blocked_at": None}
        for _ in range(n)
    ]


def _events(trigger, timeout=20.0):
    async def first():
        async for event in trigger.run():
            return event.payload
    return asyncio.run(asyncio.wait_for(first(), timeout))


def test_trigger_serialize_round_trips():
    trigger = StoqPendingIntentsTrigger(shopify_variant_ids=[1, 2], min_pending=3, poke_interval=7)
    path, kwargs = trigger.serialize()
    assert path == "stoq_provider.triggers.intents.StoqPendingIntentsTrigger"
    import importlib
    import json

    module, name = path.rsplit(".", 1)
    again = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert again.serialize() == (path, kwargs)


def test_trigger_fires_with_per_variant_counts(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    variant = stoq_sandbox.intents()[0]["shopify_variant_id"]
    event = _events(StoqPendingIntentsTrigger(shopify_variant_ids=[variant], poke_interval=0.2))
    assert event == {"status": "success", "pending": {str(variant): _waiting(stoq_sandbox, variant)}, "total": _waiting(stoq_sandbox, variant)}


def test_trigger_by_product(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    product = stoq_sandbox.intents()[0]["shopify_product_id"]
    event = _events(StoqPendingIntentsTrigger(shopify_product_ids=[product], poke_interval=0.2))
    variants = {i["shopify_variant_id"] for i in stoq_sandbox.intents() if i["shopify_product_id"] == product}
    assert event["status"] == "success" and set(event["pending"]) == {str(v) for v in variants if _waiting(stoq_sandbox, v)}


def test_trigger_keeps_polling_until_demand_appears_without_blocking_the_loop(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    trigger = StoqPendingIntentsTrigger(shopify_variant_ids=[NEW_VARIANT], min_pending=3, poke_interval=0.3)

    async def scenario():
        ticks = 0

        async def heartbeat():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.05)

        beat = asyncio.create_task(heartbeat())
        runner = trigger.run().__aiter__()
        waiting = asyncio.create_task(runner.__anext__())
        await asyncio.sleep(1.0)
        assert not waiting.done()
        await asyncio.to_thread(stoq_sandbox.add_intents, _new_intents(3))
        event = await asyncio.wait_for(waiting, 10)
        beat.cancel()
        return event.payload, ticks

    payload, ticks = asyncio.run(scenario())
    assert payload == {"status": "success", "pending": {str(NEW_VARIANT): 3}, "total": 3}
    assert ticks >= 15, "the event loop must keep running while the trigger waits"
    assert calls(stoq_sandbox, "list_intents") >= 3


def test_trigger_error_event_on_bad_key(stoq_sandbox, monkeypatch):
    import json

    monkeypatch.setenv(
        "AIRFLOW_CONN_STOQ_DEFAULT",
        json.dumps({"conn_type": "stoq", "host": stoq_sandbox.base_url, "password": "stoq_api_key_" + "w" * 32}),
    )
    event = _events(StoqPendingIntentsTrigger(shopify_variant_ids=[1], poke_interval=0.2))
    assert event["status"] == "error" and "401" in event["message"] and "w" * 32 not in event["message"]


def test_trigger_retries_transient_faults(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(timeout=0.5)
    stoq_sandbox.set_faults(script=["error500", "html502", "drop"], endpoints=["list_intents"])
    variant = stoq_sandbox.intents()[0]["shopify_variant_id"]
    event = _events(StoqPendingIntentsTrigger(shopify_variant_ids=[variant], poke_interval=0.2))
    assert event["status"] == "success" and sum(stoq_sandbox.stats()["faults"].values()) == 3


def _sensor(**kwargs):
    return StoqPendingIntentsSensor(task_id="wait", **kwargs)


def test_poke_counts_per_variant(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    variants = sorted({i["shopify_variant_id"] for i in stoq_sandbox.intents()})[:2]
    result = _sensor(shopify_variant_ids=", ".join(map(str, variants))).poke({})
    expected = {str(v): _waiting(stoq_sandbox, v) for v in variants}
    assert result.is_done and result.xcom_value == {"pending": expected, "total": sum(expected.values())}
    assert not _sensor(shopify_variant_ids=[NEW_VARIANT]).poke({}).is_done
    assert not _sensor(shopify_variant_ids=variants, min_pending=10_000).poke({}).is_done


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one of"),
        ({"shopify_variant_ids": [1], "shopify_product_ids": [2]}, "got 2"),
        ({"shopify_variant_ids": "abc"}, "shopify_variant_ids"),
        ({"shopify_product_ids": []}, "shopify_product_ids is empty"),
        ({"shopify_variant_ids": [1], "min_pending": 0}, "min_pending"),
    ],
)
def test_sensor_bad_input(stoq_sandbox, set_stoq_connection, kwargs, match):
    set_stoq_connection()
    with pytest.raises(StoqConfigError, match=match):
        _sensor(**kwargs).poke({})
    assert calls(stoq_sandbox) == 0


TEST_DAGS = str(Path(__file__).resolve().parent / "dags")


class _AddAfterFirstPoll(threading.Thread):
    """Adds ``n`` waiting intents once the sensor has polled and found none (so it has to wait)."""

    def __init__(self, server, n):
        super().__init__(daemon=True)
        self.server, self.n, self.stop = server, n, threading.Event()

    def run(self):
        while not self.stop.wait(0.2):
            if calls(self.server, "list_intents") >= 1:
                self.stop.wait(1.5)
                self.server.add_intents(_new_intents(self.n))
                return

    def cancel(self):
        self.stop.set()


def _add_later(server, n, delay=None):
    adder = _AddAfterFirstPoll(server, n)
    adder.start()
    return adder


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_in_a_real_dag_run(stoq_sandbox, dags_test, mode):
    timer = _add_later(stoq_sandbox, 2)
    try:
        done = dags_test(f"stoq_sensor_{mode}", folder=TEST_DAGS)
    finally:
        timer.cancel()
    output = done.stdout + done.stderr
    assert calls(stoq_sandbox, "list_intents") >= 2, "it must have waited for the intents added later"
    assert "2 customers waiting" in output
    if mode == "deferrable":
        assert "deferr" in output.lower() and "trigger" in output.lower()
    if mode == "reschedule":
        assert "up_for_reschedule" in output.lower() or "reschedul" in output.lower()


def test_soft_fail_on_timeout_skips(stoq_sandbox, dags_test):
    done = dags_test("stoq_sensor_soft_fail", folder=TEST_DAGS, check=False)
    output = done.stdout + done.stderr
    assert "skipped" in output.lower()

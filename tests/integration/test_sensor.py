"""StoqPendingIntentsSensor against the sandbox: poke, input checks, and real in-process Airflow DAG runs.

The DAG runs use ``dag.test()`` (Airflow 3.3 ``airflow.sdk.DAG``) on ``tests/dags/stoq_sensor_modes.py``, with the
metadata DB prepared by :mod:`airflow_db`.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from stoq_provider.exceptions import StoqConfigError
from stoq_provider.restock import demand
from stoq_provider.sensors.intents import StoqPendingIntentsSensor, StoqPendingIntentsWaitError
from stoq_provider.triggers.intents import StoqPendingIntentsTrigger
from tests.support.airflow_db import run_dag
from tests.support.helpers import calls
from tests.support.intents import NEW_VARIANT, new_intents, pending_in_sandbox, seeded_variants
from tests.support.paths import TEST_DAGS


def sensor(**kwargs):
    return StoqPendingIntentsSensor(task_id="wait", **kwargs)


# ---------------------------------------------------------------------------------------------- demand (pure)


def test_demand_counts_only_pending_subscribed_intents_of_the_wanted_types():
    base = {"shopify_variant_id": 1, "type": "restock", "notified_at": None}
    intents = [
        base,
        {**base, "shopify_variant_id": 2},
        {**base, "notified_at": "2026-01-01T00:00:00Z"},
        {**base, "unsubscribed_at": "2026-01-01T00:00:00Z"},
        {**base, "customer_unsubscribed_at": "2026-01-01T00:00:00Z"},
        {**base, "blocked_at": "2026-01-01T00:00:00Z"},
        {**base, "type": "wishlist_reminder"},
        {"shopify_variant_id": 1},  # no type field: an older answer, a restock intent
    ]
    assert demand.count_pending(intents) == {"1": 2, "2": 1}
    assert demand.count_pending(intents, ("restock", "wishlist_reminder"), variant_ids=[3]) == {"3": 0, "1": 3, "2": 1}
    assert demand.summary({"1": 2, "2": 1}) == {"pending": {"1": 2, "2": 1}, "total": 3}
    result = demand.summary(demand.count_pending(intents))
    assert json.loads(json.dumps(result)) == result == {"pending": {"1": 2, "2": 1}, "total": 3}


def test_demand_intent_types_argument():
    assert demand.intent_types_arg("restock") == ("restock",)
    assert demand.intent_types_arg(["wishlist_reminder", "restock", "restock"]) == ("wishlist_reminder", "restock")
    for bad in ([], ["restok"], 3, {"restock": 1}):
        with pytest.raises(StoqConfigError, match="intent_types"):
            demand.intent_types_arg(bad)


# ---------------------------------------------------------------------------------------------- poke


def test_poke_counts_per_variant_as_the_sandbox_does(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    variants = seeded_variants(stoq_sandbox, 3)
    expected = pending_in_sandbox(stoq_sandbox, variants=variants)
    total = sum(expected.values())

    done = sensor(shopify_variant_ids=variants, min_pending=total).poke({})
    assert done.is_done and done.xcom_value == {"pending": expected, "total": total}
    not_yet = sensor(shopify_variant_ids=variants, min_pending=total + 1).poke({})
    assert not not_yet.is_done and not_yet.xcom_value == done.xcom_value
    nobody = sensor(shopify_variant_ids=[NEW_VARIANT]).poke({})
    assert not nobody.is_done and nobody.xcom_value == {"pending": {str(NEW_VARIANT): 0}, "total": 0}
    # One bound per poke; the variant nobody waits on is ruled out by it, with no listing.
    assert calls(stoq_sandbox, "products_in_demand") == 3
    assert calls(stoq_sandbox, "list_intents") == 2 * len(variants)


def test_poke_by_product(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    product = stoq_sandbox.intents()[0]["shopify_product_id"]
    expected = {k: v for k, v in pending_in_sandbox(stoq_sandbox, product=product).items() if v}
    total = sum(expected.values())
    result = sensor(shopify_product_ids=str(product), min_pending=total).poke({})
    assert result.is_done and result.xcom_value == {"pending": expected, "total": total}


def test_poke_counts_wishlist_reminders_only_when_asked(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    stoq_sandbox.add_intents(new_intents(2, kind="wishlist_reminder"))
    assert not sensor(shopify_variant_ids=[NEW_VARIANT]).poke({}).is_done
    both = sensor(shopify_variant_ids=[NEW_VARIANT], intent_types=["restock", "wishlist_reminder"], min_pending=2)
    assert both.poke({}).xcom_value["total"] == 2


@pytest.mark.parametrize(
    "value",
    [
        "[40000000001, 40000000002]",  # a rendered Jinja list
        "40000000001, 40000000002",  # rendered comma-separated text
        ["40000000001", "40000000002"],  # an XCom value: strings
        (40000000001, 40000000002, 40000000001),  # duplicates are dropped
    ],
)
def test_selector_forms(stoq_sandbox, set_stoq_connection, value):
    set_stoq_connection()
    result = sensor(shopify_variant_ids=value, min_pending=10**6).poke({})  # ruled out by the bound alone
    assert set(result.xcom_value["pending"]) == {"40000000001", "40000000002"}
    assert (calls(stoq_sandbox, "products_in_demand"), calls(stoq_sandbox, "list_intents")) == (1, 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one of shopify_variant_ids, shopify_product_ids; none"),
        ({"shopify_variant_ids": [1], "shopify_product_ids": [2]}, "got 2: shopify_variant_ids, shopify_product_ids"),
        ({"shopify_variant_ids": "abc"}, "shopify_variant_ids"),
        ({"shopify_variant_ids": [1, "x"]}, "shopify_variant_ids"),
        ({"shopify_product_ids": []}, "shopify_product_ids is empty"),
        ({"shopify_product_ids": ""}, "shopify_product_ids is empty"),
        ({"shopify_variant_ids": "[1, 2"}, "shopify_variant_ids is not a valid JSON list"),
        ({"shopify_variant_ids": {"1": 2}}, "shopify_variant_ids must be a list"),
        ({"shopify_variant_ids": [1], "min_pending": 0}, "min_pending"),
        ({"shopify_variant_ids": [1], "intent_types": ["restok"]}, "intent_types"),
    ],
)
def test_bad_input_is_refused_before_any_request(stoq_sandbox, set_stoq_connection, kwargs, match):
    set_stoq_connection()
    with pytest.raises(StoqConfigError, match=match):
        sensor(**kwargs).poke({})
    with pytest.raises(StoqConfigError, match=match):
        sensor(deferrable=True, **kwargs).execute({})
    assert calls(stoq_sandbox) == 0


def test_constructor_only_stores_arguments(stoq_sandbox):
    s = sensor(shopify_variant_ids="{{ params.nope }}", min_pending="x", intent_types=["?"], stoq_conn_id="missing")
    assert s.shopify_variant_ids == "{{ params.nope }}" and s.min_pending == "x"
    assert "hook" not in vars(s), "the hook is built on first use"
    assert s.template_fields == ("shopify_variant_ids", "shopify_product_ids")
    assert calls(stoq_sandbox) == 0


# ---------------------------------------------------------------------------------------------- deferral, unit


def test_deferrable_execute_returns_at_once_when_enough_customers_wait(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    variant = seeded_variants(stoq_sandbox, 1)[0]
    expected = pending_in_sandbox(stoq_sandbox, variants=[variant])
    total = expected[str(variant)]
    result = sensor(shopify_variant_ids=[variant], min_pending=total, deferrable=True).execute({})
    assert result == {"pending": expected, "total": total} and total > 0


def test_deferrable_execute_defers_to_the_trigger_with_the_timeout(stoq_sandbox, set_stoq_connection):
    from tests.support.airflow_compat import TaskDeferred

    set_stoq_connection()
    s = sensor(shopify_variant_ids=f"{NEW_VARIANT}", min_pending=2, deferrable=True, poke_interval=30, timeout=600)
    with pytest.raises(TaskDeferred) as deferred:
        s.execute({})
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=600)
    assert isinstance(deferred.value.trigger, StoqPendingIntentsTrigger)
    before = time.time()
    kwargs = deferred.value.trigger.serialize()[1]
    end_time = kwargs.pop("end_time")
    assert kwargs == {
        "stoq_conn_id": "stoq_default",
        "shopify_variant_ids": [NEW_VARIANT],
        "shopify_product_ids": None,
        "min_pending": 2,
        "intent_types": ["restock"],
        "poke_interval": 30.0,
    }
    assert before + 590 <= end_time <= time.time() + 600, "the trigger ends by itself when the timeout does"
    assert calls(stoq_sandbox, "products_in_demand") == 1, "it checked once before deferring"


def test_resume_with_events():
    s = sensor(shopify_variant_ids=[1])
    ok = {"status": "success", "pending": {"1": 3}, "total": 3}
    assert s.resume_execution("execute_complete", {"event": ok}, {}) == {"pending": {"1": 3}, "total": 3}
    error = {"status": "error", "message": "STOQ rejected the API key (401)."}
    with pytest.raises(StoqPendingIntentsWaitError, match="Waiting for STOQ customers failed: STOQ rejected"):
        s.resume_execution("execute_complete", {"event": error}, {})


def test_resume_after_the_triggers_own_timeout_fails_clearly_or_skips_with_soft_fail():
    from tests.support.airflow_compat import AirflowSensorTimeout, AirflowSkipException

    event = {"event": {"status": "timeout", "message": "0 waiting", "pending": {"1": 0}, "total": 0}}
    with pytest.raises(AirflowSensorTimeout, match=r"Timed out after 5 s: shopify_variant_ids \[1\] never had 1"):
        sensor(shopify_variant_ids=[1], timeout=5).resume_execution("execute_complete", event, {})
    with pytest.raises(AirflowSkipException):
        sensor(shopify_variant_ids=[1], timeout=5, soft_fail=True).resume_execution("execute_complete", event, {})


def test_resume_after_a_trigger_error_skips_with_soft_fail():
    from tests.support.airflow_compat import AirflowSkipException

    error = {"status": "error", "message": "boom"}
    with pytest.raises(AirflowSkipException):
        sensor(shopify_variant_ids=[1], soft_fail=True).resume_execution("execute_complete", {"event": error}, {})


def test_resume_after_deferral_timeout_fails_clearly_or_skips_with_soft_fail(capsys):
    """What Airflow 3.3's task runner calls after the scheduler timed the deferral out."""
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

    from tests.support.airflow_compat import AirflowSensorTimeout, AirflowSkipException

    timeout = {"error": TriggerFailureReason.TRIGGER_TIMEOUT}
    message = r"Timed out after 120 s: shopify_variant_ids \[40000000001\] never had 2 or more waiting customers"
    with pytest.raises(AirflowSensorTimeout, match=message):
        sensor(shopify_variant_ids=[40000000001], min_pending=2, timeout=120).resume_execution(
            TRIGGER_FAIL_REPR, timeout, {}
        )
    with pytest.raises(AirflowSkipException):
        sensor(shopify_variant_ids=[40000000001], soft_fail=True, timeout=120).resume_execution(
            TRIGGER_FAIL_REPR, timeout, {}
        )
    out = capsys.readouterr().out
    sys.stdout.write(out)
    assert "never had 1 or more waiting customers. Skipping (soft_fail)." in out


def test_default_deferrable_comes_from_airflow_config_and_import_is_light():
    """In a fresh interpreter, as a DAG file is parsed: no HTTP client or transport is imported."""
    code = (
        "import sys; import airflow.sdk, airflow.triggers.base; before = set(sys.modules)\n"
        "from stoq_provider.sensors.intents import StoqPendingIntentsSensor as S\n"
        "import stoq_provider.triggers.intents\n"
        "new = set(sys.modules) - before\n"
        "heavy = sorted(m for m in new if m.split('.')[0] in ('requests', 'httpx', 'urllib3', 'tenacity')"
        " or m.startswith(('stoq_provider.api.transport', 'stoq_provider.hooks')))\n"
        "print(heavy, S(task_id='t', shopify_variant_ids=[1]).deferrable)\n"
    )
    env = {**__import__("os").environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "[] True", done.stderr[-2000:]


# ---------------------------------------------------------------------------------------------- real DAG runs


class AddWhenPolled(threading.Thread):
    """Adds ``n`` waiting intents for the watched variant once the sensor has polled ``after`` times."""

    def __init__(self, server, n, after=2):
        super().__init__(daemon=True)
        self.server, self.n, self.after = server, n, after
        self.stop = threading.Event()
        self.polls_before = None

    def run(self):
        while not self.stop.wait(0.05):
            # A poll asks for the store's demand bound first (nobody waits yet: that is all it asks).
            if calls(self.server, "products_in_demand") >= self.after:
                self.polls_before = calls(self.server, "products_in_demand")
                self.server.add_intents(new_intents(self.n))
                return

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join(5)


def _assert_found_two(result, server):
    assert result.state("wait") == "success", result.states
    assert result.xcom("wait") == {"pending": {str(NEW_VARIANT): 2}, "total": 2}
    assert calls(server, "products_in_demand") >= 3, "it polled, found nobody, and polled again"


def test_dag_run_poke_mode_with_xcomarg_ids(stoq_sandbox, set_stoq_connection, airflow_db_inprocess, monkeypatch):
    set_stoq_connection()
    with AddWhenPolled(stoq_sandbox, 2) as adder:
        result = run_dag(TEST_DAGS, "stoq_sensor_poke", monkeypatch)
    _assert_found_two(result, stoq_sandbox)
    assert adder.polls_before >= 2 and result.reschedules("wait") == 0


def test_dag_run_reschedule_mode_with_jinja_ids(stoq_sandbox, set_stoq_connection, airflow_db_inprocess, monkeypatch):
    set_stoq_connection()
    with AddWhenPolled(stoq_sandbox, 2):
        result = run_dag(TEST_DAGS, "stoq_sensor_reschedule", monkeypatch)
    _assert_found_two(result, stoq_sandbox)
    assert result.reschedules("wait") >= 2, "the task gave its slot back between pokes"


def test_dag_run_deferrable_mode_really_defers(
    stoq_sandbox, set_stoq_connection, airflow_db_inprocess, monkeypatch, caplog, capsys
):
    """The task is DEFERRED in the metadata DB with our trigger, the trigger polls STOQ, the task resumes."""
    import airflow.sdk.definitions.dag as dag_module
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    set_stoq_connection()
    seen = {}
    inline = dag_module._run_inline_trigger

    def observed(trigger, task_sdk_ti):
        with create_session() as session:
            # By its natural key: the id column is a string in Airflow 3.1, a UUID in 3.2+.
            ti = (
                session.query(TaskInstance)
                .filter_by(
                    dag_id=task_sdk_ti.dag_id,
                    task_id=task_sdk_ti.task_id,
                    run_id=task_sdk_ti.run_id,
                    map_index=task_sdk_ti.map_index,
                )
                .one()
            )
            row = session.get(Trigger, ti.trigger_id)
            seen.update(
                next_method=ti.next_method,
                trigger_timeout=ti.trigger_timeout,
                classpath=row.classpath,
                kwargs=dict(row.kwargs),
                deferred_at=ti.start_date,
            )
        before = calls(stoq_sandbox, "products_in_demand")
        event = inline(trigger, task_sdk_ti)
        seen["trigger_requests"] = calls(stoq_sandbox, "products_in_demand") - before
        seen["event"] = event.payload
        return event

    monkeypatch.setattr(dag_module, "_run_inline_trigger", observed)
    started = time.time()
    with AddWhenPolled(stoq_sandbox, 2, after=3):
        result = run_dag(TEST_DAGS, "stoq_sensor_deferrable", monkeypatch)
    out, err = capsys.readouterr()
    sys.stdout.write(out)  # hand it back: the autouse secret guard reads it too
    sys.stderr.write(err)

    _assert_found_two(result, stoq_sandbox)
    assert seen["classpath"] == "stoq_provider.triggers.intents.StoqPendingIntentsTrigger"
    assert seen["kwargs"]["shopify_variant_ids"] == [NEW_VARIANT] and seen["kwargs"]["min_pending"] == 2
    assert seen["next_method"] == "execute_complete"
    assert started + 59 <= seen["trigger_timeout"].timestamp() <= time.time() + 60, "timeout=60 bounds the deferral"
    assert seen["trigger_requests"] >= 2, "the trigger, not the task, polled STOQ until the intents appeared"
    assert seen["event"] == {"status": "success", "pending": {str(NEW_VARIANT): 2}, "total": 2}
    output = out + err + caplog.text
    assert "Pausing task as DEFERRED" in output and "[DAG TEST] running trigger in line" in output


def test_dag_run_poke_timeout_with_soft_fail_skips(
    stoq_sandbox, set_stoq_connection, airflow_db_inprocess, monkeypatch
):
    set_stoq_connection()
    result = run_dag(TEST_DAGS, "stoq_sensor_soft_fail", monkeypatch)
    assert result.state("wait") == "skipped"
    assert calls(stoq_sandbox, "products_in_demand") >= 2


def test_dag_run_inline_trigger_ends_at_the_sensor_timeout_and_skips_with_soft_fail(
    stoq_sandbox, set_stoq_connection, airflow_db_inprocess, monkeypatch
):
    """``dag.test()`` runs the trigger inline with no deferral timeout: the trigger's own end_time ends it."""
    set_stoq_connection()
    started = time.time()
    result = run_dag(TEST_DAGS, "stoq_sensor_deferrable_soft_fail", monkeypatch)
    assert result.state("wait") == "skipped"
    assert time.time() - started < 60, "the wait ended at the sensor's 2 s timeout"
    assert calls(stoq_sandbox, "products_in_demand") >= 3, "one check before deferring, then the trigger polled"


def test_dag_run_deferral_timeout_with_soft_fail_skips(
    stoq_sandbox, set_stoq_connection, airflow_db_inprocess, monkeypatch
):
    """``dag.test()`` runs triggers inline and never times them out; here a thread plays triggerer and scheduler.

    The task really defers (DB state ``deferred``, a ``trigger`` row); the thread runs that trigger as the
    triggerer would (rebuilt from the row's classpath and kwargs) and, when the deferral's ``trigger_timeout``
    passes, calls the scheduler's own ``check_trigger_timeouts``; ``dag.test()`` then resumes the task.
    """
    import asyncio

    import airflow.sdk.definitions.dag as dag_module
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.sdk import timezone
    from airflow.sdk.module_loading import import_string
    from airflow.utils.session import create_session

    set_stoq_connection()
    run_task = dag_module._run_task

    def run_task_without_inline_trigger(*, ti, task, run_triggerer=False):
        return run_task(ti=ti, task=task, run_triggerer=False)

    monkeypatch.setattr(dag_module, "_run_task", run_task_without_inline_trigger)
    seen: dict = {}

    def run_trigger_from_its_row():
        """Wait for the deferral, then run the trigger from the DB row until the deferral's timeout passes."""
        deadline = time.time() + 30
        while time.time() < deadline and "deferred" not in seen:
            with create_session() as session:
                ti = (
                    session.query(TaskInstance)
                    .filter_by(dag_id="stoq_sensor_deferrable_soft_fail", state="deferred")
                    .first()
                )
                if ti is not None:
                    row = session.get(Trigger, ti.trigger_id)
                    seen["deferred"] = (row.classpath, dict(row.kwargs), ti.trigger_timeout)
            time.sleep(0.1)
        classpath, kwargs, trigger_timeout = seen["deferred"]
        assert kwargs["end_time"] is not None
        # Here the scheduler's deferral timeout, not the trigger's own end_time, must end the wait.
        trigger = import_string(classpath)(**{**kwargs, "end_time": None})
        left = (trigger_timeout - timezone.utcnow()).total_seconds()
        before = calls(stoq_sandbox, "products_in_demand")

        async def run_until_timeout():
            try:
                await asyncio.wait_for(anext(trigger.run()), timeout=max(left, 0) + 0.2)
            except TimeoutError:
                seen["cancelled"] = True

        asyncio.run(run_until_timeout())
        seen["trigger_requests"] = calls(stoq_sandbox, "products_in_demand") - before

    def triggerer_and_scheduler():
        try:
            run_trigger_from_its_row()
        finally:  # always play the scheduler, so that dag.test() cannot wait forever on a deferred task
            scheduler = type("Scheduler", (), {"log": logging.getLogger("scheduler")})()
            for _ in range(100):
                with create_session() as session:
                    SchedulerJobRunner.check_trigger_timeouts(scheduler, session=session)
                    left = (
                        session.query(TaskInstance)
                        .filter_by(dag_id="stoq_sensor_deferrable_soft_fail", state="deferred")
                        .count()
                    )
                if not left:
                    break
                time.sleep(0.2)

    helper = threading.Thread(target=triggerer_and_scheduler, daemon=True)
    helper.start()
    result = run_dag(TEST_DAGS, "stoq_sensor_deferrable_soft_fail", monkeypatch)
    helper.join(10)

    assert seen["deferred"][0] == "stoq_provider.triggers.intents.StoqPendingIntentsTrigger"
    assert seen.get("cancelled") and seen["trigger_requests"] >= 2, "the trigger polled until it was timed out"
    assert result.state("wait") == "skipped"

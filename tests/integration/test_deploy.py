"""A real deployment, end to end (``make test-deploy``; deselected from ``make test``).

Airflow's API server, scheduler (LocalExecutor), DAG processor and triggerer run as separate processes on one
SQLite database in a throw-away ``AIRFLOW_HOME`` (see ``deployment.py``). The core example DAG is unpaused and
triggered through the REST API for two variants nobody waits for yet, so the sensor's first check finds no
demand and it must defer. Only once the REST API shows the sensor ``deferred`` on a
``StoqPendingIntentsTrigger`` held by the triggerer does the test add waiting customers to the sandbox; the
run then has to succeed by the trigger firing and the sensor resuming. Checked afterwards:

* the sensor's audit trail (``/api/v2/eventLogs``) reads ``running, deferred, running, success``, a path a
  poking sensor cannot take, and its XCom holds the counts that came from the trigger's event;
* the sandbox ledger: every waiting, subscribed customer of the two variants alerted once, nobody else, no
  duplicates, and the notify task's XCom summary says the same;
* nothing the components wrote (task logs, component logs, the metadata database) holds the API key or a
  customer's contact data (the secret guard of ``conftest.py`` reads this deployment's home).

Every component is stopped at the end, on failure too; a failure prints the tail of each component's log
(redacted). Run it alone with ``make test-deploy`` or ``pytest -m deploy tests/integration/test_deploy.py``.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support.deployment import Deployment, DeploymentError
from tests.support.paths import ROOT

pytestmark = pytest.mark.deploy

DAG_ID = "example_stoq_restock"
SENSOR = "wait_for_waiting_customers"
NOTIFY = "alert_waiting_customers"
#: Variants outside the sandbox's seeded catalog: nobody waits for them until the test says so.
VARIANT_A, VARIANT_B, PRODUCT = 48888888801, 48888888802, 8888888801


def _trigger_log(deploy: Deployment, run_id: str, triggerer_id: int, needle: str) -> Path | None:
    """The sensor's trigger log file written by triggerer job ``triggerer_id``, if it contains ``needle``."""
    folder = deploy.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={SENSOR}"
    for path in folder.glob(f"attempt=*.log.trigger.{triggerer_id}.log"):
        if needle in path.read_text(errors="replace"):
            return path
    return None


def _intent(variant: int, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "shopify_variant_id": variant,
        "shopify_product_id": PRODUCT,
        "type": "restock",
        "notified_at": None,
        "unsubscribed_at": None,
        "customer_unsubscribed_at": None,
        "blocked_at": None,
    }
    return {**base, **fields}


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stoq_sandbox) -> Deployment:
    """An unstarted deployment against the sandbox; every process it starts is stopped at teardown."""
    deploy = Deployment(
        tmp_path / "airflow",
        dags=[ROOT / "example_dags" / f"{DAG_ID}.py"],
        extra_env={
            "AIRFLOW_CONN_STOQ_DEFAULT": stoq_sandbox.connection_json(),
            "STOQ_EXAMPLE_WAIT_SECONDS": "300",  # the sensor's timeout; the test adds demand long before
        },
    )
    # The secret guard (conftest.py) reads the database and log files of $AIRFLOW_HOME after the test.
    monkeypatch.setenv("AIRFLOW_HOME", str(deploy.home))
    yield deploy
    leftovers = deploy.stop()
    assert not leftovers, f"processes outlived a graceful stop and were killed: {leftovers}"
    assert deploy.stray_pids() == [], "a process of the deployment is still running"


def test_core_example_in_a_real_deployment(deployment: Deployment, stoq_sandbox) -> None:
    started = time.monotonic()
    try:
        _run_scenario(deployment, stoq_sandbox)
    except BaseException:
        pii = stoq_sandbox.pii()
        print(f"\nThe deployment failed after {time.monotonic() - started:.0f} s; component logs (redacted):")
        print(deployment.log_tails(redact=[pii["api_key"], *pii["emails"], *pii["phones"]]))
        raise
    print(f"\nDeployment smoke test passed in {time.monotonic() - started:.0f} s")


def _run_scenario(deploy: Deployment, sandbox) -> None:
    api = deploy.bring_up(DAG_ID)

    run = api.request(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={
            "logical_date": datetime.now(timezone.utc).isoformat(),
            "conf": {"restocked_variant_ids": [VARIANT_A, VARIANT_B]},
        },
    )
    run_path = f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}"
    seen: list[str] = []

    def sensor() -> dict:
        ti = api.get(f"{run_path}/taskInstances/{SENSOR}")
        if not seen or seen[-1] != ti["state"]:
            seen.append(ti["state"])
        if api.get(run_path)["state"] == "failed":
            raise DeploymentError(f"the run failed; sensor states seen: {seen}")
        return ti

    deferred = deploy.wait_for("the sensor to defer", lambda: (ti := sensor())["state"] == "deferred" and ti, 240)
    trigger = deferred["trigger"]
    assert trigger["classpath"] == "stoq_provider.triggers.intents.StoqPendingIntentsTrigger", trigger
    deploy.wait_for(
        "a triggerer to pick the trigger up",
        lambda: api.get(f"{run_path}/taskInstances/{SENSOR}")["trigger"]["triggerer_id"],
        60,
    )
    trigger_row = api.get(f"{run_path}/taskInstances/{SENSOR}")["trigger"]
    triggerer = api.get("/jobs", params={"job_type": "TriggererJob", "is_alive": True})["jobs"]
    assert trigger_row["triggerer_id"] in {job["id"] for job in triggerer}, (trigger_row, triggerer)
    # The trigger runs in the triggerer, which writes its lines next to the task's log: wait for its first
    # check (nobody waiting yet). Only then do customers sign up.
    trigger_log = deploy.wait_for(
        "the trigger's first check in the triggerer",
        lambda: _trigger_log(deploy, run["dag_run_id"], trigger_row["triggerer_id"], "0 customers waiting (need 1)"),
        60,
    )
    assert sandbox.ledger()["total_sends"] == 0
    added = sandbox.add_intents(
        [_intent(VARIANT_A) for _ in range(3)]
        + [_intent(VARIANT_B) for _ in range(2)]
        + [
            _intent(VARIANT_A, customer_unsubscribed_at="2026-01-02T00:00:00Z"),
            _intent(VARIANT_B, notified_at="2026-01-02T00:00:00Z"),
            _intent(VARIANT_B, blocked_at="2026-01-02T00:00:00Z"),
        ]
    )
    expected = {intent["id"] for intent in added[:5]}

    final = deploy.wait_for(
        "the run to finish",
        lambda: sensor() and (state := api.get(run_path)["state"]) in ("success", "failed") and state,
        240,
    )
    states = {ti["task_id"]: ti["state"] for ti in api.get(f"{run_path}/taskInstances")["task_instances"]}
    assert final == "success", f"run {final}: {states}"
    assert states == {"sync_inventory": "success", SENSOR: "success", NOTIFY: "success"}, states

    # Deferral, from the task's audit trail: a poking sensor goes running -> success and nothing else.
    events = api.get(
        "/eventLogs", params={"dag_id": DAG_ID, "run_id": run["dag_run_id"], "task_id": SENSOR, "order_by": "when"}
    )["event_logs"]
    trail = [e["event"] for e in events if e["event"] in ("running", "deferred", "success", "failed", "skipped")]
    assert trail == ["running", "deferred", "running", "success"], trail
    assert "deferred" in seen, seen
    fired = [line for line in trigger_log.read_text().splitlines() if "Trigger fired event" in line]
    # The trigger stops counting once min_pending (1) is met: its event has the counts found until then.
    assert len(fired) == 1 and "'status': 'success'" in fired[0] and "'total': 1" in fired[0], fired
    sensed = api.get(f"{run_path}/taskInstances/{SENSOR}/xcomEntries/return_value")["value"]
    assert set(sensed["pending"]) == {str(VARIANT_A), str(VARIANT_B)}, sensed
    assert sensed["total"] == sum(sensed["pending"].values()) == 1, sensed

    # Exactly once, from the sandbox's ledger and the notify task's summary.
    ledger = sandbox.ledger()
    assert set(ledger["sends"]) == expected, "alerted: exactly the waiting, subscribed customers"
    assert all(count == 1 for count in ledger["sends"].values()) and ledger["total_sends"] == 5
    assert ledger["duplicates"] == []
    summary = api.get(f"{run_path}/taskInstances/{NOTIFY}/xcomEntries/return_value")["value"]
    assert summary["notified"] == ledger["total_sends"] == 5 and summary["failed"] == 0, summary
    assert {k: v["notified"] for k, v in summary["per_variant"].items()} == {str(VARIANT_A): 3, str(VARIANT_B): 2}
    print(
        f"\nsensor states seen over REST: {seen}; audit trail: {trail}; trigger {trigger['classpath']} "
        f"held by triggerer job {trigger_row['triggerer_id']}; trigger log {trigger_log.name}: first check found "
        "0 waiting, then fired success once 1 was found (min_pending)"
    )
    print(
        f"ledger: {ledger['total_sends']} sends to {len(ledger['sends'])} intents, "
        f"{len(ledger['duplicates'])} duplicates; notify summary: notified={summary['notified']} "
        f"skipped={summary['skipped']} failed={summary['failed']}"
    )

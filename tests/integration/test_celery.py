"""The CeleryExecutor, really distributed (``make test-celery``; deselected from ``make test``).

Redis (Debian's ``redis-server``, on a free loopback port), two Celery workers as separate processes, and
Airflow's scheduler, DAG processor, triggerer and API server (see ``deployment.py``), every component sending
its metrics to a real UDP StatsD listener in this process. Against a sandbox with a tight budget:

1. ``example_stoq_mapped`` over 24 variants: the mapped tasks run on both workers (their logs say which ran
   where), every waiting customer is alerted exactly once, the store's window never held more points than its
   budget, every ``429`` was recovered, and the provider's metrics equal the sandbox's own counters.
2. A worker killed with SIGKILL while its notify task is between batches: Airflow notices the missing
   heartbeats, the retry runs on the other worker and alerts the rest; nobody twice, nobody left out.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support.deployment import Deployment, RestClient
from tests.support.paths import ROOT
from tests.support.statsd import StatsdListener

pytestmark = pytest.mark.celery

MAPPED = "example_stoq_mapped"
LONG = "stoq_celery_long_notify"
WORKERS = ("celery-worker-1", "celery-worker-2")
VARIANTS, PER_VARIANT = 24, 120
LONG_INTENTS = 6000


@pytest.fixture
def statsd() -> StatsdListener:
    with StatsdListener() as listener:
        yield listener


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stoq_sandbox, statsd) -> Deployment:
    deploy = Deployment(
        tmp_path / "airflow",
        dags=[
            ROOT / "example_dags" / f"{MAPPED}.py",
            ROOT / "tests" / "dags" / f"{LONG}.py",
            ROOT / "tests" / "dags" / "stoq_deferrable_notify.py",
        ],
        extra_env={
            "AIRFLOW_CONN_STOQ_DEFAULT": stoq_sandbox.connection_json(),
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
            # A worker that dies is noticed within seconds, not the default 5 minutes.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
        },
        executor="CeleryExecutor",
    )
    monkeypatch.setenv("AIRFLOW_HOME", str(deploy.home))  # the secret guard reads this home afterwards
    yield deploy
    leftovers = deploy.stop(grace=40)
    assert not leftovers, f"processes outlived a graceful stop and were killed: {leftovers}"
    assert deploy.stray_pids() == [], "a process of the deployment is still running"


def test_celery_workers_share_the_work_and_a_killed_worker_loses_nothing(
    deployment: Deployment, stoq_sandbox, statsd: StatsdListener
) -> None:
    try:
        _run_scenario(deployment, stoq_sandbox, statsd)
    except BaseException:
        pii = stoq_sandbox.pii()
        print(deployment.log_tails(lines=60, redact=[pii["api_key"], *pii["emails"], *pii["phones"]]))
        raise


def _trigger(api: RestClient, dag_id: str, conf: dict) -> str:
    api.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    run = api.request(
        "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": datetime.now(timezone.utc).isoformat(), "conf": conf}
    )
    return str(run["dag_run_id"])


def _tasks_per_worker(deploy: Deployment, run_id: str) -> dict[str, int]:
    """How many task instances of ``run_id`` each worker ran, from each worker's own log."""
    counts = {}
    for worker in WORKERS:
        text = (deploy.logs / f"{worker}.log").read_text(errors="replace")
        counts[worker] = len(set(re.findall(rf"{re.escape(run_id)}[^\n]*?map_index=(-?\d+)", text)))
    return counts


def _run_scenario(deploy: Deployment, sandbox, statsd: StatsdListener) -> None:
    # 72 points over 24 tasks against 10 points per 3 s: the tasks of both workers wait for one budget.
    sandbox.reset(intents=VARIANTS * PER_VARIANT, variants=VARIANTS, pending_only=True, budget=10, window=3)
    broker = deploy.start_redis()
    deploy.env.update(AIRFLOW__CELERY__BROKER_URL=f"{broker}/0", AIRFLOW__CELERY__RESULT_BACKEND=f"{broker}/1")
    api = deploy.bring_up(MAPPED)
    for worker in WORKERS:
        deploy.start_worker(worker)
    deploy.wait_for(
        "both Celery workers to be ready",
        lambda: all("ready." in (deploy.logs / f"{w}.log").read_text(errors="replace") for w in WORKERS),
        120,
    )
    audit: list[str] = []

    # 1. The mapped example over 24 variants, across both workers.
    variants = sorted({v["shopify_variant_id"] for v in sandbox.catalog()})
    assert len(variants) == VARIANTS
    before = sandbox.stats()
    run_id = _trigger(api, MAPPED, {"restocked_variant_ids": variants})
    run_path = f"/dags/{MAPPED}/dagRuns/{run_id}"
    state = deploy.wait_for(
        "the mapped run to finish", lambda: (s := api.get(run_path)["state"]) in ("success", "failed") and s, 300
    )
    tis = api.get(f"{run_path}/taskInstances", params={"limit": 100})["task_instances"]
    assert state == "success", [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    mapped = [t for t in tis if t["task_id"] == "alert_per_variant"]
    assert len(mapped) == VARIANTS and all(t["state"] == "success" for t in mapped)
    per_worker = _tasks_per_worker(deploy, run_id)
    assert all(per_worker.values()), f"every worker ran mapped tasks: {per_worker}"
    ledger = sandbox.ledger()
    waiting = VARIANTS * PER_VARIANT
    assert ledger["total_sends"] == len(ledger["sends"]) == waiting and ledger["duplicates"] == []
    after = sandbox.stats()
    budget = after["budget"]
    assert budget["peak"] <= budget["budget"], budget
    requests = after["total_requests"] - before["total_requests"]
    points = after["points_charged"] - before["points_charged"]
    refused = after["rate_limited"] - before["rate_limited"]
    deploy.wait_for("the metrics to arrive", lambda: statsd.counter("airflow.stoq.requests") >= requests, 20, 0.2)
    measured = {name: statsd.counter(f"airflow.stoq.{name}") for name in ("requests", "points", "rate_limited")}
    notified = statsd.counter("airflow.stoq.intents.notified")
    assert measured == {"requests": requests, "points": points, "rate_limited": refused}, (measured, after)
    assert notified == waiting
    audit.append(
        f"mapped run over {VARIANTS} variants: tasks per worker {per_worker}; ledger {ledger['total_sends']} sends to "
        f"{len(ledger['sends'])} intents, {len(ledger['duplicates'])} duplicates, 0 missing; peak {budget['peak']} "
        f"points in a window of {budget['window']:g} s against a budget of {budget['budget']}; {refused} 429s, all "
        f"recovered; metrics {measured} + intents.notified {notified:g} against the sandbox's "
        f"requests={requests} points={points} rate_limited={refused}"
    )

    # 2. A worker killed with SIGKILL mid-notify; the retry on the other worker alerts the rest.
    sandbox.reset(intents=LONG_INTENTS, variants=1, pending_only=True, budget=20, window=2)
    [variant] = [v["shopify_variant_id"] for v in sandbox.catalog()]
    run_id = _trigger(api, LONG, {"variants": [variant]})
    ti_path = f"/dags/{LONG}/dagRuns/{run_id}/taskInstances/notify"
    deploy.wait_for("1,000 alerts sent", lambda: sandbox.ledger()["total_sends"] >= 1000, 180, 0.2)
    [running] = [w for w, n in _tasks_per_worker(deploy, run_id).items() if n] or [None]
    assert running in WORKERS, _tasks_per_worker(deploy, run_id)
    sent_at_kill = sandbox.ledger()["total_sends"]
    deploy.kill(running)
    killed_at = time.monotonic()
    state = deploy.wait_for(
        "the retry to finish the notify",
        lambda: (s := api.get(f"/dags/{LONG}/dagRuns/{run_id}")["state"]) in ("success", "failed") and s,
        300,
    )
    tries = api.get(f"{ti_path}/tries")["task_instances"]
    trail = [(t["try_number"], t["state"]) for t in tries]
    assert state == "success", trail
    assert len(tries) >= 2 and tries[-1]["state"] == "success", trail
    ledger = sandbox.ledger()
    assert ledger["total_sends"] == len(ledger["sends"]) == LONG_INTENTS, "nobody left out"
    assert ledger["duplicates"] == [] and all(n == 1 for n in ledger["sends"].values()), "nobody twice"
    other = next(w for w in WORKERS if w != running)
    assert _tasks_per_worker(deploy, run_id)[other] >= 1, "the retry ran on the other worker"
    audit.append(
        f"killed {running} (SIGKILL) after {sent_at_kill} of {LONG_INTENTS} sends; tries {trail}; the retry ran on "
        f"{other}; {time.monotonic() - killed_at:.0f} s from the kill to success; ledger {ledger['total_sends']} "
        f"sends, {len(ledger['duplicates'])} duplicates, {LONG_INTENTS - len(ledger['sends'])} missing"
    )
    # 3. A deferrable notify on a tight budget: its waits are spent in the triggerer, several times.
    sandbox.reset(intents=1000, variants=1, pending_only=True, budget=20, window=15)
    [variant] = [v["shopify_variant_id"] for v in sandbox.catalog()]
    dag_id = "stoq_deferrable_shopify_variant_ids"
    run_id = _trigger(api, dag_id, {"value": [variant]})
    state = deploy.wait_for(
        "the deferrable notify to finish",
        lambda: (s := api.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"]) in ("success", "failed") and s,
        300,
    )
    events = api.get("/eventLogs", params={"dag_id": dag_id, "run_id": run_id, "task_id": "notify", "order_by": "when"})
    trail = [e["event"] for e in events["event_logs"] if e["event"] in ("running", "deferred", "success", "failed")]
    summary = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/notify/xcomEntries/return_value")["value"]
    ledger = sandbox.ledger()
    assert state == "success", trail
    assert trail.count("deferred") >= 2 and trail[-1] == "success", trail
    assert ledger["total_sends"] == len(ledger["sends"]) == 1000 and ledger["duplicates"] == []
    assert summary["notified"] == 1000 and summary["deferrals"] == trail.count("deferred"), summary
    audit.append(
        f"deferrable notify of 1,000 at 20 points per 15 s: audit trail {trail}; summary legs={summary['legs']} "
        f"deferrals={summary['deferrals']} deferred_seconds={summary['deferred_seconds']}; ledger "
        f"{ledger['total_sends']} sends, {len(ledger['duplicates'])} duplicates"
    )
    print("\n" + "\n".join(audit))

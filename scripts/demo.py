"""`make demo`: the core example DAG end to end, with real Airflow on SQLite, against the local STOQ sandbox.

1. starts the sandbox in the background with seeded demand (a separate process);
2. uses a project-local ``AIRFLOW_HOME`` (``.demo/airflow``) on SQLite and migrates its database;
3. points ``stoq_default`` at the sandbox and creates the ``stoq`` pool;
4. runs ``airflow dags test example_stoq_restock`` twice (the second run must send nothing);
5. prints who was waiting, how many were alerted per variant (from the task's summary and the sandbox
   ledger), and stops the sandbox, leaving nothing running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / ".demo" / "airflow"
DAG_ID = "example_stoq_restock"
RESTOCKED = [40000000000, 40000000001, 40000000002]


def _env(connection: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(HOME),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_STOQ_DEFAULT=connection,
        STOQ_EXAMPLE_WAIT_SECONDS="5",  # the rerun finds nobody waiting; give up on the wait after 5 s
    )
    return env


def _airflow(env: dict[str, str], *args: str, log: Path) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("a") as out:
        out.write(f"\n$ airflow {' '.join(args)}\n")
        out.flush()
        done = subprocess.run([airflow, *args], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=600)
    if done.returncode:
        sys.exit(f"demo: `airflow {' '.join(args)}` failed (exit {done.returncode}); see {log}")


def _waiting(intents: list[dict]) -> dict[int, int]:
    counts = dict.fromkeys(RESTOCKED, 0)
    for intent in intents:
        variant = intent["shopify_variant_id"]
        subscribed = not (intent["unsubscribed_at"] or intent["customer_unsubscribed_at"] or intent["blocked_at"])
        if variant in counts and intent["notified_at"] is None and subscribed and intent["type"] == "restock":
            counts[variant] += 1
    return counts


def _runs(env: dict[str, str]) -> list[dict]:
    """Per run, oldest first: the task states and the notify task's summary, read from the demo's Airflow DB."""
    code = (
        "import json\n"
        "from airflow.models.dagrun import DagRun\n"
        "from airflow.models.xcom import XComModel\n"
        "from airflow.utils.session import create_session\n"
        "out = []\n"
        "with create_session() as s:\n"
        "    for run in s.query(DagRun).filter(DagRun.dag_id == %r).order_by(DagRun.id):\n"
        "        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=s)}\n"
        "        row = s.query(XComModel).filter(XComModel.run_id == run.run_id, XComModel.dag_id == run.dag_id,"
        " XComModel.task_id == 'alert_waiting_customers', XComModel.key == 'return_value').first()\n"
        "        value = None if row is None else (\n"
        "            row.value if not isinstance(row.value, str) else json.loads(row.value))\n"
        "        out.append({'states': states, 'summary': value})\n"
        "print(json.dumps(out))\n"
    ) % DAG_ID
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    if out.returncode:
        sys.exit(f"demo: could not read the runs from the Airflow database: {out.stderr[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from stoq_provider.sandbox import SandboxServer

    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(parents=True)
    log = HOME.parent / "demo.log"
    log.write_text("")
    print(f"STOQ demo: Airflow home {HOME.relative_to(ROOT)} (SQLite); full log in {log.relative_to(ROOT)}")
    with SandboxServer(subprocess=True, seed=7, intents=600, variants=6) as sandbox:
        print(f"STOQ sandbox running at {sandbox.base_url} with seeded demand")
        before = _waiting(sandbox.intents())
        env = _env(sandbox.connection_json())
        _airflow(env, "db", "migrate", log=log)
        _airflow(env, "pools", "set", "stoq", "4", "STOQ API tasks share one store rate budget", log=log)
        config = json.dumps({"restocked_variant_ids": RESTOCKED})
        print(f"Running `airflow dags test {DAG_ID}` for restocked variants {RESTOCKED} ...")
        _airflow(env, "dags", "test", DAG_ID, "-c", config, log=log)
        after_first = sandbox.ledger()
        print("Running it again (a rerun must alert nobody twice) ...")
        _airflow(env, "dags", "test", DAG_ID, "-c", config, log=log)
        ledger = sandbox.ledger()
        runs = _runs(env)
        intents = {i["id"]: i for i in sandbox.intents()}
    if len(runs) != 2 or runs[0]["summary"] is None:
        sys.exit("demo: the first run left no summary of the notify task")
    first, rerun = runs[0]["summary"], runs[1]
    alerted = dict.fromkeys(RESTOCKED, 0)
    for intent_id, count in ledger["sends"].items():
        variant = intents[intent_id]["shopify_variant_id"]
        alerted[variant] = alerted.get(variant, 0) + count
    rerun_sent = ledger["total_sends"] - after_first["total_sends"]
    print()
    print(f"{'variant':>14} {'waiting':>8} {'alerted (task)':>15} {'alerted (ledger)':>17}")
    for variant in RESTOCKED:
        row = first["per_variant"].get(str(variant), {})
        print(f"{variant:>14} {before[variant]:>8} {row.get('notified', 0):>15} {alerted[variant]:>17}")
    print(
        f"\nFirst run: {first['notified']} alerted, {first['skipped']} skipped (unsubscribed, blocked or other "
        f"type), {first['failed']} failed."
    )
    print(
        "Second run: nobody was waiting any more; the sensor ended its wait "
        f"({rerun['states'].get('wait_for_waiting_customers')}), the alert task was "
        f"{rerun['states'].get('alert_waiting_customers')}: {rerun_sent} alerts sent."
    )
    print(
        f"Ledger: {ledger['total_sends']} alerts to {len(ledger['sends'])} customers, "
        f"{len(ledger['duplicates'])} sent twice."
    )
    ok = (
        ledger["duplicates"] == []
        and rerun_sent == 0
        and first["notified"] == sum(before.values()) == ledger["total_sends"]
    )
    print("Demo OK: every waiting customer alerted exactly once." if ok else "Demo FAILED: see the numbers above.")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

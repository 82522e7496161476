"""Chaos: exactly once under injected faults, outages and a shared, overdrawn store budget (marker ``chaos``).

Every run goes over real HTTP to the sandbox, whose ledger counts what STOQ would have sent to each customer.
The expected set is computed independently from the sandbox's own dump of the intents.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest

from tests.support.helpers import FAST_EXTRAS, calls
from tests.support.paths import TEST_DAGS

pytestmark = [pytest.mark.chaos, pytest.mark.sandbox]

FAULTS = ["error500", "html502", "drop", "slow", "lost"]


def eligible(server, variants=None):
    """Pending, subscribed restock intents (of ``variants``), from the sandbox's own dump."""
    return {
        i["id"]
        for i in server.intents()
        if (variants is None or i["shopify_variant_id"] in variants)
        and i["notified_at"] is None
        and i["type"] == "restock"
        and not (i["unsubscribed_at"] or i["customer_unsubscribed_at"] or i["blocked_at"])
    }


class Neighbour(threading.Thread):
    """Another integration of the same store (say, a marketing tool) spending its rate budget meanwhile.

    It calls the API directly, so the provider's pacer cannot see its spending and meets real 429s.
    """

    def __init__(self, server, every: float, burst: int = 1) -> None:
        super().__init__(daemon=True)
        self.server, self.every, self.burst = server, every, burst
        self.stop = threading.Event()
        self.sent = self.refused = 0

    def run(self) -> None:
        import requests

        with requests.Session() as session:
            session.headers["X-Auth-Token"] = self.server.api_key
            while not self.stop.wait(self.every):
                for _ in range(self.burst):
                    try:
                        answer = session.get(f"{self.server.base_url}/intents", params={"per_page": 1}, timeout=5)
                    except requests.RequestException:
                        continue
                    self.sent += 1
                    self.refused += answer.status_code == 429

    def __enter__(self) -> Neighbour:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join(10)


class _TI:
    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = value


def notify(**kwargs):
    """Run the operator as a worker would (no Airflow DB needed): return its summary."""
    from stoq_provider.operators.notify import StoqNotifyOperator

    return StoqNotifyOperator(task_id="notify", **kwargs).execute({"ti": _TI()})


# ---------------------------------------------------------------------------------------------- 10,000 intents


def test_ten_thousand_intents_under_faults_and_429s_each_sent_exactly_once(stoq_sandbox, set_stoq_connection, capsys):
    # 10,000 intents over 20 variants; a mix of pending, notified, unsubscribed, blocked and wishlist intents.
    stoq_sandbox.reset(seed=4242, intents=10_000, variants=20)
    variants = sorted({i["shopify_variant_id"] for i in stoq_sandbox.intents()})
    expected = eligible(stoq_sandbox)
    unsent = sum(1 for i in stoq_sandbox.intents() if i["notified_at"] is None)
    assert len(variants) == 20 and len(expected) > 5000
    # A budget of 120 points per 2 s window (the real 360/min, sped up) shared with a neighbour.
    stoq_sandbox.configure(budget=120, window=2.0)
    stoq_sandbox.set_faults(rate=0.12, kinds=FAULTS, slow_seconds=1.0, seed=99)
    set_stoq_connection(timeout=0.6, max_retries=8, retry_max_time=60, max_rate_limit_retries=30)

    started = time.monotonic()
    with Neighbour(stoq_sandbox, every=1.5, burst=90) as neighbour:  # spends most of a window at once
        # Small batches: many calls, so that faults and the neighbour's 429s meet the run often.
        summary = notify(shopify_variant_ids=variants, batch_size=25)
    took = time.monotonic() - started
    time.sleep(1.2)  # let a "slow" answer that the client gave up on finish on the server
    ledger, stats = stoq_sandbox.ledger(), stoq_sandbox.stats()

    sends = ledger["sends"]
    ours_429 = stats["rate_limited"] - neighbour.refused
    report = {
        "intents": 10_000,
        "eligible": len(expected),
        "sent": len(sends),
        "duplicates": len(ledger["duplicates"]),
        "lost": len(expected - set(sends)),
        "faults": stats["faults"],
        "429s_provider": ours_429,
        "429s_neighbour": neighbour.refused,
        "wall_s": round(took, 1),
    }
    print(f"\nCHAOS 10k: {report}")
    assert set(sends) == expected, "every pending subscribed intent sent, nothing else"
    assert ledger["duplicates"] == [] and all(n == 1 for n in sends.values())
    assert summary["notified"] + summary["already_notified"] == len(expected) == ledger["total_sends"]
    assert summary["failed"] == 0 and summary["skipped"] == unsent - len(expected)
    assert sum(stats["faults"].values()) >= 30, "faults of every kind were really injected"
    assert set(stats["faults"]) == set(FAULTS)
    assert ours_429 > 0, "the budget was overdrawn by the neighbour and the provider met 429s, and recovered"


# ---------------------------------------------------------------------------------------------- outage + retry


def test_outage_mid_run_fails_the_try_and_airflows_retry_finishes_exactly_once(stoq_sandbox, dags_test):
    """A real ``airflow dags test`` with ``retries``: the first try dies in an outage, a retry completes."""
    stoq_sandbox.reset(seed=77, intents=3000, variants=6, pending_only=True)
    variants = sorted({i["shopify_variant_id"] for i in stoq_sandbox.intents()})
    expected = eligible(stoq_sandbox)
    outage = {}

    def outage_mid_run() -> None:
        deadline = time.time() + 120
        while time.time() < deadline:
            sent = stoq_sandbox.ledger()["total_sends"]
            if sent >= 300:
                stoq_sandbox.outage(seconds=8, kind="html502")  # the hook gives up after ~3 s of retrying
                outage["at"] = sent
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=outage_mid_run, daemon=True)
    watcher.start()
    done = dags_test(
        "stoq_chaos_outage",
        {"variants": variants},
        folder=str(TEST_DAGS),
        max_retries=3,
        retry_max_time=3,
        retry_wait_initial=0.2,
        retry_wait_max=1,
    )
    watcher.join(5)
    output = done.stdout + done.stderr
    ledger = stoq_sandbox.ledger()

    assert 300 <= outage["at"] < len(expected), "the outage began mid-run"
    assert "StoqNotifyPartialFailure" in output or "StoqBulkNotifyInterrupted" in output, "the first try failed"
    tries = _try_numbers("stoq_chaos_outage")
    assert max(tries) >= 2, f"Airflow retried the task (tries {tries})"
    assert set(ledger["sends"]) == expected and ledger["duplicates"] == []
    print(f"\nCHAOS outage: outage began after {outage['at']} sends; tries {tries}; {len(ledger['sends'])} sent once")


def _try_numbers(dag_id: str) -> list[int]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return [ti.try_number for ti in session.query(TaskInstance).filter_by(dag_id=dag_id, task_id="notify")]


# ---------------------------------------------------------------------------------------------- several workers


def _worker(connection: str, variants: list[int]) -> dict:
    """One notify task in its own process (its own rate pacer), like a mapped task on another worker."""
    import os

    os.environ["AIRFLOW_CONN_STOQ_DEFAULT"] = connection
    return notify(shopify_variant_ids=variants, batch_size=25)


def test_several_workers_sharing_one_store_budget_recover_every_429_and_send_once(stoq_sandbox, set_stoq_connection):
    stoq_sandbox.reset(seed=5150, intents=2400, variants=8)
    variants = sorted({i["shopify_variant_id"] for i in stoq_sandbox.intents()})
    expected = eligible(stoq_sandbox)
    stoq_sandbox.configure(budget=40, window=1.0)
    connection = stoq_sandbox.connection_json(**{**FAST_EXTRAS, "max_rate_limit_retries": 40})
    # Four workers; each pair overlaps on two variants, as when two DAGs restock the same products.
    selections = [variants[0:4], variants[2:6], variants[4:8], variants[6:8] + variants[0:2]]
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=4, mp_context=get_context("spawn")) as pool:
        summaries = list(pool.map(_worker, [connection] * 4, selections))
    took = time.monotonic() - started
    ledger, stats = stoq_sandbox.ledger(), stoq_sandbox.stats()

    print(
        f"\nCHAOS workers: 4 processes, {len(expected)} eligible, {ledger['total_sends']} sent, "
        f"{len(ledger['duplicates'])} duplicates, {stats['rate_limited']} 429s, {took:.1f} s"
    )
    assert set(ledger["sends"]) == expected and ledger["duplicates"] == []
    assert sum(s["failed"] for s in summaries) == 0
    assert sum(s["notified"] for s in summaries) == len(expected), "each customer alerted by exactly one worker"
    assert stats["rate_limited"] > 0, "the workers really overdrew the shared budget"
    assert calls(stoq_sandbox, "bulk_notify") > 0

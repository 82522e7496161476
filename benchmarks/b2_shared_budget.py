"""B2: one store budget, many tasks: 8 notify tasks at once, each in its own process, for different variants.

Like mapped tasks spread over several workers, each process has its own rate pacer; they share only the
store's budget, which each learns from the ``X-RateLimit-*`` headers of its own answers. The parent polls the
sandbox's point counter to measure how much of the budget is used while every task still has work queued
(from the moment the last task starts to the moment the first one finishes): the budget allows ``budget``
points per ``window``, so the share is ``Δpoints / (budget × Δt / window)``. The clock runs ``SPEEDUP_B2``
times faster than STOQ's, slow enough that the budget, not the loopback latency, limits the tasks.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from benchmarks.common import REAL_BUDGET, REAL_WINDOW, Result, sandbox

TASKS = 8
SPEEDUP_B2 = 10.0
WINDOW = REAL_WINDOW / SPEEDUP_B2
BATCH = 25  # small batches: many calls, so that the tasks compete for the budget for a while


def _task(connection: str, variants: list[int]) -> dict[str, Any]:
    """One notify task in a fresh process (spawned), timed from its first to its last request."""
    import os

    os.environ["AIRFLOW_CONN_STOQ_DEFAULT"] = connection
    from stoq_provider.operators.notify import StoqNotifyOperator

    class TI:
        def xcom_push(self, key: str, value: Any) -> None:
            pass

    operator = StoqNotifyOperator(task_id="notify", shopify_variant_ids=variants, batch_size=BATCH)
    started = time.time()
    summary = operator.execute({"ti": TI()})
    return {"started": started, "ended": time.time(), "notified": summary["notified"], "failed": summary["failed"]}


class _PointsSampler(threading.Thread):
    """Samples the sandbox's charged points every ``every`` seconds: a time series of spending."""

    def __init__(self, server: Any, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.time(), self.server.stats()["points_charged"]))
            self.stop.wait(self.every)

    def points_at(self, when: float) -> float:
        """Points charged at ``when``, interpolated between samples."""
        before = [s for s in self.samples if s[0] <= when]
        after = [s for s in self.samples if s[0] >= when]
        if not before:
            return float(after[0][1])
        if not after:
            return float(before[-1][1])
        (t0, p0), (t1, p1) = before[-1], after[0]
        return p0 + (p1 - p0) * ((when - t0) / (t1 - t0) if t1 > t0 else 0.0)


def run(smoke: bool = False) -> Result:
    per_task = 150 if smoke else 1500
    n = per_task * TASKS
    with sandbox(intents=10, variants=2, budget=REAL_BUDGET, window=WINDOW) as server:
        server.reset(seed=23, intents=n, variants=TASKS * 2, pending_only=True, budget=REAL_BUDGET, window=WINDOW)
        variants = sorted({i["shopify_variant_id"] for i in server.intents()})
        selections = [variants[2 * k: 2 * k + 2] for k in range(TASKS)]
        connection = server.connection_json(max_rate_limit_retries=50)
        sampler = _PointsSampler(server)
        sampler.start()
        wall = time.time()
        with ProcessPoolExecutor(max_workers=TASKS, mp_context=get_context("spawn")) as pool:
            tasks = list(pool.map(_task, [connection] * TASKS, selections))
        wall = time.time() - wall
        time.sleep(0.3)
        sampler.stop.set()
        sampler.join(5)
        stats, ledger = server.stats(), server.ledger()

    all_running = max(t["started"] for t in tasks)
    first_done = min(t["ended"] for t in tasks)
    span = max(first_done - all_running, 1e-9)
    spent = sampler.points_at(first_done) - sampler.points_at(all_running)
    share = spent / (REAL_BUDGET * span / WINDOW)
    sent_once = ledger["total_sends"] == n and not ledger["duplicates"] and len(ledger["sends"]) == n
    failed = sum(t["failed"] for t in tasks)
    rows = [
        {
            "tasks": TASKS,
            "intents": n,
            "sent": ledger["total_sends"],
            "duplicates": len(ledger["duplicates"]),
            "failed": failed,
            "points": stats["points_charged"],
            "429s": stats["rate_limited"],
            "all-busy s": round(span, 2),
            "points while all busy": round(spent),
            "budget share": f"{share:.1%}",
            "wall s": round(wall, 1),
        }
    ]
    notes = [
        f"budget {REAL_BUDGET} points per {REAL_WINDOW:g} s, clock sped up {SPEEDUP_B2:g}x (window {WINDOW:g} s); "
        f"batch_size {BATCH}; every 429 recovered: {failed == 0 and sent_once}",
    ]
    return Result(
        name="B2",
        title=f"{TASKS} notify processes sharing one store budget",
        ratio=share,
        ratio_label="share of the budget used while all tasks had work",
        target=">= 0.90, every 429 recovered, nothing sent twice",
        met=share >= 0.9 and sent_once and failed == 0,
        rows=rows,
        notes=notes,
    )

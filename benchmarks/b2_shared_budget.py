"""B2: one store budget, many tasks: 8 notify tasks at once, each in its own process, for different variants.

Like mapped tasks spread over several workers, each process has its own rate pacer; they share only the
store's budget, which each learns from the ``X-RateLimit-*`` headers of its own answers. The parent samples
the sandbox's rolling window every 0.1 s while the tasks run. The share of the budget in use at a moment is
the points spent in the window ending then over the budget (``(budget - remaining) / budget``, at most 1); the
figure is its mean over the time every task still had work queued (from the moment the last task starts to
the moment the first one finishes). The clock runs ``SPEEDUP_B2`` times faster than STOQ's, slow enough that
the budget, not the loopback latency, limits the tasks.
"""

from __future__ import annotations

import os
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


class _WindowSampler(threading.Thread):
    """Samples the sandbox every ``every`` seconds: the share of the rolling window in use."""

    def __init__(self, server: Any, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.in_use: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            stats = self.server.stats()
            now = time.time()
            budget = stats["budget"]
            self.in_use.append((now, (budget["budget"] - budget["remaining"]) / budget["budget"]))
            self.stop.wait(self.every)

    def mean_in_use(self, start: float, end: float) -> float:
        """Mean share of the rolling window in use over the samples taken between ``start`` and ``end``."""
        shares = [share for when, share in self.in_use if start <= when <= end]
        return sum(shares) / len(shares) if shares else 0.0


def run(smoke: bool = False) -> Result:
    per_task = 150 if smoke else 2500
    n = per_task * TASKS
    with sandbox(intents=10, variants=2, budget=REAL_BUDGET, window=WINDOW) as server:
        server.reset(seed=23, intents=n, variants=TASKS * 2, pending_only=True, budget=REAL_BUDGET, window=WINDOW)
        variants = sorted({i["shopify_variant_id"] for i in server.intents()})
        selections = [variants[2 * k: 2 * k + 2] for k in range(TASKS)]
        connection = server.connection_json(max_rate_limit_retries=50)
        sampler = _WindowSampler(server)
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
    share = sampler.mean_in_use(all_running, first_done)
    any_running = (min(t["started"] for t in tasks), max(t["ended"] for t in tasks))
    share_any = sampler.mean_in_use(*any_running)
    sent_once = ledger["total_sends"] == n and not ledger["duplicates"] and len(ledger["sends"]) == n
    failed = sum(t["failed"] for t in tasks)
    any_span = any_running[1] - any_running[0]
    starts = sorted(t["started"] - any_running[0] for t in tasks)
    ends = sorted(t["ended"] - any_running[0] for t in tasks)
    rows = [
        {
            "tasks": TASKS,
            "intents": n,
            "sent": ledger["total_sends"],
            "duplicates": len(ledger["duplicates"]),
            "failed": failed,
            "points": stats["points_charged"],
            "429s": stats["rate_limited"],
            "any busy s": round(any_span, 1),
            "share, any busy": f"{share_any:.1%}",
            "all busy s": round(span, 1),
            "share, all busy": f"{share:.1%}",
            "wall s": round(wall, 1),
        }
    ]
    notes = [
        f"budget {REAL_BUDGET} points per {REAL_WINDOW:g} s, clock sped up {SPEEDUP_B2:g}x (window {WINDOW:g} s); "
        f"batch_size {BATCH}; every 429 recovered: {failed == 0 and sent_once}",
        "share = mean of (points in the rolling window) / budget, sampled every 0.1 s; 'any busy' runs from the "
        "first task's start to the last task's end, 'all busy' from the last start to the first end",
        f"tasks started at +{starts[0]:.1f}..+{starts[-1]:.1f} s (spawned interpreters importing Airflow on "
        f"{os.cpu_count()} cores) and ended at +{ends[0]:.1f}..+{ends[-1]:.1f} s",
    ]
    return Result(
        name="B2",
        title=f"{TASKS} notify processes sharing one store budget",
        ratio=min(share, share_any),
        ratio_label="share of the budget in use while work was queued (lower of any/all busy)",
        target=">= 0.90, every 429 recovered, nothing sent twice",
        met=min(share, share_any) >= 0.9 and sent_once and failed == 0,
        rows=rows,
        notes=notes,
    )

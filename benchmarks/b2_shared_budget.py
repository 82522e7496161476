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


#: The readings of STOQ's docs B2 runs under (the sandbox's own first; smoke runs only that one).
READINGS: dict[str, dict[str, Any]] = {
    "as sandbox (Reset: rolling, newest)": {},
    "Reset: fixed window": {"reset_reading": "fixed"},
    "Reset: rolling, oldest": {"reset_reading": "rolling-oldest"},
    "pages of 100": {"page_cap": 100},
}


def run_reading(server: Any, name: str, reading: dict[str, Any], per_task: int) -> dict[str, Any]:
    n = per_task * TASKS
    server.reset(
        seed=23, intents=n, variants=TASKS * 2, pending_only=True, budget=REAL_BUDGET, window=WINDOW, **reading
    )
    variants = sorted({v["shopify_variant_id"] for v in server.catalog()})
    selections = [variants[2 * k : 2 * k + 2] for k in range(TASKS)]
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
    return {
        "reading": name,
        "tasks": TASKS,
        "intents": n,
        "sent": ledger["total_sends"],
        "duplicates": len(ledger["duplicates"]),
        "failed": sum(t["failed"] for t in tasks),
        "points": stats["points_charged"],
        "429s": stats["rate_limited"],
        "any busy s": round(any_running[1] - any_running[0], 1),
        "share, any busy": f"{share_any:.1%}",
        "all busy s": round(span, 1),
        "share, all busy": f"{share:.1%}",
        "wall s": round(wall, 1),
        "_share": min(share, share_any),
        "_sent_once": ledger["total_sends"] == n and not ledger["duplicates"] and len(ledger["sends"]) == n,
    }


def run(smoke: bool = False) -> Result:
    per_task = 150 if smoke else 2500
    chosen = list(READINGS)[:1] if smoke else list(READINGS)
    with sandbox(intents=10, variants=2, budget=REAL_BUDGET, window=WINDOW) as server:
        rows = [run_reading(server, name, READINGS[name], per_task) for name in chosen]
    headline = rows[0]
    shares = {row["reading"]: row.pop("_share") for row in rows}
    sent_once = all(row.pop("_sent_once") for row in rows)
    failed = sum(row["failed"] for row in rows)
    notes = [
        f"budget {REAL_BUDGET} points per {REAL_WINDOW:g} s, clock sped up {SPEEDUP_B2:g}x (window {WINDOW:g} s); "
        f"batch_size {BATCH}; every 429 recovered and each intent sent once under every reading: "
        f"{failed == 0 and sent_once}",
        "share = mean of (points in the window) / budget, sampled every 0.1 s; 'any busy' runs from the "
        "first task's start to the last task's end, 'all busy' from the last start to the first end",
        "share of the budget in use (lower of any/all busy): "
        + ", ".join(f"{share:.1%} ({name})" for name, share in shares.items()),
    ]
    return Result(
        name="B2",
        title=f"{TASKS} notify processes sharing one store budget",
        ratio=shares[headline["reading"]],
        ratio_label="share of the budget in use while work was queued (lower of any/all busy), as sandbox",
        target=">= 0.90, every 429 recovered, nothing sent twice",
        met=shares[headline["reading"]] >= 0.9 and sent_once and failed == 0,
        rows=rows,
        notes=notes,
    )

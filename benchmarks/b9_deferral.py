"""B9: where a restock on a tight budget spends its waits: asleep in a worker slot, or deferred to the triggerer.

The same restock (N pending customers of one variant, default settings) runs twice against a sandbox whose budget
is tight, side by side in one run:

* **sleeping** (the baseline): ``StoqNotifyOperator(deferrable=False)``: every wait for the budget is slept in
  the worker;
* **deferrable**: ``StoqNotifyOperator(deferrable=True)``: a wait longer than 10 s defers the task; the benchmark
  plays Airflow's part, running the trigger (in an event loop, as the triggerer does) and resuming the task with
  its event, as many times as it defers.

Reported: deferrals, the worker's time (and of it, asleep waiting for the budget), the triggerer's time, and the
sandbox's ledger (each customer alerted exactly once).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.common import Result, sandbox, stoq_connection


class _TI:
    map_index = -1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def _run(deferrable: bool) -> dict[str, Any]:
    """One restock as a worker and a triggerer would run it; returns where the time went."""
    try:  # Airflow 3.2+
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import TaskDeferred

    from stoq_provider.operators.notify import StoqNotifyOperator

    operator = StoqNotifyOperator(task_id=f"b9_{deferrable}", shopify_variant_ids=_VARIANTS, deferrable=deferrable)
    context: Any = {"ti": _TI()}
    worker = triggerer = 0.0
    deferrals = 0
    step = lambda: operator.execute(context)  # noqa: E731 - the first leg, then each resumption
    while True:
        started = time.perf_counter()
        try:
            summary = step()
        except TaskDeferred as deferred:
            worker += time.perf_counter() - started
            deferrals += 1
            started = time.perf_counter()
            event = asyncio.run(_first_event(deferred.trigger))
            triggerer += time.perf_counter() - started
            kwargs = dict(deferred.kwargs or {})
            step = lambda event=event, kwargs=kwargs: operator.execute_complete(context, event=event, **kwargs)  # noqa: E731
            continue
        worker += time.perf_counter() - started
        return {
            "deferrals": deferrals,
            "worker s": round(worker, 1),
            "asleep in worker s": round(operator.hook.usage.waited_seconds, 1),
            "triggerer s": round(triggerer, 1),
            "notified": summary["notified"],
        }


async def _first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event.payload
    return None


_VARIANTS: list[int] = []


def run(smoke: bool = False) -> Result:
    from stoq_provider.operators import notify

    intents, budget, window = (2_000, 6, 2.0) if smoke else (20_000, 60, 30.0)
    threshold = notify.DEFER_WAITS_OVER
    if smoke:
        notify.DEFER_WAITS_OVER = 0.5  # the smoke run's waits are short
    rows: list[dict[str, Any]] = []
    try:
        for deferrable in (False, True):
            with sandbox(intents=intents, variants=1, pending_only=True, budget=budget, window=window) as server:
                _VARIANTS[:] = [v["shopify_variant_id"] for v in server.catalog()]
                with stoq_connection(server):
                    outcome = _run(deferrable)
                ledger = server.ledger()
                rows.append(
                    {
                        "notify": "deferrable" if deferrable else "sleeping (baseline)",
                        **outcome,
                        "sent": ledger["total_sends"],
                        "duplicates": len(ledger["duplicates"]),
                    }
                )
    finally:
        notify.DEFER_WAITS_OVER = threshold
    sleeping, deferring = rows
    exact = all(r["sent"] == r["notified"] == intents and r["duplicates"] == 0 for r in rows)
    notes = [
        f"{intents:,} pending customers of one variant, default settings; budget {budget} points per {window:g} s; "
        f"a deferrable notify defers for waits over {notify.DEFER_WAITS_OVER if not smoke else 0.5:g} s",
        f"worker time asleep: sleeping {sleeping['asleep in worker s']} s, deferrable "
        f"{deferring['asleep in worker s']} s ({deferring['deferrals']} deferrals, {deferring['triggerer s']} s in "
        "the triggerer); every customer alerted exactly once in both runs: " + str(exact),
    ]
    return Result(
        name="B9",
        title="a restock on a tight budget: asleep in the worker, or deferred",
        ratio=deferring["asleep in worker s"] / max(sleeping["asleep in worker s"], 1e-9),
        ratio_label="worker time asleep, deferrable / sleeping",
        target="<= 0.2, at least one deferral, exactly once",
        met=exact
        and deferring["deferrals"] >= 1
        and deferring["asleep in worker s"] <= 0.2 * sleeping["asleep in worker s"],
        rows=rows,
        notes=notes,
    )

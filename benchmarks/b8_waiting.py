"""B8: what waiting for demand costs the store's budget, per poll round, against the way it was done before.

(Issue 12 calls this benchmark B7; B7 was already the pacing benchmark, so it is B8 here.)

Points are what the sandbox charged (one per GET), read from its own counters, over real HTTP. The budget is
360 points a minute for the whole store, shared with the notify tasks. Side by side, in one run, on the same
sandbox:

* **before** (the baseline): the check ``StoqPendingIntentsTrigger`` and the sensor's poke made until this
  release: list every page of every watched variant, then count;
* **now**: :func:`stoq_provider.restock.waiting.check_waiting`: a ``products_in_demand`` bound first, shared by
  the triggers of a store in one triggerer, then listings only where the bound leaves the threshold possible,
  stopping as soon as it is met.

And for ``StoqDemandEventTrigger``: 10 watchers of one store, each polling on its own (Airflow 3.1/3.2) against
one shared poll (3.3+).
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks.common import Result, sandbox, stoq_connection

FAR_BUDGET = 10_000_000  # points are counted, not waited for: the sandbox never makes a client wait here
UNKNOWN_BASE = 48_000_000_000  # variants outside the catalog: nobody waits on them


async def _before(hook: Any, variants: list[int], min_pending: int) -> bool:
    """The earlier check: every page of every variant listed and counted."""
    from stoq_provider.restock.demand import count_pending, pending_queries

    counts: dict[str, int] = {}
    for query in pending_queries(variants, None):
        count_pending([i async for i in hook.list_intents(**query)], ("restock",), counts=counts)
    return sum(counts.values()) >= min_pending


async def _now(hook: Any, variants: list[int], min_pending: int) -> bool:
    from stoq_provider.restock.waiting import arun_check, check_waiting

    result = await arun_check(hook, check_waiting(variants, None, min_pending, ("restock",)), max_age=30.0)
    return bool(result["met"])


async def _round(check: Any, groups: list[list[int]], min_pending: int) -> list[bool]:
    """One poll round of ``len(groups)`` triggers in one triggerer (one event loop, one hook each)."""
    from stoq_provider.hooks.stoq_async import StoqAsyncHook
    from stoq_provider.restock.waiting import shared_bounds

    shared_bounds.clear()
    hooks = [StoqAsyncHook() for _ in groups]
    try:
        return list(await asyncio.gather(*(check(h, g, min_pending) for h, g in zip(hooks, groups, strict=True))))
    finally:
        for hook in hooks:
            await hook.aclose()


def _points(server: Any, check: Any, groups: list[list[int]], min_pending: int) -> tuple[int, list[bool]]:
    before = server.stats()["points_charged"]
    with stoq_connection(server):
        fired = asyncio.run(_round(check, groups, min_pending))
    return server.stats()["points_charged"] - before, fired


def _watchers(server: Any, watchers: int, rounds: int, shared: bool) -> float:
    """Points per round for ``watchers`` demand watchers of one store, sharing one poll or each polling."""
    from stoq_provider.restock.signups import SignupWatch
    from stoq_provider.triggers.signup_rounds import poll_rounds

    async def consume(stream: Any, watches: list[SignupWatch]) -> None:
        seen = 0
        async for signup_round in stream:
            for watch in watches:  # what each watcher's filter does with a round
                watch.mark_seen([i for i in signup_round.intents if watch.watches(i)])
                watch.finish_round(signup_round.polled_at, signup_round.since)
            seen += 1
            if seen == rounds:
                return

    async def scenario() -> None:
        def watch() -> SignupWatch:
            return SignupWatch(variant_ids=frozenset(), product_ids=frozenset(), intent_types=("restock",))

        if shared:
            await consume(poll_rounds("stoq_default", 0.05), [watch() for _ in range(watchers)])
        else:
            await asyncio.gather(*(consume(poll_rounds("stoq_default", 0.05), [watch()]) for _ in range(watchers)))

    before = server.stats()["points_charged"]
    with stoq_connection(server):
        asyncio.run(scenario())
    return (server.stats()["points_charged"] - before) / rounds


def _all_fired(fired: str) -> bool:
    done, of = fired.split("/")
    return done == of


def run(smoke: bool = False) -> Result:
    waiting = 40 if smoke else 2000  # customers waiting per variant in demand
    triggers = 5 if smoke else 50
    rows: list[dict[str, Any]] = []
    checks = (("before", _before), ("now", _now))

    def measure(case: str, server: Any, groups: list[list[int]], min_pending: int, target: int | None) -> None:
        for name, check in checks:
            points, fired = _points(server, check, groups, min_pending)
            rows.append(
                {
                    "case": case,
                    "client": name,
                    "points": points,
                    "fired": f"{sum(fired)}/{len(fired)}",
                    "target": "" if target is None or name == "before" else f"<= {target}",
                }
            )

    # Cases 1-3: a store with 20 variants in demand, `waiting` customers each.
    with sandbox(intents=20 * waiting, variants=20, pending_only=True, budget=FAR_BUDGET) as server:
        demand = sorted({i["shopify_variant_id"] for i in server.catalog()})
        measure(f"1 trigger, 20 variants x {waiting:,} waiting, min_pending=1: to fire", server, [demand], 1, 3)
        idle = [UNKNOWN_BASE + n for n in range(200)]
        measure("1 trigger, 20 variants nobody waits on: per round", server, [idle[:20]], 1, 1)
        groups = [idle[4 * n : 4 * n + 4] for n in range(triggers)]
        measure(f"{triggers} triggers x 4 of {4 * triggers} variants nobody waits on: per round", server, groups, 1, 2)
        # 10 demand watchers of this store: each polling on its own, or one shared poll.
        rounds = 3 if smoke else 10
        alone, shared = _watchers(server, 10, rounds, False), _watchers(server, 10, rounds, True)
        for name, points in (("each polls (3.1/3.2)", alone), ("one shared poll (3.3+)", shared)):
            rows.append(
                {
                    "case": "10 StoqDemandEventTrigger watchers of one store: per round",
                    "client": name,
                    "points": round(points, 2),
                    "fired": "",
                    "target": "= one watcher's" if "shared" in name else "",
                }
            )
    # Case 4: every trigger's variants in demand.
    with sandbox(intents=4 * triggers * waiting, variants=4 * triggers, pending_only=True, budget=FAR_BUDGET) as server:
        variants = sorted({i["shopify_variant_id"] for i in server.catalog()})
        groups = [variants[4 * n : 4 * n + 4] for n in range(triggers)]
        measure(f"{triggers} triggers x 4 variants, {waiting:,} waiting each: per round", server, groups, 1, None)

    def points(case_prefix: str, client: str) -> float:
        return float(next(r["points"] for r in rows if r["case"].startswith(case_prefix) and r["client"] == client))

    targets = [
        points("1 trigger, 20 variants x", "now") <= 3,
        points("1 trigger, 20 variants nobody", "now") <= 1,
        points(f"{triggers} triggers x 4 of", "now") <= 2,
        shared <= alone / 10,  # ten watchers of one store cost what one watcher costs
        all(_all_fired(r["fired"]) for r in rows if r["fired"] and "nobody" not in r["case"]),
        all(r["fired"].startswith("0/") for r in rows if "nobody" in r["case"]),
    ]
    total_before = sum(r["points"] for r in rows if r["client"] == "before")
    total_now = sum(r["points"] for r in rows if r["client"] == "now")
    notes = [
        "points are the sandbox's own count (one per GET), over real HTTP; 'before' is the earlier check "
        "(every page of every variant, then count), run side by side on the same data",
        f"sum over the four trigger cases: before {total_before:,} points, now {total_now:,}",
        f"a demand watcher's round lists the store's unsent signups of the last day or two: {alone / 10:.1f} "
        "point(s) here",
    ]
    return Result(
        name="B8",
        title="the cost of waiting: points per poll round, before and now (sensor/trigger and demand watchers)",
        ratio=total_now / max(total_before, 1),
        ratio_label="points now / before (the four trigger cases)",
        target="each case's target met, the same triggers fire",
        met=all(targets),
        rows=rows,
        notes=notes,
    )

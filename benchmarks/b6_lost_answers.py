"""B6: what settling lost answers costs, against the same restock fault-free.

N pending intents over 20 variants are listed per variant and alerted in bulk, as ``StoqNotifyOperator`` does,
with every 20th bulk answer lost after STOQ applied the call (5 %; the sandbox's ``lost`` fault: the request is
applied, then the connection is closed). The provider cannot tell whether a lost call was applied, so it reads
the batch back before sending the rest. Two read-back routes run side by side on the same faults:

* **by listing** (now): the batch's variants' pending listings, from the page where the batch begins, as the
  operator and the notifier do (``bulk_notify_intents(..., listings=...)``);
* **by ID** (before): ``GET /intents/{id}`` for each intent of the batch, one point each (still the route of
  ``bulk_notify_intents(ids)`` without listings).

The extra points are the faulty run's points less the fault-free run's; the target is at most 10 % of the
fault-free run. Every run is checked against the sandbox's ledger: each intent sent exactly once.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks.common import REAL_BUDGET, REAL_WINDOW, SPEEDUP, Result, Stopwatch, sandbox, stoq_connection

VARIANTS = 20
WINDOW = REAL_WINDOW / SPEEDUP
BATCH = 1000
#: Every LOST_EVERY-th bulk answer is lost (the 10th, the 30th, ...).
LOST_EVERY = 20


def _script(calls: int) -> list[str]:
    return ["lost" if k % LOST_EVERY == LOST_EVERY // 2 - 1 else "none" for k in range(calls)]


def run_case(server: Any, n: int, *, lost: bool, route: str) -> dict[str, Any]:
    from stoq_provider.hooks.stoq import StoqHook

    server.reset(seed=17, intents=n, variants=VARIANTS, pending_only=True, budget=REAL_BUDGET, window=WINDOW)
    if lost:
        server.set_faults(script=_script(math.ceil(n / BATCH)), endpoints=["bulk_notify"])
    variants = sorted({v["shopify_variant_id"] for v in server.catalog()})
    with stoq_connection(server), Stopwatch() as sw:
        hook = StoqHook()
        listings = {v: [i["id"] for i in hook.list_intents(shopify_variant_id=v, notified=False)] for v in variants}
        ids = [iid for v in variants for iid in listings[v]]
        result = hook.bulk_notify_intents(ids, batch_size=BATCH, listings=listings if route == "by listing" else None)
    stats, ledger = server.stats(), server.ledger()
    return {
        "N": n,
        "lost answers": stats["faults"].get("lost", 0),
        "read-back": route if lost else "-",
        "sent": ledger["total_sends"],
        "duplicates": len(ledger["duplicates"]),
        "notify calls": result.requests,
        "read requests": result.read_requests,
        "points": stats["points_charged"],
        "429s": stats["rate_limited"],
        "wall s": round(sw.seconds, 2),
    }


def run(smoke: bool = False) -> Result:
    sizes = [10_000] if smoke else [10_000, 100_000]
    rows: list[dict[str, Any]] = []
    ratios: dict[int, float] = {}
    before: dict[int, float] = {}
    with sandbox(intents=10, variants=2, budget=REAL_BUDGET, window=WINDOW) as server:
        for n in sizes:
            clean = run_case(server, n, lost=False, route="by listing")
            listing = run_case(server, n, lost=True, route="by listing")
            by_id = run_case(server, n, lost=True, route="by ID")
            for row in (clean, listing, by_id):
                row["extra points"] = row["points"] - clean["points"]
                row["extra / fault-free"] = f"{row['extra points'] / clean['points']:.1%}"
            rows += [clean, listing, by_id]
            ratios[n] = listing["extra points"] / clean["points"]
            before[n] = by_id["extra points"] / clean["points"]
    exactly_once = all(r["sent"] == r["N"] and r["duplicates"] == 0 for r in rows)
    worst = max(ratios.values())
    notes = [
        f"every {LOST_EVERY}th bulk answer lost after being applied ({100 / LOST_EVERY:g} %), batches of {BATCH}, "
        f"{VARIANTS} variants; budget {REAL_BUDGET} points per {REAL_WINDOW:g} s, clock sped up {SPEEDUP:g}x",
        "extra points / fault-free run: by listing (now) "
        + ", ".join(f"{ratios[n]:.1%} at N={n:,}" for n in sizes)
        + "; by ID (before) "
        + ", ".join(f"{before[n]:.0%} at N={n:,}" for n in sizes),
        f"every intent sent exactly once in every run: {exactly_once}",
    ]
    return Result(
        name="B6",
        title="points spent settling lost bulk answers (5 % lost after being applied)",
        ratio=worst,
        ratio_label="extra points / fault-free run, read back by listing (worst N)",
        target="<= 0.10, nothing sent twice",
        met=worst <= 0.10 and exactly_once,
        rows=rows,
        notes=notes,
    )

"""B1: points and time for a restock: ``StoqNotifyOperator`` vs a per-intent ``HttpHook`` loop vs the minimum.

N pending intents over 20 variants are alerted three ways, each against a freshly seeded sandbox that runs
STOQ's real budget (360 points per 60 s) with its clock sped up ``SPEEDUP`` times:

* **ours**: ``StoqNotifyOperator(shopify_variant_ids=...)`` as a worker runs it (``execute``);
* **loop**: what a hand-written DAG with Airflow's HTTP provider does: list each variant's pending intents
  (``GET /intents``, 500 per page) and ``POST /intents/notify_intent`` once per intent with ``HttpHook``,
  waiting ``Retry-After`` and retrying on ``429`` (a careful loop; a naive one simply fails);
* **minimum**: what the contract allows at best: ``Σ⌈pending_v / 500⌉`` list pages (1 point each) plus
  ``2 × ⌈N / batch⌉`` for the bulk notify calls.

Then the provider alone, with default settings, at N = 100,000 against servers of other readings of STOQ's docs:
pages of 500 and of 100 (the true floor is then ``Σ⌈pending_v / page⌉ + 2 × ⌈N / 1000⌉``), beside the previous
default ``batch_size`` of 250 in the same run; and under each reading of ``X-RateLimit-Reset`` (fixed windows,
rolling with the oldest charge's expiry, rolling with the newest's), with pages of 100 (1,200 points: several
windows), where a lone task must meet no 429.

Points, requests and 429s come from the sandbox's own counters. "Budget-imposed time" is the least time the
rolling budget allows for the points spent: nothing for the first ``budget`` points, then ``budget`` points per
window (in the sandbox's sped-up seconds).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from benchmarks.common import REAL_BUDGET, REAL_WINDOW, SPEEDUP, Result, Stopwatch, sandbox, stoq_connection

VARIANTS = 20
PAGE = 500
WINDOW = REAL_WINDOW / SPEEDUP


def default_batch() -> int:
    """The provider's default ``batch_size`` (what the operator uses when nobody sets one)."""
    from stoq_provider.api.settings import EXTRA_DEFAULTS

    return int(EXTRA_DEFAULTS["batch_size"])


def minimum_points(pending_per_variant: list[int], n: int, batch: int | None = None, page: int = PAGE) -> int:
    """The contract's floor: one point per list page at the server's page size, two per bulk notify call."""
    batch = batch or default_batch()
    pages = sum(max(1, math.ceil(p / page)) for p in pending_per_variant)
    return pages + 2 * math.ceil(n / batch)


def budget_imposed_seconds(points: int, budget: int = REAL_BUDGET, window: float = WINDOW) -> float:
    """Least wall time a rolling budget of ``budget`` points per ``window`` allows for spending ``points``."""
    return max(0.0, (points - budget) / budget * window)


class _TI:
    def xcom_push(self, key: str, value: Any) -> None:
        pass


def _seed(server: Any, n: int, **reading: Any) -> tuple[list[int], list[int]]:
    server.reset(seed=11, intents=n, variants=VARIANTS, pending_only=True, budget=REAL_BUDGET, window=WINDOW, **reading)
    per_variant: dict[int, int] = {}
    for intent in server.intents():
        per_variant[intent["shopify_variant_id"]] = per_variant.get(intent["shopify_variant_id"], 0) + 1
    variants = sorted(per_variant)
    return variants, [per_variant[v] for v in variants]


def _measure(server: Any, label: str, n: int, seconds: float, minimum: int) -> dict[str, Any]:
    stats, ledger = server.stats(), server.ledger()
    points = stats["points_charged"]
    return {
        "approach": label,
        "reading": "as sandbox",
        "N": n,
        "sent": ledger["total_sends"],
        "duplicates": len(ledger["duplicates"]),
        "requests": stats["total_requests"],
        "points": points,
        "min points": minimum,
        "429s": stats["rate_limited"],
        "wall s": round(seconds, 2),
        "budget-imposed s": round(budget_imposed_seconds(points), 2),
    }


def run_ours(
    server: Any, n: int, *, label: str = "ours (StoqNotifyOperator)", batch: int | None = None, **reading: Any
) -> dict[str, Any]:
    from stoq_provider.operators.notify import StoqNotifyOperator

    variants, pending = _seed(server, n, **reading)
    extra = {} if batch is None else {"batch_size": batch}
    with stoq_connection(server), Stopwatch() as sw:
        StoqNotifyOperator(task_id="notify", shopify_variant_ids=variants, **extra).execute({"ti": _TI()})
    # The true floor: list pages at the server's page size, calls of 1,000 IDs (whatever batch this run used).
    floor = minimum_points(pending, n, batch=1000, page=int(reading.get("page_cap", PAGE)))
    row = _measure(server, label, n, sw.seconds, minimum_points(pending, n, page=int(reading.get("page_cap", PAGE))))
    row["floor"] = floor
    return row


def run_loop(server: Any, n: int) -> dict[str, Any]:
    """The per-intent loop, as a DAG using ``HttpHook`` would run it."""
    import time

    from airflow.providers.http.hooks.http import HttpHook

    variants, pending = _seed(server, n)
    name = "AIRFLOW_CONN_STOQ_HTTP"
    os.environ[name] = json.dumps({"conn_type": "http", "host": server.base_url})
    headers = {"X-Auth-Token": server.api_key, "Content-Type": "application/json"}
    try:
        with Stopwatch() as sw:
            get = HttpHook(method="GET", http_conn_id="stoq_http")
            post = HttpHook(method="POST", http_conn_id="stoq_http")

            def call(hook: HttpHook, endpoint: str, **kwargs: Any) -> Any:
                while True:
                    answer = hook.run(endpoint, headers=headers, extra_options={"check_response": False}, **kwargs)
                    if answer.status_code != 429:
                        answer.raise_for_status()
                        return answer.json()
                    time.sleep(float(answer.headers.get("Retry-After", "1")))

            for variant in variants:
                page = 1
                while True:
                    body = call(
                        get,
                        "intents",
                        data={"shopify_variant_id": variant, "notified": "false", "per_page": PAGE, "page": page},
                    )
                    for intent in body["intents"]:
                        call(
                            post, "intents/notify_intent", data=json.dumps({"id": intent["id"], "allow_resend": False})
                        )
                    if page >= body["meta"]["total_pages"]:
                        break
                    page += 1
    finally:
        os.environ.pop(name, None)
    return _measure(server, "loop (HttpHook per intent)", n, sw.seconds, minimum_points(pending, n))


def run_readings(server: Any, smoke: bool) -> list[dict[str, Any]]:
    """The provider alone at scale against other readings of the docs (see the module's docstring)."""
    from stoq_provider.sandbox.readings import RESET_READINGS

    big = 2000 if smoke else 100_000
    rows: list[dict[str, Any]] = []
    for page in (500, 100):
        for batch, label in ((None, "ours, default batch_size"), (250, "ours, batch_size 250 (before)")):
            row = run_ours(server, big, label=label, batch=batch, page_cap=page)
            row["reading"] = f"pages of {page}"
            rows.append(row)
    for reset_reading in RESET_READINGS:
        row = run_ours(server, big, label="ours, default batch_size", page_cap=100, reset_reading=reset_reading)
        row["reading"] = f"pages of 100, Reset {reset_reading}"
        rows.append(row)
    return rows


def run(smoke: bool = False, chart: Path | None = None) -> Result:
    sizes = [200, 400] if smoke else [1000, 5000, 10_000]
    headline = sizes[-1]
    rows: list[dict[str, Any]] = []
    with sandbox(intents=10, variants=2, budget=REAL_BUDGET, window=WINDOW) as server:
        for n in sizes:
            rows.append(run_ours(server, n))
            rows.append(run_loop(server, n))
        scale = run_readings(server, smoke)
    ours = next(r for r in rows if r["N"] == headline and r["approach"].startswith("ours"))
    loop = next(r for r in rows if r["N"] == headline and r["approach"].startswith("loop"))
    at_scale = [r for r in scale if r["approach"] == "ours, default batch_size" and "Reset" not in r["reading"]]
    vs_floor = max(r["points"] / r["floor"] for r in at_scale)
    readings_429 = sum(r["429s"] for r in scale)
    rows += scale
    vs_min = ours["points"] / ours["min points"]
    loop_vs_ours = loop["points"] / ours["points"]
    exactly_once = all(r["sent"] == r["N"] and r["duplicates"] == 0 for r in rows)
    before = {r["reading"]: r for r in scale if "before" in r["approach"]}
    imposed = ours["budget-imposed s"]
    met_time = ours["wall s"] <= 1.1 * imposed if imposed > 0 else None
    notes = [
        f"sandbox: {REAL_BUDGET} points per {REAL_WINDOW:g} s, clock sped up {SPEEDUP:g}x (window {WINDOW:g} s); "
        f"ours with the default batch_size {default_batch()}, which the minimum assumes too",
        f"N={headline}: ours/minimum points = {vs_min:.3f} (target <= 1.1); loop/ours points = "
        f"{loop_vs_ours:,.1f}x (target >= 100); ours 429s = {ours['429s']} (target 0); "
        f"every intent sent exactly once in every run: {exactly_once}",
        f"N={at_scale[0]['N']:,}, default settings: points/true floor = "
        + ", ".join(f"{r['points'] / r['floor']:.3f} ({r['reading']})" for r in at_scale)
        + " (target <= 1.1; floor = list pages at the server's page size + 2 per call of 1,000 IDs); the previous "
        "default batch_size 250 in the same run: "
        + ", ".join(f"{b['points'] / b['floor']:.3f} ({name})" for name, b in before.items()),
        f"429s over every reading of Reset (a lone task): {readings_429} (target 0)",
        f"loop/ours wall time = {loop['wall s'] / ours['wall s']:,.1f}x; in real STOQ time the loop's "
        f"{loop['points']:,} points take {budget_imposed_seconds(loop['points'], window=REAL_WINDOW) / 60:,.0f} min "
        f"of the store's budget, ours {ours['points']} points "
        f"{'fit in one window (no wait)' if ours['points'] <= REAL_BUDGET else 'need waits'}",
    ]
    if met_time is None:
        notes.append(
            f"wall-time target: ours spent {ours['points']} points, within the {REAL_BUDGET}-point budget, so the "
            f"budget imposes no wait; ours took {ours['wall s']} s of request time (no pacing waits)"
        )
    if chart is not None:
        _chart(rows, chart)
        notes.append(f"chart written to {chart}")
    met = (
        vs_min <= 1.1
        and vs_floor <= 1.1
        and loop_vs_ours >= 100
        and ours["429s"] == 0
        and readings_429 == 0
        and exactly_once
        and met_time is not False
    )
    return Result(
        name="B1",
        title=f"points and time to alert N waiting customers over {VARIANTS} variants",
        ratio=vs_floor,
        ratio_label=f"ours/true floor points at N={at_scale[0]['N']:,}, pages of 500 and 100 (worst)",
        target="<= 1.1, loop/ours >= 100, zero 429s under every reading",
        met=met,
        rows=rows,
        notes=notes,
    )


def _chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["reading"] == "as sandbox"]
    sizes = sorted({r["N"] for r in rows})
    series = {
        "ours": [next(r for r in rows if r["N"] == n and r["approach"].startswith("ours")) for n in sizes],
        "loop": [next(r for r in rows if r["N"] == n and r["approach"].startswith("loop")) for n in sizes],
    }
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(sizes, [r["points"] for r in series["loop"]], "o-", label="per-intent HttpHook loop")
    left.plot(sizes, [r["points"] for r in series["ours"]], "o-", label="StoqNotifyOperator")
    left.plot(sizes, [r["min points"] for r in series["ours"]], "k--", label="contract minimum")
    left.set(xlabel="waiting customers (N)", ylabel="budget points spent", yscale="log", title="Points")
    left.legend()
    right.plot(sizes, [r["wall s"] for r in series["loop"]], "o-", label="per-intent HttpHook loop")
    right.plot(sizes, [r["wall s"] for r in series["ours"]], "o-", label="StoqNotifyOperator")
    right.plot(sizes, [budget_imposed_seconds(r["points"]) for r in series["loop"]], ":", label="budget-imposed (loop)")
    right.set(
        xlabel="waiting customers (N)", ylabel=f"wall seconds (clock sped up {SPEEDUP:g}x)", yscale="log", title="Time"
    )
    right.legend()
    fig.suptitle(f"B1: alerting N customers, budget {REAL_BUDGET} points / {REAL_WINDOW:g} s")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)

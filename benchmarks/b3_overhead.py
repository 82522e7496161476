"""B3: client overhead: one-page ``list_intents`` calls through ``StoqHook`` vs a bare ``requests.Session``.

Both clients make the same call, ``GET /intents?shopify_variant_id=…&notified=false&page=1&per_page=500``,
against the same sandbox (in its own process, budget set out of reach so that neither is paced), and both
parse the JSON body. They alternate call by call, the order flipping every pair, so that any drift of the
machine or the server hits both alike. What remains is the hook's own cost: validating the filters, building
the request, the rate-budget bookkeeping from the headers, the retry wrapper, checking the answer's shape.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

from benchmarks.common import Result, sandbox, stoq_connection

VARIANTS = 20
INTENTS = 400  # about 20 intents per page: a realistic small answer, so the client's cost is visible
WARMUP = 50


def run(smoke: bool = False) -> Result:
    import requests

    from stoq_provider.hooks.stoq import StoqHook

    calls = 200 if smoke else 2000
    ours: list[float] = []
    bare: list[float] = []
    with sandbox(seed=5, intents=INTENTS, variants=VARIANTS, pending_only=True, budget=10**9) as server:
        variants = sorted({i["shopify_variant_id"] for i in server.intents()})
        with stoq_connection(server):
            hook = StoqHook()
            session = requests.Session()
            session.headers.update({"Accept": "application/json"})
            url = f"{server.base_url}/intents"
            headers = {"X-Auth-Token": server.api_key}

            def with_hook(variant: int) -> int:
                return len(list(hook.list_intents(shopify_variant_id=variant, notified=False)))

            def with_session(variant: int) -> int:
                params = {"shopify_variant_id": variant, "notified": "false", "page": 1, "per_page": 500}
                answer = session.get(url, params=params, headers=headers, timeout=(5.0, 30.0))
                answer.raise_for_status()
                return len(answer.json()["intents"])

            for k in range(WARMUP):
                assert with_hook(variants[k % VARIANTS]) == with_session(variants[k % VARIANTS])
            gc.collect()
            for k in range(calls):
                variant = variants[k % VARIANTS]
                pair = ((with_hook, ours), (with_session, bare))
                for fn, times in pair if k % 2 == 0 else pair[::-1]:
                    started = time.perf_counter()
                    fn(variant)
                    times.append(time.perf_counter() - started)
            session.close()
        stats = server.stats()

    mean_ratio = statistics.fmean(ours) / statistics.fmean(bare)
    median_ratio = statistics.median(ours) / statistics.median(bare)
    rows: list[dict[str, Any]] = [
        {
            "client": label,
            "calls": len(times),
            "mean ms": round(statistics.fmean(times) * 1000, 3),
            "median ms": round(statistics.median(times) * 1000, 3),
            "p95 ms": round(sorted(times)[int(0.95 * len(times))] * 1000, 3),
            "total s": round(sum(times), 2),
        }
        for label, times in (("StoqHook.list_intents", ours), ("bare requests.Session", bare))
    ]
    notes = [
        f"{calls} calls each, interleaved, after {WARMUP} warm-up pairs; {INTENTS} intents over {VARIANTS} "
        f"variants (about {INTENTS // VARIANTS} per answer); sandbox in a child process on loopback",
        f"ratio of the medians {median_ratio:.3f}; the sandbox answered {stats['total_requests']:,} requests, "
        f"429s {stats['rate_limited']}",
    ]
    return Result(
        name="B3",
        title="client overhead per request: StoqHook vs a bare requests.Session",
        ratio=mean_ratio,
        ratio_label="hook/bare mean time per request",
        target="<= 1.15",
        met=mean_ratio <= 1.15,
        rows=rows,
        notes=notes,
    )

"""B4: memory: streaming 100,000 intents through ``list_intents`` vs building the full list.

Each way runs in a fresh child process, so neither inherits the other's heap. The child builds the hook and
makes one small warm-up call (so the session, the connection and the imports are already paid for), then
starts ``tracemalloc`` and either iterates ``list_intents()`` keeping only a count (streaming, what the
operator does with IDs) or calls ``list(list_intents())``. The figure is ``tracemalloc``'s peak: the most
Python memory alive at once above the starting point. The peak resident set size of the process is shown
as context.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import Result, sandbox

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def _child(mode: str) -> None:
    """Run in a child process: measure one way of reading every intent, print one JSON line."""
    import resource
    import time
    import tracemalloc

    from stoq_provider.hooks.stoq import StoqHook

    hook = StoqHook()
    next(iter(hook.list_intents(shopify_variant_id=1)), None)  # warm-up: session, connection, imports
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    if mode == "stream":
        count = 0
        for intent in hook.list_intents():
            count += 1 if intent["id"] else 0
    else:
        everything = list(hook.list_intents())
        count = len(everything)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "mode": mode,
                "count": count,
                "peak": peak,
                "seconds": seconds,
                "rss_growth": (rss_after - rss_before) * 1024,
            }
        )
    )


def _measure(connection: str, mode: str) -> dict[str, Any]:
    env = {**os.environ, "AIRFLOW_CONN_STOQ_DEFAULT": connection}
    done = subprocess.run(
        [sys.executable, "-c", f"from benchmarks.b4_memory import _child; _child({mode!r})"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"B4 child ({mode}) failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(smoke: bool = False) -> Result:
    n = 5000 if smoke else 100_000
    with sandbox(intents=10, variants=2, budget=10**9) as server:
        server.reset(seed=3, intents=n, variants=20, budget=10**9)
        connection = server.connection_json()
        stream = _measure(connection, "stream")
        full = _measure(connection, "list")
        stats = server.stats()

    rows = [
        {
            "way": label,
            "intents": m["count"],
            "peak growth MB": round(m["peak"] / MB, 2),
            "peak RSS growth MB": round(m["rss_growth"] / MB, 1),
            "seconds": round(m["seconds"], 2),
        }
        for label, m in (("for intent in list_intents()", stream), ("list(list_intents())", full))
    ]
    growth_mb = stream["peak"] / MB
    notes = [
        f"{n:,} intents over 20 variants, {-(-n // 500):,} pages of 500 per way ({stats['total_requests']:,} "
        f"requests in all, warm-ups included); each way in a fresh child process; tracemalloc peak above the start",
        "streaming holds one page at a time, plus a hash per intent listed (to check the listing against "
        f"total_count): {full['peak'] / max(stream['peak'], 1):,.0f}x less than the full list",
    ]
    ok = stream["count"] == n and full["count"] == n
    return Result(
        name="B4",
        title=f"memory to read {n:,} intents: streaming vs building the list",
        ratio=growth_mb,
        ratio_label=f"streaming peak growth, MB, {n:,} intents",
        target="<= 30 MB",
        met=growth_mb <= 30 and ok,
        rows=rows,
        notes=notes,
    )

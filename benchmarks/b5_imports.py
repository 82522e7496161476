"""B5: DAG-parse cost: fresh-interpreter import time of our DAG-facing modules vs the HTTP provider's operator.

A DAG file pays for what it imports every time the DAG processor parses it. Each measurement is a fresh
interpreter that first imports ``airflow.sdk`` (every DAG file does, so it is not counted), then times the
import of one module. The modules are measured in rotation, several rounds, and the median of each is
reported; the baseline is ``airflow.providers.http.operators.http``, what a hand-written STOQ DAG would import.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import Result

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "airflow.providers.http.operators.http"
OURS = (
    "stoq_provider.operators.notify",
    "stoq_provider.sensors.intents",
    "stoq_provider.notifications.stoq",
)
PROBE = (
    "import sys, time, airflow.sdk\n"
    "before = len(sys.modules)\n"
    "started = time.perf_counter()\n"
    "import {module}\n"
    "print(time.perf_counter() - started, len(sys.modules) - before)\n"
)


def _import_seconds(module: str) -> tuple[float, int]:
    """Seconds to import ``module`` in a fresh interpreter after ``airflow.sdk``, and the modules it added."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"B5: importing {module} failed:\n{done.stderr[-2000:]}")
    seconds, added = done.stdout.strip().splitlines()[-1].split()
    return float(seconds), int(added)


def run(smoke: bool = False) -> Result:
    rounds = 2 if smoke else 9
    modules = (BASELINE, *OURS)
    for module in modules:  # compile and cache the bytecode once, outside the measurement
        _import_seconds(module)
    times: dict[str, list[float]] = {m: [] for m in modules}
    added: dict[str, int] = {}
    for k in range(rounds):
        order = modules if k % 2 == 0 else modules[::-1]
        for module in order:
            seconds, added[module] = _import_seconds(module)
            times[module].append(seconds)

    baseline = statistics.median(times[BASELINE])
    rows: list[dict[str, Any]] = [
        {
            "module": module,
            "median ms": round(statistics.median(times[module]) * 1000, 1),
            "min ms": round(min(times[module]) * 1000, 1),
            "max ms": round(max(times[module]) * 1000, 1),
            "modules loaded": added[module],
            "vs http operator": f"{statistics.median(times[module]) / baseline:.3f}x",
        }
        for module in modules
    ]
    worst = max(statistics.median(times[m]) for m in OURS) / baseline
    notes = [
        f"{rounds} rounds, modules in alternating order, each import in a fresh interpreter after "
        f"`import airflow.sdk` (not counted: it already loads BaseOperator and friends); bytecode cached "
        f"beforehand; 'modules loaded' counts the modules the import added beyond airflow.sdk's",
    ]
    return Result(
        name="B5",
        title="DAG-parse cost: import time after airflow.sdk, fresh interpreter",
        ratio=worst,
        ratio_label="slowest of ours / http operator, median import time",
        target="<= 1.0",
        met=worst <= 1.0,
        rows=rows,
        notes=notes,
    )

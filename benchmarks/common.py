"""What every benchmark shares: a sandbox in its own process, the connection to it, result rows and tables."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

#: The sandbox's clock runs this many times faster than STOQ's: 360 points per 60 s becomes 360 per 60/SPEEDUP s.
SPEEDUP = 100.0
REAL_BUDGET = 360
REAL_WINDOW = 60.0


@dataclass
class Result:
    """One benchmark's outcome: a headline ratio against its target, and rows of measurements for the table."""

    name: str
    title: str
    ratio: float
    ratio_label: str
    target: str
    met: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def sandbox(**options: Any) -> Iterator[Any]:
    """A sandbox in a child process (so that it does not share this process's GIL), stopped afterwards."""
    from stoq_provider.sandbox import SandboxServer

    with SandboxServer(subprocess=True, **options) as server:
        yield server


@contextmanager
def stoq_connection(server: Any, **extra: Any) -> Iterator[None]:
    """Point ``stoq_default`` at ``server`` through the environment, restoring what was there."""
    name = "AIRFLOW_CONN_STOQ_DEFAULT"
    before = os.environ.get(name)
    os.environ[name] = server.connection_json(**extra)
    from stoq_provider.api import ratelimit

    ratelimit._registry.clear()  # a fresh view of the store budget for every measured run
    try:
        yield
    finally:
        ratelimit._registry.clear()
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


class Stopwatch:
    """``with Stopwatch() as sw: ...``; then ``sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def machine() -> str:
    cores = os.cpu_count() or 0
    return f"{platform.system()} {platform.machine()}, {cores} cores, Python {platform.python_version()}"


def table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of ``rows`` (same keys in each)."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[_fmt(row.get(k)) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = "  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += [
        "  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    ]
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").replace("×", "").isdigit()


def dump(results: Sequence[Result]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2)

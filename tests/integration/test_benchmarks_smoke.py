"""The benchmarks at smoke sizes, so that ``make bench`` never rots. Speed is measured there, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import ROOT


def test_every_benchmark_runs_at_smoke_size_and_stays_exactly_once(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = {r["name"]: r for r in json.loads(out.read_text())}
    assert set(results) == {"B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9"}
    assert all(r["rows"] for r in results.values()), "every benchmark measured something"
    assert "Summary" in done.stdout
    # Correctness, unlike speed, is asserted: the restock and the shared-budget runs alert each intent once.
    for row in results["B1"]["rows"]:
        assert row["sent"] == row["N"] and row["duplicates"] == 0, row
    # The cheaper waiting fires exactly the triggers the earlier check fired.
    fired = {(r["case"], r["client"]): r["fired"] for r in results["B8"]["rows"] if r["fired"]}
    assert all(fired[(case, "now")] == fired[(case, "before")] for case, _ in fired), fired
    for b9 in results["B9"]["rows"]:  # deferring or sleeping, each customer once
        assert b9["sent"] == b9["notified"] and b9["duplicates"] == 0, b9
    assert results["B9"]["rows"][1]["deferrals"] >= 1
    for b2 in results["B2"]["rows"]:
        assert b2["sent"] == b2["intents"] and b2["duplicates"] == 0 and b2["failed"] == 0
    for row in results["B6"]["rows"]:
        assert row["sent"] == row["N"] and row["duplicates"] == 0, row
    assert any(row["lost answers"] for row in results["B6"]["rows"]), "answers were really lost"
    assert all(row["429s"] == 0 for row in results["B7"]["rows"] if row["client"] == "ours")

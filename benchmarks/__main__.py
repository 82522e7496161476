"""``python -m benchmarks [--smoke] [--only B1,B3] [--json PATH] [--chart PATH]``: run and print the tables."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

# The provider logs every batch at INFO; here only the tables matter (children inherit this too).
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

from benchmarks.common import Result, dump, machine, table

BENCHMARKS = {
    "B1": "benchmarks.b1_restock",
    "B2": "benchmarks.b2_shared_budget",
    "B3": "benchmarks.b3_overhead",
    "B4": "benchmarks.b4_memory",
    "B5": "benchmarks.b5_imports",
    "B6": "benchmarks.b6_lost_answers",
    "B7": "benchmarks.b7_pacing",
    "B8": "benchmarks.b8_waiting",
    "B9": "benchmarks.b9_deferral",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that every benchmark still runs")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset, e.g. B1,B3")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--chart", type=Path, help="B1: write the points/time-against-N chart (PNG) here")
    args = parser.parse_args(argv)
    chosen = [name.strip().upper() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")

    print(f"airflow-provider-stoq benchmarks on {machine()}{' (smoke sizes)' if args.smoke else ''}")
    results: list[Result] = []
    for name in chosen:
        module = importlib.import_module(BENCHMARKS[name])
        options = {"chart": args.chart} if name == "B1" and args.chart else {}
        result: Result = module.run(smoke=args.smoke, **options)
        results.append(result)
        print(f"\n== {result.name}: {result.title}")
        print(table(result.rows))
        for note in result.notes:
            print(f"   {note}")
        verdict = "met" if result.met else "MISSED"
        print(f"   -> {result.ratio_label}: {result.ratio:,.3f} (target {result.target}: {verdict})")

    print("\nSummary")
    print(
        table(
            [
                {
                    "benchmark": r.name,
                    "measure": r.ratio_label,
                    "value": round(r.ratio, 3),
                    "target": r.target,
                    "met": "yes" if r.met else "NO",
                }
                for r in results
            ]
        )
    )
    if args.json:
        args.json.write_text(dump(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

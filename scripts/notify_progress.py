"""A long restock, to watch its log: 50,000 intents against a sandbox whose budget forces waits.

``python scripts/notify_progress.py [N] [--budget 60 --window 10 --batch-size 500]`` seeds N pending intents
(default 50,000) over 4 variants in a sandbox child process, runs ``StoqNotifyOperator`` over them as a worker
would, and prints what it logs: the selection per variant, a progress line every few seconds (done/total, rate,
points, the budget's state, time waited, an estimate that counts the budget's waits), pacing waits of a second
or more, and the closing line. Then it checks the sandbox's ledger: everyone alerted once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class _TaskInstance:
    def xcom_push(self, key: str, value: object) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("intents", nargs="?", type=int, default=50_000)
    parser.add_argument("--budget", type=int, default=60, help="points per window (default: %(default)s)")
    parser.add_argument("--window", type=float, default=10.0, help="window, seconds (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=500, help="IDs per bulk call (default: %(default)s)")
    args = parser.parse_args()

    from stoq_provider.operators.notify import StoqNotifyOperator
    from stoq_provider.sandbox import SandboxServer

    options = {"intents": args.intents, "variants": 4, "pending_only": True}
    with SandboxServer(subprocess=True, budget=args.budget, window=args.window, **options) as server:
        os.environ["AIRFLOW_CONN_STOQ_DEFAULT"] = server.connection_json()
        variants = sorted({intent["shopify_variant_id"] for intent in server.intents()})
        started = time.monotonic()
        StoqNotifyOperator(task_id="notify", shopify_variant_ids=variants, batch_size=args.batch_size).execute(
            {"ti": _TaskInstance()}
        )
        took = time.monotonic() - started
        ledger = server.ledger()
        print(
            f"\n{ledger['total_sends']} alerts to {len(ledger['sends'])} intents, {len(ledger['duplicates'])} twice, "
            f"in {took:.1f} s; the sandbox charged {server.stats()['points_charged']} points "
            f"(budget {args.budget} per {args.window:g} s)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

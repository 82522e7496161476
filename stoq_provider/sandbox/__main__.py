"""Command line: ``python -m stoq_provider.sandbox [options]`` serves a sandbox until SIGINT/SIGTERM.

Prints exactly one line, ``STOQ sandbox listening on http://HOST:PORT/api/v1/external``, once the
socket is bound (``--port 0`` picks a free port), and exits 0 when asked to stop.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from stoq_provider.sandbox.app import create_app
from stoq_provider.sandbox.constants import (
    ALL_FAULT_KINDS,
    DEFAULT_API_KEY,
    DEFAULT_SHOP_DOMAIN,
    EXTERNAL_PREFIX,
    FAULT_KINDS,
    MALFORMED_FAULT_KINDS,
)
from stoq_provider.sandbox.faults import FaultSettings
from stoq_provider.sandbox.readings import (
    CREATE_SHAPES,
    DEFAULT_READING,
    MAX_BULK_STATUSES,
    REFUSAL_WORDINGS,
    RESET_READINGS,
    Reading,
)
from stoq_provider.sandbox.runners import LISTENING_LINE, bind_socket, build_server
from stoq_provider.sandbox.state import SandboxConfig, SandboxState


def _kinds(value: str) -> tuple[str, ...]:
    kinds = tuple(kind.strip() for kind in value.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in ALL_FAULT_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(ALL_FAULT_KINDS)}")
    return kinds


def build_parser() -> argparse.ArgumentParser:
    """The command line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m stoq_provider.sandbox",
        description="Serve a local, STOQ-compatible API (v1) for tests, demos and benchmarks.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    add("--port", type=int, default=8765, help="port; 0 picks a free one (default: %(default)s)")
    add("--seed", type=int, default=0, help="seed of the generated data (default: %(default)s)")
    add("--intents", type=int, default=1000, help="number of intents to generate (default: %(default)s)")
    add("--variants", type=int, default=10, help="number of variants, 2 per product (default: %(default)s)")
    add("--pending-only", action="store_true", help="every generated intent pending, subscribed, restock")
    add("--budget", type=int, default=360, help="rate budget in points per window (default: %(default)s)")
    add("--window", type=float, default=60.0, help="rolling window in seconds (default: %(default)s)")
    add("--api-key", default=DEFAULT_API_KEY, help="the accepted X-Auth-Token (default: the sandbox key)")
    add("--shop-domain", default=DEFAULT_SHOP_DOMAIN, help="the accepted shop domain (default: %(default)s)")
    reading = parser.add_argument_group("readings", "behaviours STOQ's docs leave open (defaults: the sandbox's)")
    d = DEFAULT_READING
    reading.add_argument("--page-cap", type=int, default=d.page_cap, help="most items a page holds (default: 500)")
    reading.add_argument("--ignore-per-page", action="store_true", help="serve --page-cap items whatever is asked")
    reading.add_argument("--max-bulk", type=int, default=None, help="most intent_ids per bulk notify (default: none)")
    reading.add_argument(
        "--max-bulk-status",
        type=int,
        choices=MAX_BULK_STATUSES,
        default=d.max_bulk_status,
        help="status of a bulk notify over --max-bulk: 400 (JSON) or 413 (a proxy's HTML page) (default: 400)",
    )
    reading.add_argument(
        "--reset-reading",
        choices=RESET_READINGS,
        default=d.reset_reading,
        help="what X-RateLimit-Reset means (default: %(default)s)",
    )
    reading.add_argument(
        "--refusals", choices=REFUSAL_WORDINGS, default=d.refusals, help="refusal wording (default: %(default)s)"
    )
    reading.add_argument(
        "--create-shape",
        choices=CREATE_SHAPES,
        default=d.create_shape,
        help='201 body of the signup endpoint: {"intent": ...} or the bare intent (default: %(default)s)',
    )
    reading.add_argument(
        "--count-extra",
        type=int,
        default=0,
        help="meta.total_count claims this many items more than a listing serves (default: 0)",
    )
    add("--fault-rate", type=float, default=0.0, help="probability of a fault per API request (default: 0)")
    add(
        "--faults",
        type=_kinds,
        default=FAULT_KINDS,
        help=(
            f"comma-separated fault kinds to draw from (default: {','.join(FAULT_KINDS)}); malformed answers "
            f"({','.join(MALFORMED_FAULT_KINDS)}) are drawn only when listed here"
        ),
    )
    add("--slow-seconds", type=float, default=5.0, help="delay of the 'slow' fault (default: %(default)s)")
    add("--fault-seed", type=int, default=0, help="seed of the fault draws (default: %(default)s)")
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The sandbox configuration the parsed options describe. Raises ``ValueError`` on bad values."""
    faults = FaultSettings.build(
        rate=args.fault_rate, kinds=args.faults, slow_seconds=args.slow_seconds, seed=args.fault_seed
    )
    return SandboxConfig(
        seed=args.seed,
        intents=args.intents,
        variants=args.variants,
        pending_only=args.pending_only,
        budget=args.budget,
        window=args.window,
        reading=Reading(
            page_cap=args.page_cap,
            ignore_per_page=args.ignore_per_page,
            max_bulk=args.max_bulk,
            max_bulk_status=args.max_bulk_status,
            reset_reading=args.reset_reading,
            refusals=args.refusals,
            create_shape=args.create_shape,
            count_extra=args.count_extra,
        ),
        api_key=args.api_key,
        shop_domain=args.shop_domain,
        faults=faults,
    )


def _ignore(_signum: int, _frame: object) -> None:
    """Handler uvicorn restores and re-raises into after a graceful stop: exit normally instead."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until SIGINT or SIGTERM; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    state = SandboxState(config)
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    host_text = f"[{host}]" if ":" in host else host
    server = build_server(create_app(state), configure_logging=True)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _ignore)
    print(LISTENING_LINE.format(base_url=f"http://{host_text}:{port}{EXTERNAL_PREFIX}"), flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

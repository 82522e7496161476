"""Command line: ``python -m stoq_provider.sandbox [options]`` serves a sandbox until SIGINT/SIGTERM.

Once the socket is bound (``--port 0`` picks a free port) its first line is
``STOQ sandbox listening on http://HOST:PORT/api/v1/external``; the next ones give the API key, the budget, the
data, the faults, the reading, the admin routes and two Airflow connection lines that work as printed
(:mod:`.banner`). Exits 0 when asked to stop.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import date
from typing import Any

from stoq_provider.sandbox.app import create_app
from stoq_provider.sandbox.banner import start_lines
from stoq_provider.sandbox.constants import ALL_FAULT_KINDS, EXTERNAL_PREFIX, FAULT_KINDS, MALFORMED_FAULT_KINDS
from stoq_provider.sandbox.faults import FaultSettings
from stoq_provider.sandbox.readings import OPTION_NAMES, Reading
from stoq_provider.sandbox.runners import LISTENING_LINE, bind_socket, build_server
from stoq_provider.sandbox.state import SETTINGS, SandboxConfig, SandboxState


def _kinds(value: str) -> tuple[str, ...]:
    kinds = tuple(kind.strip() for kind in value.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in ALL_FAULT_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(ALL_FAULT_KINDS)}")
    return kinds


#: Where the command line's defaults differ from :class:`SandboxConfig`'s (a demo wants more data than a test).
CLI_DEFAULTS: dict[str, Any] = {"intents": 1000, "variants": 10}


def _add_option(group: Any, name: str, default: Any, metadata: Mapping[str, Any]) -> None:
    """One option of a declaration (a dataclass field with a ``help`` in its metadata), on the command line."""
    flag = "--" + name.replace("_", "-")
    help_text = metadata["help"] if "default" in metadata["help"] else f"{metadata['help']} (default: %(default)s)"
    if isinstance(default, bool):
        group.add_argument(flag, action="store_true", help=metadata["help"])
        return
    kind: Any = date.fromisoformat if name == "anchor" else int if name == "max_bulk" else type(default)
    group.add_argument(flag, type=kind, default=default, choices=metadata.get("choices"), help=help_text)


def build_parser() -> argparse.ArgumentParser:
    """The command line parser, built from the declarations of :class:`SandboxConfig` and :class:`Reading`."""
    parser = argparse.ArgumentParser(
        prog="python -m stoq_provider.sandbox",
        description="Serve a local, STOQ-compatible API (v1) for tests, demos and benchmarks.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    add("--port", type=int, default=8765, help="port; 0 picks a free one (default: %(default)s)")
    for option in fields(SandboxConfig):
        if option.name in SETTINGS:
            _add_option(parser, option.name, CLI_DEFAULTS.get(option.name, option.default), option.metadata)
    reading = parser.add_argument_group("readings", "behaviours STOQ's docs leave open (defaults: the sandbox's)")
    for option in fields(Reading):
        _add_option(reading, option.name, option.default, option.metadata)
    faults = parser.add_argument_group("faults")
    faults.add_argument(
        "--fault-rate", type=float, default=0.0, help="probability of a fault per API request (default: 0)"
    )
    faults.add_argument(
        "--faults",
        type=_kinds,
        default=FAULT_KINDS,
        help=(
            f"comma-separated fault kinds to draw from (default: {','.join(FAULT_KINDS)}); malformed answers "
            f"({','.join(MALFORMED_FAULT_KINDS)}) are drawn only when listed here"
        ),
    )
    faults.add_argument(
        "--slow-seconds", type=float, default=5.0, help="delay of the 'slow' fault (default: %(default)s)"
    )
    faults.add_argument("--fault-seed", type=int, default=0, help="seed of the fault draws (default: %(default)s)")
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The sandbox configuration the parsed options describe. Raises ``ValueError`` on bad values."""
    faults = FaultSettings.build(
        rate=args.fault_rate, kinds=args.faults, slow_seconds=args.slow_seconds, seed=args.fault_seed
    )
    return SandboxConfig(
        **{name: getattr(args, name) for name in SETTINGS},
        reading=Reading(**{name: getattr(args, name) for name in OPTION_NAMES}),
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
    # A wildcard address listens on loopback too; connections must name loopback (plain http:// is refused elsewhere).
    origin = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host_text}:{port}"
    print(LISTENING_LINE.format(base_url=origin + EXTERNAL_PREFIX), flush=True)
    print("\n".join(start_lines(config, origin, origin + EXTERNAL_PREFIX)), flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

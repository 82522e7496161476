"""pytest fixtures giving tests a running STOQ sandbox.

Enable with ``-p stoq_provider.sandbox.pytest_plugin`` or ``pytest_plugins = ["stoq_provider.sandbox.pytest_plugin"]``.

* ``stoq_sandbox_server`` (session): one in-process :class:`SandboxServer`, started once.
* ``stoq_sandbox`` (function): the same server, reset before the test to the defaults (seed 0,
  200 intents, 5 variants, 360 points per 60 s, no faults, no bulk maximum, empty ledger).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stoq_provider.sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def stoq_sandbox_server() -> Iterator[SandboxServer]:
    """A sandbox running in this process for the whole test session."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def stoq_sandbox(stoq_sandbox_server: SandboxServer) -> SandboxServer:
    """The session sandbox, reset to its defaults for this test."""
    stoq_sandbox_server.reset(seed=0, intents=200, variants=5, budget=360, window=60.0, max_bulk=None)
    return stoq_sandbox_server

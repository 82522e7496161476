"""A local, STOQ-compatible HTTP server for tests, example DAGs, demos and benchmarks.

It implements the STOQ v1 API contract (intents, notifications, rate budget, the public signup
endpoint) over real HTTP on loopback, with deterministic seeded data, fault injection (500s, HTML
502s, dropped connections, slow answers, requests applied but never answered; and, when named,
malformed answers: non-JSON 200s, JSON of the wrong shape, pages longer than asked, unknown extra
fields) and admin routes under ``/_sandbox`` to inspect what a client did. Runtime provider modules never import it.

Start one with :class:`SandboxServer`, the pytest fixtures of
``stoq_provider.sandbox.pytest_plugin``, or ``python -m stoq_provider.sandbox``.
"""

from __future__ import annotations

from stoq_provider.sandbox.constants import DEFAULT_API_KEY, DEFAULT_SHOP_DOMAIN
from stoq_provider.sandbox.server import SandboxServer

__all__ = ["DEFAULT_API_KEY", "DEFAULT_SHOP_DOMAIN", "SandboxServer"]

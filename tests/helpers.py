"""Small readers of the sandbox's statistics, shared by the tests."""

from __future__ import annotations


def calls(server, endpoint: str | None = None, status: int | None = None) -> int:
    """Requests the sandbox answered, for one endpoint and/or one status, or all of them."""
    per_endpoint = server.stats()["requests"]
    total = 0
    for name, statuses in per_endpoint.items():
        if endpoint is not None and name != endpoint:
            continue
        total += sum(count for code, count in statuses.items() if status is None or str(code) == str(status))
    return total


def points(server) -> int:
    """Rate-budget points the sandbox charged."""
    return server.stats()["points_charged"]

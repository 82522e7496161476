"""Small readers of the sandbox's statistics, shared by the tests."""

from __future__ import annotations

#: Connection extras that keep failure tests quick: short timeouts and backoff, few attempts.
#: (Here, not in conftest.py: ``tests/ui/conftest.py`` makes ``import conftest`` ambiguous.)
FAST_EXTRAS = {
    "timeout": 2,
    "connect_timeout": 2,
    "max_retries": 4,
    "retry_max_time": 15,
    "retry_wait_initial": 0.05,
    "retry_wait_max": 0.2,
    "max_rate_limit_wait": 10,
}


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

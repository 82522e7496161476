"""What the sandbox did: the ledger of notifications sent, and request statistics.

Tests read both through the admin routes to check, e.g., that no intent was notified twice or that a
client stayed within its rate budget.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from stoq_provider.sandbox.timeutil import iso_from_timestamp


@dataclass(frozen=True)
class SendEvent:
    """One notification actually sent."""

    intent_id: str
    time: float
    allow_resend: bool
    endpoint: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form of the event."""
        return {
            "intent_id": self.intent_id,
            "time": self.time,
            "at": iso_from_timestamp(self.time),
            "allow_resend": self.allow_resend,
            "endpoint": self.endpoint,
        }


class Ledger:
    """Every successful send, in order."""

    def __init__(self) -> None:
        self.events: list[SendEvent] = []

    def record(self, intent_id: str, *, time: float, allow_resend: bool, endpoint: str) -> None:
        """Append one send."""
        self.events.append(SendEvent(intent_id, time, allow_resend, endpoint))

    def clear(self) -> None:
        """Forget every send."""
        self.events.clear()

    def snapshot(self) -> dict[str, Any]:
        """``{"sends": {id: count}, "total_sends", "duplicates": [ids sent more than once], "events"}``."""
        sends = Counter(event.intent_id for event in self.events)
        return {
            "sends": dict(sends),
            "total_sends": len(self.events),
            "duplicates": sorted(intent_id for intent_id, count in sends.items() if count > 1),
            "events": [event.as_dict() for event in self.events],
        }


class Stats:
    """Counters of requests (per endpoint and status), points charged, 429s and faults."""

    def __init__(self) -> None:
        self.requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.points_charged = 0
        self.rate_limited = 0
        self.faults: Counter[str] = Counter()
        self.faults_by_endpoint: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def clear(self) -> None:
        """Reset every counter."""
        self.requests.clear()
        self.points_charged = 0
        self.rate_limited = 0
        self.faults.clear()
        self.faults_by_endpoint.clear()

    def record_request(self, endpoint: str, status: int) -> None:
        """Count one request that reached the API (after fault injection)."""
        self.requests[endpoint][str(status)] += 1
        if status == 429:
            self.rate_limited += 1

    def record_charge(self, points: int) -> None:
        """Count points taken from the rate budget."""
        self.points_charged += points

    def record_fault(self, endpoint: str, kind: str) -> None:
        """Count one injected fault."""
        self.faults[kind] += 1
        self.faults_by_endpoint[endpoint][kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """JSON form of the counters."""
        return {
            "requests": {name: dict(statuses) for name, statuses in self.requests.items()},
            "total_requests": sum(sum(statuses.values()) for statuses in self.requests.values()),
            "points_charged": self.points_charged,
            "rate_limited": self.rate_limited,
            "faults": dict(self.faults),
            "faults_by_endpoint": {name: dict(kinds) for name, kinds in self.faults_by_endpoint.items()},
        }

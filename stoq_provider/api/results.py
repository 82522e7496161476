"""The outcome of a bulk notify, as one object that converts to plain JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BulkNotifyResult:
    """What happened to each intent of a :meth:`StoqHook.bulk_notify_intents` call.

    :param requested: distinct intent IDs asked for.
    :param sent: IDs STOQ alerted during this call.
    :param already_notified: IDs that had been alerted before (not alerted again).
    :param failed: ``(intent_id, error)`` pairs STOQ did not send, with its reason (no customer data).
    :param requests: notify calls made (for cost accounting).
    :param read_requests: reads made to settle unclear answers and refusals (one point each).

    Usage::

        result = hook.bulk_notify_intents(ids)
        if result.failed:
            log.warning("not sent: %s", result.failed[:10])
        json.dumps(result.to_dict())
    """

    requested: int = 0
    sent: list[str] = field(default_factory=list)
    already_notified: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    read_requests: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed

    @property
    def handled(self) -> int:
        """IDs with a known outcome so far."""
        return len(self.sent) + len(self.already_notified) + len(self.failed)

    def merge(self, other: BulkNotifyResult) -> None:
        """Add another result's outcomes to this one (``requested`` is left alone)."""
        self.sent.extend(other.sent)
        self.already_notified.extend(other.already_notified)
        self.failed.extend(other.failed)
        self.requests += other.requests
        self.read_requests += other.read_requests

    def to_dict(self, *, max_failures: int | None = None) -> dict[str, Any]:
        """Plain JSON: counts, the sent and already-notified IDs, and failures (optionally capped)."""
        failures = self.failed if max_failures is None else self.failed[:max_failures]
        return {
            "requested": self.requested,
            "sent_count": len(self.sent),
            "already_notified_count": len(self.already_notified),
            "failed_count": len(self.failed),
            "sent": list(self.sent),
            "already_notified": list(self.already_notified),
            "failed": [{"intent_id": intent_id, "error": error} for intent_id, error in failures],
            "requests": self.requests,
            "read_requests": self.read_requests,
        }

    def __str__(self) -> str:
        return (
            f"{len(self.sent)} sent, {len(self.already_notified)} already notified, "
            f"{len(self.failed)} failed of {self.requested}"
        )

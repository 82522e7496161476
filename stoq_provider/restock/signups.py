"""New signups since the last look: the watermark of :class:`~stoq_provider.triggers.demand.StoqDemandEventTrigger`.

STOQ has no webhooks and no "changed since" cursor; its listing filters on the creation *day* (``start_date``,
in a time zone the docs do not name). So a poll round lists the store's unsent signups created since a day far
enough back to cover any time zone (UTC-12 to UTC+14), the time since the previous round, and a margin for
late-arriving rows (:func:`window_start`). What is new is what the watcher has not seen: :class:`SignupWatch`
keeps the IDs it has already seen (reported, or waiting when it started) with their creation day, and forgets an
ID only once its day has left every window it can still list. An ID is therefore reported at most once, even if
it leaves the listing and comes back (an opt-out undone).

Pure logic, no I/O: the trigger feeds it :class:`SignupRound` snapshots and stores :meth:`SignupWatch.dump`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from stoq_provider.api.contract import OPTED_OUT, is_pending

#: Time zones run from UTC-12 to UTC+14, so a server's creation day can lag UTC's by up to 12 hours...
ZONE_MARGIN = timedelta(hours=14)
#: ... and a signup may become visible a while after its ``created_at`` (replication, queues).
LATE_MARGIN = timedelta(hours=12)
#: An ID seen is kept until its creation day is this far before the window's first day.
FORGET_AFTER = timedelta(days=2)
#: The most intent IDs an event carries (``new`` still counts all of them).
MAX_EVENT_IDS = 1000
#: The fields of an intent a round keeps: what tells who waits, on what, since when (no contact data).
KEPT_FIELDS = ("id", "type", "shopify_variant_id", "shopify_product_id", "created_at", "notified_at", *OPTED_OUT)
#: The version of :meth:`SignupWatch.dump`'s format.
STATE_VERSION = 1


def window_start(now: datetime, since: datetime | None, poke_interval: float) -> str:
    """The ``start_date`` of a round's listing (``YYYY-MM-DD``): every signup created after ``since`` (the
    previous round, or ``now - poke_interval``) falls on or after it, whatever the server's time zone."""
    floor = now - timedelta(seconds=poke_interval)
    earliest = min(since, floor) if since is not None else floor
    return (earliest - ZONE_MARGIN - LATE_MARGIN).astimezone(timezone.utc).date().isoformat()


def slim(intent: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``intent`` a round keeps (:data:`KEPT_FIELDS`)."""
    return {name: intent.get(name) for name in KEPT_FIELDS if name in intent}


@dataclass
class SignupRound:
    """One poll of the store: its unsent signups created on or after ``since``.

    :param polled_at: when the listing started (UTC).
    :param since: the listing's ``start_date``.
    :param intents: the signups, :func:`slim`-med.
    :param count_waiting: awaits the customers waiting on one variant now (the trigger's client, memoized
        per round so that watchers of one shared poll ask once).
    :param list_since: awaits the store's unsent signups created on or after an earlier day (a watcher that
        restarts after a long pause catches up with it).
    """

    polled_at: datetime
    since: str
    intents: Sequence[Mapping[str, Any]]
    count_waiting: Callable[[int, tuple[str, ...]], Awaitable[int]]
    list_since: Callable[[str], Awaitable[Sequence[Mapping[str, Any]]]]


@dataclass
class SignupWatch:
    """What one watcher has seen; decides what is new.

    :param variant_ids: variants watched (with ``product_ids`` empty too: the whole store).
    :param product_ids: products watched.
    :param intent_types: intent types that count.
    """

    variant_ids: frozenset[int]
    product_ids: frozenset[int]
    intent_types: tuple[str, ...]
    seen: dict[str, str] = field(default_factory=dict)
    last_poll: datetime | None = None
    started: bool = False
    #: The creation day of the oldest new signup not yet reported (fewer than ``min_new`` so far): the listing
    #: reaches back to it, so that it still counts once it is older than the usual window.
    held_since: str | None = None

    def window(self, polled_at: datetime, poke_interval: float) -> str:
        """The ``start_date`` this watcher needs for a round polled at ``polled_at``."""
        start = window_start(polled_at, self.last_poll, poke_interval)
        if self.held_since:  # a day before the held signup's day as written: the server's zone is unknown
            held = (date.fromisoformat(self.held_since) - timedelta(days=1)).isoformat()
            start = min(start, held)
        return start

    def hold(self, news: Sequence[Mapping[str, Any]]) -> None:
        """Remember how far back the new signups not yet reported go (``news`` empty: nothing is held)."""
        days = sorted(day for day in (_day(i.get("created_at")) for i in news) if day)
        self.held_since = days[0] if days else (self.held_since if news else None)

    def watches(self, intent: Mapping[str, Any]) -> bool:
        """True for a waiting signup on what this watcher watches."""
        if not is_pending(intent, self.intent_types) or not intent.get("id"):
            return False
        if not self.variant_ids and not self.product_ids:
            return True
        return _as_int(intent.get("shopify_variant_id")) in self.variant_ids or (
            _as_int(intent.get("shopify_product_id")) in self.product_ids
        )

    def fresh(self, intents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The waiting signups on what this watcher watches that it has not seen, each once, oldest first."""
        found: dict[str, Mapping[str, Any]] = {}
        for intent in intents:
            key = str(intent.get("id"))
            if self.watches(intent) and key not in self.seen and key not in found:
                found[key] = intent
        return sorted(found.values(), key=lambda i: (str(i.get("created_at") or ""), str(i.get("id"))))

    def mark_seen(self, intents: Iterable[Mapping[str, Any]]) -> None:
        """Remember ``intents`` (reported, or the baseline) so that they are never new again."""
        for intent in intents:
            self.seen[str(intent.get("id"))] = _day(intent.get("created_at"))

    def finish_round(self, polled_at: datetime, since: str) -> None:
        """Record a completed round; forget IDs whose creation day no window can list any more."""
        self.last_poll, self.started = polled_at, True
        horizon = (date.fromisoformat(since) - FORGET_AFTER).isoformat()
        self.seen = {key: day for key, day in self.seen.items() if not day or day >= horizon}

    def dump(self) -> dict[str, Any]:
        """JSON state for the asset state store."""
        return {
            "version": STATE_VERSION,
            "last_poll": self.last_poll.isoformat() if self.last_poll else None,
            "held_since": self.held_since,
            "seen": dict(sorted(self.seen.items())),
        }

    def load(self, state: Any) -> bool:
        """Restore :meth:`dump`'s state; False (and nothing restored) if it is not one this version wrote."""
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            return False
        seen, last_poll = state.get("seen"), state.get("last_poll")
        if not isinstance(seen, Mapping) or not isinstance(last_poll, str):
            return False
        try:
            restored = datetime.fromisoformat(last_poll)
        except ValueError:
            return False
        held = state.get("held_since")
        self.seen = {str(key): str(day or "") for key, day in seen.items()}
        self.last_poll, self.started = restored, True
        self.held_since = _day(held) or None
        return True


def event_payload(news: Sequence[Mapping[str, Any]], pending: Mapping[int, int], polled_at: datetime) -> dict[str, Any]:
    """The trigger's event: ``new`` and ``pending`` per variant (string keys), ``new_intent_ids`` (the first
    :data:`MAX_EVENT_IDS`, oldest first) and the same IDs per variant (``new_intent_ids_by_variant``),
    ``new_total``, ``total`` (customers waiting on those variants) and ``polled_at``."""
    new: dict[str, int] = {}
    by_variant: dict[str, list[str]] = {}
    for position, intent in enumerate(news):
        key = str(_as_int(intent.get("shopify_variant_id")))
        new[key] = new.get(key, 0) + 1
        if position < MAX_EVENT_IDS:
            by_variant.setdefault(key, []).append(str(intent["id"]))
    return {
        "new": new,
        "new_total": len(news),
        "new_intent_ids": [str(intent["id"]) for intent in news[:MAX_EVENT_IDS]],
        "new_intent_ids_by_variant": by_variant,
        "pending": {str(variant): int(count) for variant, count in sorted(pending.items())},
        "total": sum(int(count) for count in pending.values()),
        "polled_at": polled_at.isoformat(),
    }


def variants_of(news: Iterable[Mapping[str, Any]]) -> list[int]:
    """The variants of ``news``, each once, in order."""
    return list(dict.fromkeys(v for v in (_as_int(i.get("shopify_variant_id")) for i in news) if v is not None))


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _day(created_at: Any) -> str:
    """The creation day of an intent as written (``""`` if unreadable: kept until its ID ages out otherwise)."""
    text = str(created_at or "")[:10]
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return ""

"""Date-time helpers: the sandbox writes every date-time as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC).

One fixed format keeps the strings sortable, so ordering by ``created_at`` is a string comparison.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso_from_timestamp(timestamp: float) -> str:
    """Format a Unix timestamp as an ISO 8601 UTC string with a ``Z`` suffix (second precision)."""
    return time.strftime(_FORMAT, time.gmtime(timestamp))


def iso_now() -> str:
    """The current time in the sandbox's ISO 8601 format."""
    return iso_from_timestamp(time.time())


def normalize_iso(value: str) -> str:
    """Parse any ISO 8601 date or date-time and return it in the sandbox's format.

    A naive value is taken as UTC. Raises ``ValueError`` when ``value`` is not ISO 8601.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime(_FORMAT)


def local_day(created_at: str, offset_hours: int | None) -> str:
    """The ``YYYY-MM-DD`` day of a sandbox date-time in the time zone UTC+``offset_hours`` (``None``: UTC)."""
    if not offset_hours:
        return created_at[:10]
    moment = datetime.strptime(created_at, _FORMAT).replace(tzinfo=timezone.utc) + timedelta(hours=offset_hours)
    return moment.date().isoformat()


def parse_day(value: str) -> date:
    """Parse a strict ``YYYY-MM-DD`` day. Raises ``ValueError`` otherwise."""
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise ValueError(f"not a YYYY-MM-DD date: {value!r}")
    return date.fromisoformat(value)


def midnight_utc_timestamp(day: date) -> float:
    """Unix timestamp of 00:00:00 UTC on ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def today_utc() -> date:
    """Today's date in UTC."""
    return datetime.now(timezone.utc).date()

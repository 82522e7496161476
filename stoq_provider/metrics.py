"""What the provider spends and does, reported through Airflow's own metrics (``Stats``).

Whatever the deployment configures (StatsD, OpenTelemetry, Datadog) receives these; with metrics off, ``Stats``
drops them. Reporting never fails a task: an error of the metrics system is logged at DEBUG and forgotten.

Names, all counters unless marked (the ``[metrics] statsd_prefix``, ``airflow`` by default, is prepended):

* ``stoq.requests``, ``stoq.points``, ``stoq.rate_limited``: requests STOQ answered, rate-budget points
  charged, ``429`` answers met;
* ``stoq.budget_wait.paced``, ``stoq.budget_wait.rate_limited`` (timers, ms): each wait for the store's budget,
  before a request (pacing) or after a ``429``;
* ``stoq.intents.notified``, ``.already_notified``, ``.skipped``, ``.held_back``, ``.failed``: a restock run's
  outcome (operator and notifier); ``stoq.read_backs``: requests spent settling ambiguous notify answers;
* ``stoq.sensor.pokes``, ``stoq.trigger.polls``: checks for waiting customers;
* ``stoq.watcher.rounds``, ``stoq.watcher.failed_rounds``, ``stoq.watcher.events``: the demand watchers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

#: The transport's usage fields, as metric names.
TRANSPORT_COUNTERS = {"requests": "stoq.requests", "points": "stoq.points", "rate_limited": "stoq.rate_limited"}
TRANSPORT_TIMERS = {"paced_seconds": "stoq.budget_wait.paced", "rate_limited_seconds": "stoq.budget_wait.rate_limited"}
#: A restock summary's counts, as metric names.
OUTCOME_COUNTERS = {
    "notified": "stoq.intents.notified",
    "already_notified": "stoq.intents.already_notified",
    "skipped": "stoq.intents.skipped",
    "held_back": "stoq.intents.held_back",
    "failed": "stoq.intents.failed",
    "read_backs": "stoq.read_backs",
}


def _stats() -> Any:
    try:  # Airflow 3.2+
        from airflow.sdk.observability.stats import Stats
    except ImportError:  # Airflow 3.1
        from airflow.stats import Stats
    return Stats


def incr(name: str, count: int = 1) -> None:
    """Add ``count`` to the counter ``name`` (nothing when ``count`` is 0); never raises."""
    if not count:
        return
    try:
        _stats().incr(name, count)
    except Exception as exc:
        log.debug("STOQ: metric %s not sent (%s).", name, type(exc).__name__)


def timing(name: str, seconds: float) -> None:
    """Record one duration (sent in milliseconds); never raises."""
    try:
        _stats().timing(name, seconds * 1000.0)
    except Exception as exc:
        log.debug("STOQ: metric %s not sent (%s).", name, type(exc).__name__)


def transport_usage(name: str, amount: float) -> None:
    """The hooks' :data:`~stoq_provider.api.transport.policy.UsageObserver`: one amount a transport spent."""
    if name in TRANSPORT_COUNTERS:
        incr(TRANSPORT_COUNTERS[name], int(amount))
    elif name in TRANSPORT_TIMERS:
        timing(TRANSPORT_TIMERS[name], amount)


def restock_outcome(summary: Mapping[str, Any], *, selection: bool = True) -> None:
    """A restock run's counts (a dry run sends nothing and reports nothing).

    :param selection: report ``skipped`` and ``held_back`` too (not for the later legs of a deferrable notify,
        which select again what the first leg counted).
    """
    if summary.get("dry_run"):
        return
    for key, name in OUTCOME_COUNTERS.items():
        if not selection and key in ("skipped", "held_back"):
            continue
        value = summary.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            incr(name, value)

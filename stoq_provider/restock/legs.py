"""A deferrable notify's legs: what each leg leaves to the next, and the one summary that covers them all.

A deferrable :class:`~stoq_provider.operators.notify.StoqNotifyOperator` stops when the store's budget asks for
a long wait, defers until it is back, and starts a new leg. Exactly once across legs:

* variants and products are listed again, pending only, so what earlier legs sent is not selected again;
* ``intent_ids`` lose the IDs earlier legs handled (sent, already notified, or failed);
* ``inventory`` loses the units earlier legs sent, so the same units never serve two customers.

A leg that handled nothing (listing what is pending used the budget it had) is followed by a leg that waits in
the worker, so that every run ends. A deferral never happens with ``allow_resend`` (a new listing would select
already-alerted customers again) or in a dry run (nothing is sent, nothing waits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stoq_provider.restock.alerts import RestockRequest

#: Outcome counts that add up over legs; the selection counts (``skipped``, ``held_back``, ``pending``,
#: ``eligible``) are those of the first leg, when the run chose what to alert.
SUMMED = ("notified", "already_notified", "failed", "read_backs")
SUMMED_PER_VARIANT = ("notified", "already_notified", "failed", "units_sent")
#: Keys a leg carries for the next one only.
CARRIED = ("handled_ids", "deferred", "deferred_for", "selected")


def can_defer(request: RestockRequest) -> bool:
    """Whether a run of ``request`` may stop for a long budget wait and resume in a new leg."""
    return not request.dry_run and not request.allow_resend


def progressed(leg: Mapping[str, Any]) -> bool:
    """Whether a leg handled any intent (a leg that only listed before deferring did not)."""
    return any(int(leg.get(key, 0)) for key in ("notified", "already_notified", "failed"))


def resume(request: RestockRequest, legs: Sequence[Mapping[str, Any]]) -> RestockRequest | None:
    """``request`` for the next leg, given the earlier legs' summaries; ``None`` when nothing is left to do."""
    if not legs:
        return request
    if request.selector == "intent_ids":
        handled = {iid for leg in legs for iid in leg.get("handled_ids", ())}
        left = tuple(iid for iid in request.intent_ids if iid not in handled)
        return replace(request, intent_ids=left) if left else None
    if request.selector == "inventory":
        used: dict[int, int] = {}
        for leg in legs:
            for variant, row in (leg.get("per_variant") or {}).items():
                used[int(variant)] = used.get(int(variant), 0) + int(row.get("units_sent", 0))
        units = {variant: n - used.get(variant, 0) for variant, n in request.inventory.items()}
        left_units = {variant: n for variant, n in units.items() if n > 0}
        return replace(request, inventory=left_units) if left_units else None
    return request


def merge(legs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One summary of every leg: outcome counts added up, the selection as the first leg made it."""
    from stoq_provider.restock.alerts import MAX_REPORTED_FAILURES

    first = next((leg for leg in legs if leg.get("selected", True)), legs[0])
    last = legs[-1]
    merged = {key: value for key, value in last.items() if key not in CARRIED}
    for key in ("requested", "skipped", "held_back"):
        merged[key] = first.get(key, 0)
    for key in SUMMED:
        merged[key] = sum(int(leg.get(key, 0)) for leg in legs)
    per_variant: dict[str, dict[str, int]] = {}
    for leg in legs:
        for variant, row in (leg.get("per_variant") or {}).items():
            target = per_variant.setdefault(variant, {**row, **dict.fromkeys(SUMMED_PER_VARIANT, 0)})
            if leg is first:
                target.update({k: v for k, v in row.items() if k not in SUMMED_PER_VARIANT})
            for key in SUMMED_PER_VARIANT:
                target[key] += int(row.get(key, 0))
    merged["per_variant"] = per_variant
    failures = [failure for leg in legs for failure in leg.get("failures", ())]
    merged["failures"] = failures[:MAX_REPORTED_FAILURES]
    merged["failures_truncated"] = len(failures) > MAX_REPORTED_FAILURES or any(
        leg.get("failures_truncated") for leg in legs
    )
    merged["legs"] = len(legs)
    merged["deferrals"] = len(legs) - 1
    merged["deferred_seconds"] = round(sum(float(leg.get("deferred_for", 0.0)) for leg in legs), 1)
    return merged

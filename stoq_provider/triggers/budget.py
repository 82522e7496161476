"""The trigger a deferrable notify waits in while the store's STOQ budget comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class StoqBudgetTrigger(BaseTrigger):
    """Sleep in the triggerer until ``resume_at``, then hand the notify's earlier legs back to it.

    A timer like Airflow's ``DateTimeTrigger``, whose event also carries the legs: ``dag.test()`` resumes a task
    with the trigger's event alone (not the ``kwargs`` given to ``defer``), so the legs travel in the event to
    reach the next leg in every runner.

    :param resume_at: UNIX time when the budget is back.
    :param legs: the summaries of the legs so far (JSON).

    Usage (what :class:`~stoq_provider.operators.notify.StoqNotifyOperator` does)::

        self.defer(trigger=StoqBudgetTrigger(resume_at=time.time() + 30, legs=legs), method_name="execute_complete")
    """

    def __init__(self, *, resume_at: float, legs: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__()
        self.resume_at = float(resume_at)
        self.legs = list(legs)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The classpath and JSON keyword arguments."""
        return f"{type(self).__module__}.{type(self).__qualname__}", {"resume_at": self.resume_at, "legs": self.legs}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait until ``resume_at``; fire once with the legs."""
        await asyncio.sleep(max(0.0, self.resume_at - time.time()))
        yield TriggerEvent({"status": "budget_back", "legs": self.legs})

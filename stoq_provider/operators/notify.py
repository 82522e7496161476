"""Send STOQ restock alerts from a DAG."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from stoq_provider._compat import conf
from stoq_provider.restock.options import TEMPLATE_FIELDS, RestockOptions

if TYPE_CHECKING:
    from airflow.sdk import Context

    from stoq_provider.hooks.stoq import StoqHook

#: A deferrable notify sleeps through budget waits up to this many seconds; a longer one defers the task.
DEFER_WAITS_OVER = 10.0


class StoqNotifyOperator(RestockOptions, BaseOperator):
    """Alert the customers waiting on restocked variants, exactly once each.

    Give exactly one selector:

    * ``intent_ids``: these intents;
    * ``shopify_variant_ids`` / ``shopify_product_ids``: the pending intents of these variants or products
      (``notified=false``); unsubscribed, customer-unsubscribed, blocked and other-type intents are skipped
      and counted as such;
    * ``inventory``: ``{shopify_variant_id: units_available}``. Per variant the longest-waiting intents are
      notified first (oldest ``created_at``, then ID) while the sum of their requested ``quantity`` fits the
      units; the first intent that does not fit stops the selection for that variant (nobody who waited longer
      is passed over by a smaller request), and the rest stay pending for the next restock.

    Selectors are templated and accept a list of ints or strings, an ``XComArg`` (``sync.output``), or rendered
    Jinja text (a JSON list, or comma-separated IDs). Bad input fails the task before any request, naming the
    parameter. A retry or rerun never alerts anyone twice: only intents still pending are listed, and STOQ
    refuses to re-send without ``allow_resend``.

    Returns (as XCom) a JSON summary: counts of ``requested``, ``notified``, ``already_notified``, ``skipped``,
    ``held_back``, ``failed``; ``per_variant`` counts; and up to 50 failed ``{intent_id, error}`` pairs. No
    customer data. The same summary is pushed under the XCom key ``stoq_summary`` before a failure.

    :param stoq_conn_id: the STOQ connection.
    :param intent_ids: STOQ intent IDs to notify.
    :param shopify_variant_ids: restocked Shopify variant IDs.
    :param shopify_product_ids: restocked Shopify product IDs.
    :param inventory: ``{shopify_variant_id: units_available}`` for quantity-aware alerts.
    :param allow_resend: alert again customers already alerted (off by default; keep it off if the store has
        STOQ's automatic alerts on).
    :param intent_types: intent types to notify (``restock``; add ``wishlist_reminder`` to include those).
    :param batch_size: intent IDs per bulk call (default: the connection's ``batch_size``, else 1000).
    :param on_partial_failure: ``fail`` (default): send everything possible, then fail the task so that a
        retry sends what is left; ``warn``: log and succeed.
    :param dry_run: list and report what would be sent, per variant; send nothing.
    :param deferrable: when the store's budget asks for a wait longer than 10 s, defer to the triggerer until it
        is back instead of sleeping in the worker slot, then go on with what is still pending (a new leg).
        Exactly once across any number of legs; the summary covers them all (``legs``, ``deferrals``,
        ``deferred_seconds``). Shorter waits stay in the worker. Never with ``allow_resend`` or ``dry_run``.
        Default: ``[operators] default_deferrable``.

    Usage::

        sync = sync_inventory()  # returns the restocked variant IDs
        StoqNotifyOperator(task_id="alert_waiting_customers", shopify_variant_ids=sync)
    """

    template_fields: Sequence[str] = TEMPLATE_FIELDS
    ui_color = "#e8f4ea"
    # The parameter shadows BaseOperator.dry_run(), a method that renders the template fields and that Airflow 3
    # itself never calls; the operator's public ``dry_run`` has been the flag since its first release.
    dry_run: bool  # type: ignore[assignment]

    def __init__(
        self,
        *,
        stoq_conn_id: str = "stoq_default",
        intent_ids: Any = None,
        shopify_variant_ids: Any = None,
        shopify_product_ids: Any = None,
        inventory: Any = None,
        allow_resend: bool = False,
        intent_types: Sequence[str] = ("restock",),
        batch_size: int | None = None,
        on_partial_failure: str = "fail",
        dry_run: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stoq_conn_id = stoq_conn_id
        self.deferrable = deferrable
        options = {k: v for k, v in locals().items() if k != "deferrable"}
        self.store_restock_options(options, f"{type(self).__name__} {self.task_id!r}")

    @cached_property
    def hook(self) -> StoqHook:
        """The STOQ hook (built on first use, not at DAG parse time)."""
        from stoq_provider.hooks.stoq import StoqHook

        return StoqHook(stoq_conn_id=self.stoq_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        return self._leg(context, [])

    def execute_complete(
        self, context: Context, event: Any = None, legs: Sequence[dict[str, Any]] = ()
    ) -> dict[str, Any]:
        """Resume after a deferral for the store's budget: the next leg, with what is still pending."""
        if isinstance(event, dict) and "legs" in event:  # the legs travel in the event (see StoqBudgetTrigger)
            legs = event["legs"]
        return self._leg(context, list(legs))

    def _leg(self, context: Context, legs: list[dict[str, Any]]) -> dict[str, Any]:
        from stoq_provider.exceptions import StoqBudgetWait, StoqNotifyPartialFailure
        from stoq_provider.restock import legs as legs_
        from stoq_provider.restock.alerts import RestockAlerts

        request = legs_.resume(self.restock_request(f"{type(self).__name__} {self.task_id!r}"), legs)
        if request is None:  # the earlier legs handled everything
            return self._finish(context, legs)
        defer = self.deferrable and legs_.can_defer(request)
        if defer and legs and not legs_.progressed(legs[-1]):
            # Listing what is pending took the budget the last leg had: deferring again would repeat that
            # forever, so this leg waits in the worker.
            self.log.info("STOQ restock alerts: the last leg sent nothing; this one waits for the budget here.")
            defer = False
        self.hook.defer_waits_over = DEFER_WAITS_OVER if defer else None
        alerts = RestockAlerts(self.hook, request, self.log, first_leg=not legs)
        try:
            summary = alerts.run()
        except StoqBudgetWait as wait:
            self._defer_for(wait.seconds, [*legs, alerts.leg(wait.result, wait.seconds)])
        except StoqNotifyPartialFailure as exc:
            merged = legs_.merge([*legs, exc.summary]) if legs else exc.summary
            context["ti"].xcom_push(key="stoq_summary", value=merged)
            raise
        return self._finish(context, [*legs, summary])

    def _finish(self, context: Context, legs: list[dict[str, Any]]) -> dict[str, Any]:
        from stoq_provider.restock import legs as legs_

        summary = legs_.merge(legs) if len(legs) > 1 else legs[0]
        if len(legs) > 1:
            self.log.info(
                "STOQ restock alerts, all %d legs: %d notified, %d already notified, %d failed; %d deferrals "
                "(%.0f s in the triggerer instead of a worker).",
                summary["legs"],
                summary["notified"],
                summary["already_notified"],
                summary["failed"],
                summary["deferrals"],
                summary["deferred_seconds"],
            )
        context["ti"].xcom_push(key="stoq_summary", value=summary)
        return summary

    def _defer_for(self, seconds: float, legs: list[dict[str, Any]]) -> None:
        import time

        from stoq_provider.triggers.budget import StoqBudgetTrigger

        trigger = StoqBudgetTrigger(resume_at=time.time() + seconds, legs=legs)
        self.defer(trigger=trigger, method_name="execute_complete", kwargs={"legs": legs})

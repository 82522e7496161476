"""Send STOQ restock alerts from a task callback (``on_success_callback`` of an inventory sync)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from stoq_provider.restock.options import TEMPLATE_FIELDS, RestockOptions

if TYPE_CHECKING:
    from airflow.sdk import Context

    from stoq_provider.hooks.stoq import StoqHook


class StoqNotifier(RestockOptions, BaseNotifier):
    """The restock alerts of :class:`~stoq_provider.operators.notify.StoqNotifyOperator`, as a callback.

    Same selectors and options, templated alike: in a callback, hand over an upstream result with Jinja, e.g.
    ``shopify_variant_ids="{{ ti.xcom_pull(task_ids='sync_inventory') }}"``. Literal mistakes fail when the DAG
    is parsed. A callback cannot fail its task: bad input, a refused key or a failed send is logged at ERROR as
    one line naming the parameter or status and what to do (no traceback); with ``on_partial_failure="fail"``
    partial failures are logged at ERROR with their counts. To be told, pass ``on_error``: another notifier
    (Slack, e-mail, PagerDuty...) or any callable, called with the task's context plus ``exception`` (the
    STOQ error) and ``stoq_summary``. The alerts that could be sent were sent, exactly once, and running it again
    sends only what is still pending. Every run ends with a one-line summary in the log.

    :param stoq_conn_id: the STOQ connection.
    :param intent_ids: STOQ intent IDs to notify.
    :param shopify_variant_ids: restocked Shopify variant IDs.
    :param shopify_product_ids: restocked Shopify product IDs.
    :param inventory: ``{shopify_variant_id: units_available}`` for quantity-aware alerts.
    :param allow_resend: alert again customers already alerted.
    :param intent_types: intent types to notify.
    :param batch_size: intent IDs per bulk call.
    :param on_partial_failure: ``fail`` (log at ERROR) or ``warn`` (log at WARNING).
    :param dry_run: report what would be sent; send nothing.
    :param on_error: called when the alerts fail (bad input at run time, a refused key, an outage, partial
        failures under ``on_partial_failure="fail"``), with the context plus ``exception`` and ``stoq_summary``;
        e.g. ``SlackNotifier(text="STOQ alerts failed: {{ exception }}")``. Default: log only.

    Usage::

        @task(on_success_callback=send_stoq_restock_alerts(
            shopify_variant_ids="{{ ti.xcom_pull(task_ids='sync_inventory') }}"))
        def sync_inventory() -> list[int]: ...
    """

    template_fields: Sequence[str] = TEMPLATE_FIELDS

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
        on_error: Callable[[Context], Any] | None = None,
    ) -> None:
        super().__init__()
        self.stoq_conn_id = stoq_conn_id
        self.on_error = on_error
        self.store_restock_options(locals(), type(self).__name__)
        #: The summary of the last run (for tests and callers that keep the notifier object).
        self.summary: dict[str, Any] | None = None

    @cached_property
    def hook(self) -> StoqHook:
        """The STOQ hook (built on first use)."""
        from stoq_provider.hooks.stoq import StoqHook

        return StoqHook(stoq_conn_id=self.stoq_conn_id)

    def __call__(self, *args: Any) -> None:
        """Run as a task callback: a STOQ error is logged at ERROR as one clear line, and not raised.

        A callback cannot fail its task, so raising would only add a traceback to the task log. Errors that are
        not STOQ errors (bugs, template errors) are raised as by any notifier. :meth:`notify` itself raises.
        """
        if len(args) != 1:  # the DAG-level form (dag, task_list, ...) has no use for restock alerts
            super().__call__(*args)
            return
        from stoq_provider.exceptions import StoqError

        context = args[0]
        self._update_context(context)
        self.render_template_fields(context)
        try:
            self.notify(context)
        except StoqError as exc:
            self.log.error("STOQ restock alerts failed (the callback does not fail the task): %s", exc)
            if self.on_error is not None:
                self._tell(context, exc)
        except Exception as exc:
            self.log.error("Failed to send notification (sync): %s", exc)
            raise

    def _tell(self, context: Context, exc: BaseException) -> None:
        """Hand the failure to ``on_error``; its own failure is logged, never raised from the callback."""
        assert self.on_error is not None
        told = dict(context)
        told.update(exception=exc, stoq_summary=self.summary)
        try:
            self.on_error(told)  # type: ignore[arg-type]
        except Exception as failure:
            self.log.error("on_error of StoqNotifier failed too: %s: %s", type(failure).__name__, failure)

    def notify(self, context: Context) -> None:
        """Send the alerts; raises the STOQ error (the callback form, ``notifier(context)``, logs it instead)."""
        from stoq_provider.exceptions import StoqNotifyPartialFailure
        from stoq_provider.restock.alerts import RestockAlerts

        self.summary = None
        request = self.restock_request(type(self).__name__)
        try:
            self.summary = RestockAlerts(self.hook, request, self.log).run()
        except StoqNotifyPartialFailure as exc:
            self.summary = exc.summary
            raise


#: Function-style alias, in the manner of Airflow's ``send_slack_notification``.
send_stoq_restock_alerts = StoqNotifier

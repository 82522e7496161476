"""Send STOQ restock alerts from a DAG."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from stoq_provider.restock.options import TEMPLATE_FIELDS, RestockOptions

if TYPE_CHECKING:
    from airflow.sdk import Context

    from stoq_provider.hooks.stoq import StoqHook


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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stoq_conn_id = stoq_conn_id
        self.store_restock_options(locals(), f"{type(self).__name__} {self.task_id!r}")

    @cached_property
    def hook(self) -> StoqHook:
        """The STOQ hook (built on first use, not at DAG parse time)."""
        from stoq_provider.hooks.stoq import StoqHook

        return StoqHook(stoq_conn_id=self.stoq_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        from stoq_provider.exceptions import StoqNotifyPartialFailure
        from stoq_provider.restock.alerts import RestockAlerts

        request = self.restock_request(f"{type(self).__name__} {self.task_id!r}")
        try:
            summary = RestockAlerts(self.hook, request, self.log).run()
        except StoqNotifyPartialFailure as exc:
            context["ti"].xcom_push(key="stoq_summary", value=exc.summary)
            raise
        context["ti"].xcom_push(key="stoq_summary", value=summary)
        return summary

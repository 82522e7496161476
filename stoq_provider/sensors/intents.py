"""Wait until customers are waiting for a restock alert on the given variants or products."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.configuration import conf
from airflow.sdk import BaseSensorOperator, PokeReturnValue

if TYPE_CHECKING:
    from airflow.sdk import Context

    from stoq_provider.hooks.stoq import StoqHook


class StoqPendingIntentsSensor(BaseSensorOperator):
    """Succeed once at least ``min_pending`` pending, subscribed intents match the variants or products.

    Returns (as XCom) ``{"pending": {variant_id: n}, "total": n}``. Works in ``poke`` and ``reschedule`` modes;
    with ``deferrable=True`` the wait runs in the triggerer (:class:`StoqPendingIntentsTrigger`), holding no
    worker slot. ``timeout`` and ``soft_fail`` behave as for every Airflow sensor.

    :param stoq_conn_id: the STOQ connection.
    :param shopify_variant_ids: variants to watch (templated; list, ``XComArg`` or rendered Jinja text).
    :param shopify_product_ids: products to watch (templated); give exactly one of the two.
    :param min_pending: waiting intents needed to succeed.
    :param intent_types: intent types that count (``restock``).
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).

    Usage::

        StoqPendingIntentsSensor(task_id="wait_for_demand", shopify_variant_ids=sync.output, deferrable=True)
    """

    template_fields: Sequence[str] = ("shopify_variant_ids", "shopify_product_ids")
    ui_color = "#fdf3e1"

    def __init__(
        self,
        *,
        stoq_conn_id: str = "stoq_default",
        shopify_variant_ids: Any = None,
        shopify_product_ids: Any = None,
        min_pending: int = 1,
        intent_types: Sequence[str] = ("restock",),
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stoq_conn_id = stoq_conn_id
        self.shopify_variant_ids = shopify_variant_ids
        self.shopify_product_ids = shopify_product_ids
        self.min_pending = min_pending
        self.intent_types = intent_types
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> StoqHook:
        """The STOQ hook (built on first use)."""
        from stoq_provider.hooks.stoq import StoqHook

        return StoqHook(stoq_conn_id=self.stoq_conn_id)

    def _selection(self) -> tuple[list[int] | None, list[int] | None]:
        from stoq_provider.utils import selectors, validation

        owner = f"{type(self).__name__} {self.task_id!r}"
        chosen = selectors.exactly_one(
            owner, shopify_variant_ids=self.shopify_variant_ids, shopify_product_ids=self.shopify_product_ids
        )
        validation.positive_int(self.min_pending, "min_pending")
        value = getattr(self, chosen)
        ids = selectors.shopify_ids(value, chosen)
        return (ids, None) if chosen == "shopify_variant_ids" else (None, ids)

    def poke(self, context: Context) -> PokeReturnValue:
        from stoq_provider.utils.demand import count_waiting

        variants, products = self._selection()
        pending: dict[str, int] = {str(v): 0 for v in variants or []}
        for name, value in [("shopify_variant_id", v) for v in variants or []] + [
            ("shopify_product_id", p) for p in products or []
        ]:
            for variant, n in count_waiting(self.hook.list_intents(**{name: value, "notified": False}), self.intent_types).items():
                pending[variant] = pending.get(variant, 0) + n
        total = sum(pending.values())
        self.log.info("STOQ: %d customers waiting (need %d): %s", total, self.min_pending, pending)
        return PokeReturnValue(is_done=total >= self.min_pending, xcom_value={"pending": pending, "total": total})

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        from stoq_provider.triggers.intents import StoqPendingIntentsTrigger

        variants, products = self._selection()
        self.defer(
            trigger=StoqPendingIntentsTrigger(
                stoq_conn_id=self.stoq_conn_id,
                shopify_variant_ids=variants,
                shopify_product_ids=products,
                min_pending=self.min_pending,
                intent_types=list(self.intent_types),
                poke_interval=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) if self.timeout else None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: return the counts, or fail (skip with ``soft_fail``) on error."""
        from airflow.exceptions import AirflowSkipException

        from stoq_provider.exceptions import StoqError

        if event and event.get("status") == "success":
            self.log.info("STOQ: %s customers waiting: %s", event.get("total"), event.get("pending"))
            return {"pending": event.get("pending", {}), "total": event.get("total", 0)}
        message = f"STOQ pending-intents wait failed: {(event or {}).get('message', 'no event from the trigger')}"
        if self.soft_fail:
            raise AirflowSkipException(message)
        raise StoqError(message)

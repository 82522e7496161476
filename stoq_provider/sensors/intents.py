"""Wait until customers are waiting for a restock alert on the given variants or products."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from stoq_provider._compat import conf
from stoq_provider.exceptions import StoqError, StoqPendingIntentsWaitError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from stoq_provider.hooks.stoq import StoqHook

_SELECTORS = ("shopify_variant_ids", "shopify_product_ids")


class StoqPendingIntentsSensor(BaseSensorOperator):
    """Succeed once at least ``min_pending`` pending, subscribed intents match the variants or products.

    An intent counts while it was never notified, the customer is subscribed and not blocked, and its type is
    one of ``intent_types``. The sensor returns (as XCom) ``{"pending": {"<variant id>": n}, "total": n}``.

    It works in ``poke`` and ``reschedule`` modes. With ``deferrable=True`` it checks once and, if not enough
    customers are waiting yet, hands the wait to the triggerer
    (:class:`~stoq_provider.triggers.intents.StoqPendingIntentsTrigger`), holding no worker slot; ``timeout``
    then bounds the deferral. ``timeout``, ``soft_fail`` (skip instead of fail on timeout or on a trigger
    error), ``poke_interval`` and the other :class:`BaseSensorOperator` arguments behave as usual.

    The ID lists are checked when the task runs, before any request: a list of ints or numeric strings, an
    ``XComArg`` (the output of an upstream task), or the rendered text of a Jinja template (``"[1, 2]"`` or
    ``"1,2"``). Errors name the parameter.

    :param stoq_conn_id: the STOQ connection.
    :param shopify_variant_ids: Shopify variants to watch (templated). Give exactly one of the two selectors.
    :param shopify_product_ids: Shopify products to watch (templated); counts are still reported per variant.
    :param min_pending: waiting intents needed to succeed (at least 1).
    :param intent_types: intent types that count: ``restock`` (default) and/or ``wishlist_reminder``.
    :param deferrable: wait in the triggerer (default: the ``[operators] default_deferrable`` option).

    Usage::

        from stoq_provider.sensors.intents import StoqPendingIntentsSensor

        wait = StoqPendingIntentsSensor(
            task_id="wait_for_waiting_customers",
            shopify_variant_ids=sync_inventory.output,  # or [40000000001], or "{{ params.variants }}"
            min_pending=5,
            deferrable=True,
            poke_interval=300,
            timeout=6 * 3600,
            soft_fail=True,
        )
    """

    template_fields: Sequence[str] = _SELECTORS
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
        mode = kwargs.get("mode", "poke")
        if mode not in self.valid_modes:
            # Airflow checks it too, with a garbled message, as AirflowException (3.1) or ValueError (3.2+).
            raise ValueError(
                f"{type(self).__name__} {kwargs.get('task_id')!r}: mode must be one of "
                f"{', '.join(map(repr, self.valid_modes))}; got {mode!r}."
            )
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

    # ------------------------------------------------------------------ arguments

    def _selection(self) -> tuple[list[int] | None, list[int] | None]:
        """The parsed ``(variant_ids, product_ids)``; raises :class:`StoqConfigError` before any request."""
        from stoq_provider.restock import selectors

        owner = f"{type(self).__name__} {self.task_id!r}"
        chosen = selectors.exactly_one(
            owner, shopify_variant_ids=self.shopify_variant_ids, shopify_product_ids=self.shopify_product_ids
        )
        ids = selectors.shopify_ids(getattr(self, chosen), chosen)
        return (ids, None) if chosen == "shopify_variant_ids" else (None, ids)

    def _checked(self) -> tuple[list[int] | None, list[int] | None, int, tuple[str, ...]]:
        from stoq_provider.api import validation
        from stoq_provider.restock.demand import intent_types_arg

        variants, products = self._selection()
        min_pending = validation.positive_int(self.min_pending, "min_pending")
        return variants, products, min_pending, intent_types_arg(self.intent_types)

    # ------------------------------------------------------------------ poke, reschedule

    def poke(self, context: Context) -> PokeReturnValue:
        """Check once whether ``min_pending`` customers wait (cheaply: see :mod:`stoq_provider.restock.waiting`)."""
        from stoq_provider.restock.waiting import check_waiting, describe, run_check

        variants, products, min_pending, types = self._checked()
        from stoq_provider import metrics

        metrics.incr("stoq.sensor.pokes")
        result = run_check(self.hook, check_waiting(variants, products, min_pending, types))
        self.log.info("STOQ: %s (need %d): %s", describe(result), min_pending, result["pending"])
        return PokeReturnValue(
            is_done=result["met"], xcom_value={"pending": result["pending"], "total": result["total"]}
        )

    # ------------------------------------------------------------------ deferrable

    def execute(self, context: Context) -> Any:  # noqa: RET503 - self.defer() raises TaskDeferred, it never returns
        """Poke or reschedule as any sensor; when deferrable, check once and then defer to the trigger."""
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        import time

        from stoq_provider.triggers.intents import StoqPendingIntentsTrigger

        variants, products, min_pending, types = self._checked()
        self.defer(
            trigger=StoqPendingIntentsTrigger(
                stoq_conn_id=self.stoq_conn_id,
                shopify_variant_ids=variants,
                shopify_product_ids=products,
                min_pending=min_pending,
                intent_types=list(types),
                poke_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: return the counts, or raise.

        A ``timeout`` event raises ``AirflowSensorTimeout`` (no retries), an ``error`` event
        :class:`StoqPendingIntentsWaitError`. With ``soft_fail`` either skips the task instead (Airflow's sensor
        resume logic does that).
        """
        payload = event or {}
        status = payload.get("status")
        if status in ("success", "timeout"):
            result = {"pending": dict(payload.get("pending") or {}), "total": int(payload.get("total") or 0)}
            self.log.info("STOQ: %d customers waiting: %s", result["total"], result["pending"])
            if status == "success":
                return result
            from stoq_provider._compat import AirflowSensorTimeout

            message = self._timeout_message()
            self.log.warning("%s%s", message, " Skipping (soft_fail)." if self.soft_fail else "")
            raise AirflowSensorTimeout(message)
        reason = payload.get("message") or "the trigger sent no event"
        raise StoqPendingIntentsWaitError(f"Waiting for STOQ customers failed: {reason}")

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Resume from the triggerer; a deferral timeout fails (or, with ``soft_fail``, skips) with a clear message."""
        from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

        from stoq_provider._compat import AirflowSensorTimeout

        timed_out = (
            next_method == TRIGGER_FAIL_REPR
            and (next_kwargs or {}).get("error") == TriggerFailureReason.TRIGGER_TIMEOUT
        )
        if not timed_out:
            return super().resume_execution(next_method, next_kwargs, context)
        message = self._timeout_message()
        self.log.warning("%s%s", message, " Skipping (soft_fail)." if self.soft_fail else "")
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout as exc:
            raise AirflowSensorTimeout(message) from exc

    def _timeout_message(self) -> str:
        try:
            variants, products, min_pending, _ = self._checked()
        except StoqError:  # pragma: no cover - the arguments were valid when the task deferred
            return f"Timed out after {self.timeout:g} s waiting for STOQ customers."
        name, ids = ("shopify_variant_ids", variants) if variants else ("shopify_product_ids", products)
        shown = ", ".join(map(str, (ids or [])[:10])) + (", ..." if len(ids or []) > 10 else "")
        return (
            f"Timed out after {self.timeout:g} s: {name} [{shown}] never had {min_pending} or more waiting customers."
        )

"""The restock options the operator and the notifier share: stored, templated and validated in one place.

Both classes still list the options in their constructors (Airflow reads an operator's ``__init__`` signature
for ``partial``/``expand`` and for its argument checks), but they store them with :meth:`RestockOptions.
store_restock_options` and turn them into one validated :class:`~stoq_provider.restock.alerts.RestockRequest`
with :meth:`RestockOptions.restock_request`, so that the two validate exactly alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stoq_provider.restock.alerts import RestockRequest

#: The options, in the order the constructors declare them.
OPTION_NAMES: tuple[str, ...] = (
    "intent_ids",
    "shopify_variant_ids",
    "shopify_product_ids",
    "inventory",
    "allow_resend",
    "intent_types",
    "batch_size",
    "on_partial_failure",
    "dry_run",
)
#: The options rendered as Jinja templates (the selectors and the dry-run flag).
TEMPLATE_FIELDS: tuple[str, ...] = ("intent_ids", "shopify_variant_ids", "shopify_product_ids", "inventory", "dry_run")


class RestockOptions:
    """Mixin of :class:`~stoq_provider.operators.notify.StoqNotifyOperator` and
    :class:`~stoq_provider.notifications.stoq.StoqNotifier`."""

    def store_restock_options(self, options: dict[str, Any]) -> None:
        """Keep each option as an attribute (a constructor only stores its arguments)."""
        for name in OPTION_NAMES:
            setattr(self, name, options[name])

    def restock_request(self, owner: str) -> RestockRequest:
        """The options, validated (raises :class:`~stoq_provider.exceptions.StoqConfigError` naming one)."""
        from stoq_provider.restock.alerts import RestockRequest

        return RestockRequest.build(owner, **{name: getattr(self, name) for name in OPTION_NAMES})

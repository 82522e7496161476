"""The restock options the operator and the notifier share: stored, templated and validated in one place.

Both classes still list the options in their constructors (Airflow reads an operator's ``__init__`` signature
for ``partial``/``expand`` and for its argument checks), but they store them with :meth:`RestockOptions.
store_restock_options`, which checks the literal ones at once (at DAG parse time), and turn them into one
validated :class:`~stoq_provider.restock.alerts.RestockRequest` with :meth:`RestockOptions.restock_request` when
they run, so that the two validate exactly alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stoq_provider.restock import selectors

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
#: The options rendered as Jinja templates: all but ``on_partial_failure``, a choice made when writing the DAG.
TEMPLATE_FIELDS: tuple[str, ...] = tuple(name for name in OPTION_NAMES if name != "on_partial_failure")


def deferred_source(value: Any) -> str | None:
    """Where a value will come from when it is known only at run time, in words; ``None`` for a literal.

    An ``XComArg`` (``sync.output``, a ``@task``'s result) is "the upstream task 'sync'"; a string holding
    Jinja is "the template '{{ ... }}'".
    """
    if isinstance(value, str):
        return f"the template {value!r}" if selectors.is_template(value) else None
    references = getattr(value, "iter_references", None)
    if callable(references):
        tasks = list(dict.fromkeys(operator.task_id for operator, _ in references()))
        return "the upstream task " + ", ".join(repr(task) for task in tasks) if tasks else "an upstream value"
    return None


class RestockOptions:
    """Mixin of :class:`~stoq_provider.operators.notify.StoqNotifyOperator` and
    :class:`~stoq_provider.notifications.stoq.StoqNotifier`."""

    #: Per option known only at run time, where it comes from (an upstream task, a template), for messages.
    restock_sources: dict[str, str]

    def store_restock_options(self, options: dict[str, Any], owner: str) -> None:
        """Keep each option as an attribute, and check now those given as literals.

        A literal mistake (``batch_size=0``, two selectors, ``on_partial_failure="ignore"``) then fails when the
        DAG file is parsed, so ``airflow dags list-import-errors`` shows it; a template or an upstream result is
        checked when the task runs, with a message naming where it came from.
        """
        from stoq_provider.restock.alerts import RestockRequest

        for name in OPTION_NAMES:
            setattr(self, name, options[name])
        self.restock_sources = {
            name: source for name in OPTION_NAMES if (source := deferred_source(options[name])) is not None
        }
        RestockRequest.check_literals(owner, self.restock_sources, **{name: options[name] for name in OPTION_NAMES})

    def restock_request(self, owner: str) -> RestockRequest:
        """The options, validated (raises :class:`~stoq_provider.exceptions.StoqConfigError` naming one)."""
        from stoq_provider.restock.alerts import RestockRequest

        return RestockRequest.build(
            owner, getattr(self, "restock_sources", {}), **{name: getattr(self, name) for name in OPTION_NAMES}
        )

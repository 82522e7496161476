"""Restock alerts, from "these variants are back" to one alert per waiting customer: the core of the
operator and the notifier.

A :class:`RestockRequest` is validated before anything is sent. :class:`RestockAlerts` then

1. selects the intents: the given IDs, or the pending intents (``notified=false``) of the given variants or
   products, skipping unsubscribed, customer-unsubscribed, blocked and other-type intents;
2. for an ``inventory`` mapping, keeps per variant the longest-waiting intents whose requested quantities fit
   the units available (see :func:`fit_inventory`);
3. sends them with :meth:`StoqHook.bulk_notify_intents` (exactly once each), logging progress;
4. returns a small JSON summary with counts only (no customer data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from stoq_provider.api import validation
from stoq_provider.exceptions import StoqBulkNotifyInterrupted, StoqConfigError, StoqNotifyPartialFailure
from stoq_provider.restock import selectors

if TYPE_CHECKING:
    from stoq_provider.api.logs import Logger
    from stoq_provider.api.progress import NotifyProgress
    from stoq_provider.api.results import BulkNotifyResult
    from stoq_provider.hooks.stoq import StoqHook

#: Failed ``(intent_id, error)`` pairs kept in a summary; the rest are only counted.
MAX_REPORTED_FAILURES = 50
PARTIAL_FAILURE_POLICIES = ("fail", "warn")
SELECTORS = ("intent_ids", "shopify_variant_ids", "shopify_product_ids", "inventory")
#: Variants whose counts are logged one line each; the rest are summed in one line.
LOGGED_VARIANTS = 20


@dataclass(frozen=True)
class RestockRequest:
    """Validated options of one restock-alert run (see :class:`StoqNotifyOperator` for their meaning)."""

    selector: str
    intent_ids: tuple[str, ...] = ()
    variant_ids: tuple[int, ...] = ()
    product_ids: tuple[int, ...] = ()
    inventory: Mapping[int, int] = field(default_factory=dict)
    allow_resend: bool = False
    intent_types: tuple[str, ...] = ("restock",)
    batch_size: int | None = None
    on_partial_failure: str = "fail"
    dry_run: bool = False

    @classmethod
    def build(cls, owner: str, sources: Mapping[str, str] | None = None, **options: Any) -> RestockRequest:
        """Check every option (raising :class:`StoqConfigError` naming the parameter) and normalise them.

        :param owner: who is asking, for messages (``"StoqNotifyOperator 'alert'"``).
        :param sources: per option that came from an upstream task or a template, where it came from.
        :param options: the nine options of :data:`~stoq_provider.restock.options.OPTION_NAMES`, as rendered.
        """
        sources = sources or {}
        values = {**_DEFAULTS, **options}
        for name, source in sources.items():
            value = values[name]
            if source.startswith("the template") and selectors.is_template(value):
                # Airflow 3.1 leaves a template that rendered to an empty value as it was; 3.2+ sets "".
                values[name] = ""
        selector = selectors.exactly_one(owner, sources, **{name: values[name] for name in SELECTORS})
        checked = {name: _check(name, values[name], sources.get(name)) for name in (selector, *_OTHER_OPTIONS)}
        return cls(
            selector=selector,
            intent_ids=checked.get("intent_ids", ()),
            variant_ids=checked.get("shopify_variant_ids", ()),
            product_ids=checked.get("shopify_product_ids", ()),
            inventory=checked.get("inventory", {}),
            allow_resend=checked["allow_resend"],
            intent_types=checked["intent_types"],
            batch_size=checked["batch_size"],
            on_partial_failure=checked["on_partial_failure"],
            dry_run=checked["dry_run"],
        )

    @staticmethod
    def check_literals(owner: str, sources: Mapping[str, str], **options: Any) -> None:
        """Check now what is known now (at DAG parse time): the choice of selector, and every option given as a
        literal; those in ``sources`` (an upstream task, a template) are checked by :meth:`build` at run time."""
        values = {**_DEFAULTS, **options}
        selectors.exactly_one(owner, sources, **{name: values[name] for name in SELECTORS})
        for name, value in values.items():
            if name not in sources and not (name in SELECTORS and value is None):
                try:
                    _check(name, value, None)
                except StoqConfigError as exc:
                    raise StoqConfigError(f"{owner}: {exc}") from None


#: The options' defaults (those of the operator's and the notifier's constructors).
_DEFAULTS: dict[str, Any] = {
    "intent_ids": None,
    "shopify_variant_ids": None,
    "shopify_product_ids": None,
    "inventory": None,
    "allow_resend": False,
    "intent_types": ("restock",),
    "batch_size": None,
    "on_partial_failure": "fail",
    "dry_run": False,
}
_OTHER_OPTIONS = ("allow_resend", "intent_types", "batch_size", "on_partial_failure", "dry_run")


def _check(name: str, value: Any, source: str | None) -> Any:
    """One option, validated and normalised (``source``: where a run-time value came from, for messages)."""
    if name == "intent_ids":
        return tuple(selectors.intent_ids(value, source=source))
    if name in ("shopify_variant_ids", "shopify_product_ids"):
        return tuple(selectors.shopify_ids(value, name, source))
    if name == "inventory":
        return selectors.inventory(value, source=source)
    if name in ("allow_resend", "dry_run"):
        return _flag(value, name)
    if name == "intent_types":
        return selectors.intent_types(value)
    if name == "batch_size":
        return selectors.batch_size(value)
    if name == "on_partial_failure":
        return validation.choice(value, "on_partial_failure", PARTIAL_FAILURE_POLICIES)
    raise StoqConfigError(f"unknown restock option {name!r}")  # pragma: no cover - names come from OPTION_NAMES


def _flag(value: Any, name: str) -> bool:
    """A boolean option, also from rendered template text (``"True"``/``"false"``); anything else is refused."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no", "", "none"}:
        return False
    raise StoqConfigError(f"{name} must be true or false, got {value!r}.")


_IntentT = TypeVar("_IntentT", bound=Mapping[str, Any])


def fit_inventory(intents: Sequence[_IntentT], units: int) -> tuple[list[_IntentT], int]:
    """Pick the intents one restock of ``units`` can serve, first come first served.

    Intents are taken in order of waiting time (oldest ``created_at`` first, then ID) while the sum of their
    requested ``quantity`` (1 when missing) still fits ``units``. The first one that does not fit stops the
    selection, so nobody who waited longer is passed over by a smaller request. Returns the chosen intents and
    how many were held back for the next restock.
    """
    ordered = sorted(intents, key=lambda i: (str(i.get("created_at") or ""), str(i.get("id"))))
    chosen: list[_IntentT] = []
    used = 0
    for intent in ordered:
        need = _units(intent)
        if used + need > units:
            break
        chosen.append(intent)
        used += need
    return chosen, len(ordered) - len(chosen)


def _units(intent: Mapping[str, Any]) -> int:
    """The units an intent asks for (its ``quantity``; 1 when missing or not a positive whole number)."""
    quantity = intent.get("quantity")
    return quantity if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0 else 1


def _variant_row() -> dict[str, int]:
    return {
        "pending": 0,
        "eligible": 0,
        "skipped": 0,
        "held_back": 0,
        "notified": 0,
        "already_notified": 0,
        "failed": 0,
        "units_sent": 0,
    }


class RestockAlerts:
    """One run of restock alerts.

    :param hook: the hook to list and notify through.
    :param request: the validated options.
    :param logger: where progress goes (IDs and counts only).
    :param first_leg: False for the later legs of a deferrable notify.
    """

    def __init__(self, hook: StoqHook, request: RestockRequest, logger: Logger, *, first_leg: bool = True) -> None:
        self.hook = hook
        self.request = request
        self.log = logger
        #: False in the later legs of a deferrable notify: their selection is not counted again in metrics.
        self.first_leg = first_leg
        #: The intent IDs this run chose (``None`` until the selection is done).
        self.ids: list[str] | None = None
        #: Per chosen intent, the units it asked for (inventory runs: what a sent alert uses up).
        self.units_of: dict[str, int] = {}
        self.per_variant: dict[str, dict[str, int]] = {}
        self.variant_of: dict[str, str] = {}
        self.skipped = 0
        self.held_back = 0
        #: Per variant, the intent IDs as STOQ listed them (skipped ones included): makes read-backs cheap.
        self.listings: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ selection

    def select(self) -> list[str]:
        """The intent IDs to notify, in order; fills the per-variant counts."""
        request = self.request
        if request.selector == "intent_ids":
            return list(request.intent_ids)
        chosen: list[str] = []
        if request.selector == "shopify_product_ids":
            groups: dict[int, list[dict[str, Any]]] = {}
            for product in request.product_ids:
                for intent in self._listing(shopify_product_id=product):
                    groups.setdefault(int(intent.get("shopify_variant_id") or 0), []).append(intent)
        else:
            variants = request.variant_ids or tuple(request.inventory)
            groups = {variant: list(self._listing(shopify_variant_id=variant)) for variant in variants}
        for variant, intents in groups.items():
            self.listings[str(variant)] = [str(intent["id"]) for intent in intents]
            row = self.per_variant.setdefault(str(variant), _variant_row())
            eligible = [i for i in intents if self._eligible(i)]
            row["pending"], row["eligible"] = len(intents), len(eligible)
            row["skipped"] = len(intents) - len(eligible)
            self.skipped += row["skipped"]
            if request.selector == "inventory":
                eligible, row["held_back"] = fit_inventory(eligible, request.inventory[variant])
                row["eligible"] = len(eligible)
                self.held_back += row["held_back"]
            for intent in eligible:
                self.variant_of[str(intent["id"])] = str(variant)
                self.units_of[str(intent["id"])] = _units(intent)
                chosen.append(str(intent["id"]))
        return chosen

    def _listing(
        self, *, shopify_variant_id: int | None = None, shopify_product_id: int | None = None
    ) -> Iterable[dict[str, Any]]:
        # With allow_resend the caller wants already-alerted customers too; otherwise only pending ones.
        notified = None if self.request.allow_resend else False
        return self.hook.list_intents(
            shopify_variant_id=shopify_variant_id, shopify_product_id=shopify_product_id, notified=notified
        )

    def _eligible(self, intent: Mapping[str, Any]) -> bool:
        from stoq_provider.api.contract import is_pending

        if self.request.allow_resend:  # already-alerted customers count too; opted-out ones never do
            intent = {**intent, "notified_at": None}
        return is_pending(intent, self.request.intent_types)

    # ------------------------------------------------------------------ sending

    def run(self) -> dict[str, Any]:
        """Select, send and summarise; raises :class:`StoqNotifyPartialFailure` per ``on_partial_failure``."""
        ids = self.ids = self.select()
        variants = len(self.per_variant)
        self.log.info(
            "STOQ restock alerts: %d intents to notify, %d skipped (unsubscribed, blocked or other type), "
            "%d held back by inventory, over %d variant%s%s.",
            len(ids),
            self.skipped,
            self.held_back,
            variants,
            "" if variants == 1 else "s",
            " (dry run: nothing is sent)" if self.request.dry_run else "",
        )
        self._log_variants()
        if self.request.dry_run or not ids:
            return self._closing(self._summary(len(ids), None))
        progress = self._progress(len(ids))
        try:
            result = self.hook.bulk_notify_intents(
                ids,
                allow_resend=self.request.allow_resend,
                batch_size=self.request.batch_size,
                progress=progress,
                listings=self.listings,
            )
        except StoqBulkNotifyInterrupted as exc:
            progress.finish(exc.result)
            summary = self._summary(len(ids), exc.result, interrupted=str(exc))
            raise StoqNotifyPartialFailure(str(exc), summary=summary) from None
        progress.finish(result)
        summary = self._summary(len(ids), result)
        if result.failed:
            message = (
                f"STOQ restock alerts: {summary['failed']} of {summary['requested']} intents failed "
                f"({summary['notified']} notified, {summary['already_notified']} already notified). "
                f"First failures: {summary['failures'][:5]}. Everything else was sent. STOQ's reasons say "
                "whether waiting helps: a retry sends only what is still pending, but intents STOQ refuses "
                "(unknown, unsubscribed, blocked) will fail again; drop them from intent_ids or use "
                "on_partial_failure='warn'."
            )
            if self.request.on_partial_failure == "fail":
                raise StoqNotifyPartialFailure(message, summary=summary)
            self.log.warning("%s (on_partial_failure='warn': not failing the task)", message)
        return self._closing(summary)

    def _closing(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Log the run's outcome in one line (the operator's and the notifier's last word) and return it."""
        self.log.info(
            "STOQ restock alerts done%s: %d %s, %d already notified, %d skipped, %d held back, %d failed.",
            " (dry run)" if self.request.dry_run else "",
            summary["would_notify"] if self.request.dry_run else summary["notified"],
            "would be notified" if self.request.dry_run else "notified",
            summary["already_notified"],
            summary["skipped"],
            summary["held_back"],
            summary["failed"],
        )
        return summary

    def _log_variants(self) -> None:
        """One line per variant (the first ``LOGGED_VARIANTS``): its counts, never customer data."""
        rows = list(self.per_variant.items())
        for variant, row in rows[:LOGGED_VARIANTS]:
            self.log.info(
                "  variant %s: %d pending, %d to notify, %d skipped, %d held back.",
                variant,
                row["pending"],
                row["eligible"],
                row["skipped"],
                row["held_back"],
            )
        if len(rows) > LOGGED_VARIANTS:
            rest = [row for _, row in rows[LOGGED_VARIANTS:]]
            self.log.info(
                "  and %d more variants: %d pending, %d to notify.",
                len(rest),
                sum(row["pending"] for row in rest),
                sum(row["eligible"] for row in rest),
            )

    def _progress(self, total: int) -> NotifyProgress:
        from stoq_provider.api.progress import NotifyProgress

        hook = self.hook
        return NotifyProgress(total, self.log, usage=lambda: hook.usage, budget=lambda: hook.budget)

    def _summary(
        self, requested: int, result: BulkNotifyResult | None, *, interrupted: str | None = None
    ) -> dict[str, Any]:
        outcome: dict[str, list[str]] = {"notified": [], "already_notified": [], "failed": []}
        if result is not None:
            outcome = {
                "notified": result.sent,
                "already_notified": result.already_notified,
                "failed": [iid for iid, _ in result.failed],
            }
            for key, ids in outcome.items():
                for iid in ids:
                    variant = self.variant_of.get(iid)
                    if variant is not None:
                        self.per_variant[variant][key] += 1
                        if key != "failed":  # the customer was alerted: the units are spoken for
                            self.per_variant[variant]["units_sent"] += self.units_of.get(iid, 1)
        failures = [{"intent_id": iid, "error": error} for iid, error in (result.failed if result else [])]
        summary: dict[str, Any] = {
            "selector": self.request.selector,
            "dry_run": self.request.dry_run,
            "requested": requested,
            "notified": len(outcome["notified"]),
            "already_notified": len(outcome["already_notified"]),
            "skipped": self.skipped,
            "held_back": self.held_back,
            "failed": len(outcome["failed"]),
            "read_backs": result.read_requests if result is not None else 0,
            "per_variant": self.per_variant,
            "failures": failures[:MAX_REPORTED_FAILURES],
            "failures_truncated": len(failures) > MAX_REPORTED_FAILURES,
        }
        if self.request.dry_run:
            summary["would_notify"] = requested
        if interrupted:
            summary["interrupted"] = True
            summary["not_handled"] = requested - (result.handled if result else 0)
        from stoq_provider import metrics

        metrics.restock_outcome(summary, selection=self.first_leg)
        return summary

    def leg(self, result: BulkNotifyResult | None, deferred_for: float) -> dict[str, Any]:
        """The summary of a leg that stops for a long budget wait (a deferrable notify defers after it)."""
        if self.ids is None:  # stopped while selecting: the next leg selects again
            leg: dict[str, Any] = {"selected": False, "requested": 0, "per_variant": {}}
        else:
            leg = self._summary(len(self.ids), result)
        handled = [*result.sent, *result.already_notified, *(iid for iid, _ in result.failed)] if result else []
        if self.request.selector == "intent_ids":
            leg["handled_ids"] = handled
        leg.update(deferred=True, deferred_for=round(deferred_for, 1))
        self.log.info(
            "STOQ restock alerts: %d of %d handled in this leg; the store's budget asks for a %.0f s wait, so the "
            "task defers instead of sleeping in its worker.",
            len(handled),
            len(self.ids or ()),
            deferred_for,
        )
        return leg

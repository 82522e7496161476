"""An ``AssetWatcher`` trigger: start DAGs when customers sign up for restock alerts (STOQ has no webhooks)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

if TYPE_CHECKING:
    from stoq_provider.restock.signups import SignupRound, SignupWatch

#: The shortest poll interval accepted (seconds).
MIN_POKE_INTERVAL = 0.1
#: The asset state store key prefix of a watcher's watermark (Airflow 3.3+).
STATE_KEY_PREFIX = "stoq_demand_watermark"


class StoqDemandEventTrigger(BaseEventTrigger):
    """Fire an event each time at least ``min_new`` customers have newly signed up on what it watches.

    For event-driven scheduling: give it to an ``AssetWatcher`` and schedule a DAG on the asset. STOQ has no
    webhooks, so the trigger polls from the triggerer: each round lists the store's unsent signups of the last
    day or two (:mod:`stoq_provider.restock.signups` says why that window), usually one page (one budget point),
    and compares them with what it has seen.

    * Its first round sets the baseline: customers waiting then are not news.
    * After that it yields an event whenever at least ``min_new`` waiting signups (opted-out, blocked and
      other-type signups never count) that it has not reported appear on the watched variants or products (none
      given: the whole store). It never reports a signup twice, yields nothing while nothing new happens, and
      keeps polling after each event. The event's JSON payload: ``new`` (new signups per variant),
      ``new_total``, ``new_intent_ids`` (the first 1,000, oldest first), ``new_intent_ids_by_variant`` (the same
      IDs per variant), ``pending`` (customers waiting now on each of those
      variants), ``total`` (their sum) and ``polled_at``.
    * On Airflow 3.3+ the watchers of one connection with the same ``poke_interval`` share one poll round in a
      triggerer, and each keeps its watermark in the asset state store: a triggerer restart neither re-reports
      nor loses signups (those that arrived while it was down are reported on its first round). On 3.1 and 3.2
      each watcher polls on its own and keeps its watermark in memory: after a restart the first round is a new
      baseline, so signups that arrived while the triggerer was down are not reported (they still wait in STOQ;
      a scheduled alert DAG reaches them).
    * Faults never end the watch: a round that fails (STOQ down after the transport's retries, a revoked key,
      an unreadable answer) is logged, without the API key or contact data, and the next round tries again,
      re-reading the connection after an authentication or configuration error. Signups are never lost to a
      failed round: what was not reported stays new.

    The keyword arguments are validated when the trigger is built (in the DAG file: a bad one fails the DAG's
    import) and stored in a canonical, JSON-only form, so Airflow identifies the watcher by a stable hash.

    :param stoq_conn_id: the STOQ connection.
    :param shopify_variant_ids: Shopify variants to watch.
    :param shopify_product_ids: Shopify products to watch (with ``shopify_variant_ids``: either matches).
    :param min_new: new waiting signups needed for an event (at least 1).
    :param intent_types: intent types that count (``restock``, ``wishlist_reminder``).
    :param poke_interval: seconds between poll rounds (at least 0.1; each round costs at least one budget point).

    Usage::

        from airflow.sdk import Asset, AssetWatcher

        signups = Asset(
            "stoq://my-shop/signups",
            watchers=[AssetWatcher(name="stoq_signups", trigger=StoqDemandEventTrigger(min_new=5))],
        )
    """

    def __init__(
        self,
        *,
        stoq_conn_id: str = "stoq_default",
        shopify_variant_ids: Sequence[int] | None = None,
        shopify_product_ids: Sequence[int] | None = None,
        min_new: int = 1,
        intent_types: Sequence[str] = ("restock",),
        poke_interval: float = 60.0,
    ) -> None:
        super().__init__()
        from stoq_provider.api import validation
        from stoq_provider.exceptions import StoqConfigError

        if not isinstance(stoq_conn_id, str) or not stoq_conn_id.strip():
            raise StoqConfigError(f"stoq_conn_id must be a connection ID, got {stoq_conn_id!r}.")
        self.stoq_conn_id = stoq_conn_id
        self.shopify_variant_ids = _ids(shopify_variant_ids, "shopify_variant_ids")
        self.shopify_product_ids = _ids(shopify_product_ids, "shopify_product_ids")
        self.min_new = validation.positive_int(min_new, "min_new")
        self.intent_types = sorted(validation.intent_types(intent_types))
        if isinstance(poke_interval, bool) or not isinstance(poke_interval, (int, float)):
            raise StoqConfigError(f"poke_interval must be a number of seconds, got {poke_interval!r}.")
        if not poke_interval >= MIN_POKE_INTERVAL:  # also refuses NaN
            raise StoqConfigError(f"poke_interval must be at least {MIN_POKE_INTERVAL:g} s, got {poke_interval!r}.")
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The classpath and canonical JSON keyword arguments (sorted IDs and types: a stable watcher hash)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "stoq_conn_id": self.stoq_conn_id,
                "shopify_variant_ids": self.shopify_variant_ids,
                "shopify_product_ids": self.shopify_product_ids,
                "min_new": self.min_new,
                "intent_types": self.intent_types,
                "poke_interval": self.poke_interval,
            },
        )

    # ------------------------------------------------------------------ one shared poll per store (3.3+)

    def shared_stream_key(self) -> Hashable | None:
        """Watchers of one connection polling at one interval share a poll round (Airflow 3.3+)."""
        return (f"{type(self).__module__}.{type(self).__qualname__}", self.stoq_conn_id, self.poke_interval)

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """The store's poll rounds (:class:`~stoq_provider.restock.signups.SignupRound`), forever."""
        from stoq_provider.triggers.signup_rounds import poll_rounds

        async for signup_round in poll_rounds(kwargs["stoq_conn_id"], float(kwargs["poke_interval"])):
            yield signup_round

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """This watcher's events from the store's poll rounds."""
        from stoq_provider import metrics
        from stoq_provider.restock.signups import SignupWatch

        watch = SignupWatch(
            variant_ids=frozenset(self.shopify_variant_ids or ()),
            product_ids=frozenset(self.shopify_product_ids or ()),
            intent_types=tuple(self.intent_types),
        )
        await self._restore(watch)
        async for signup_round in shared_stream:
            payload = await self._look(watch, signup_round)
            if payload is not None:
                metrics.incr("stoq.watcher.events")
                yield TriggerEvent(payload)
            await self._save(watch)  # after the event is handed over: at worst it is reported again, never lost

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll on its own (Airflow 3.1 and 3.2, or where the triggerer does not share streams)."""
        from stoq_provider.triggers.signup_rounds import poll_rounds

        async for event in self.filter_shared_stream(poll_rounds(self.stoq_conn_id, self.poke_interval, self.log)):
            yield event

    # ------------------------------------------------------------------ one round

    async def _look(self, watch: SignupWatch, signup_round: SignupRound) -> dict[str, Any] | None:
        from stoq_provider.exceptions import StoqError
        from stoq_provider.restock.signups import event_payload, variants_of

        if not watch.started:
            waiting = [intent for intent in signup_round.intents if watch.watches(intent)]
            watch.mark_seen(waiting)
            watch.finish_round(signup_round.polled_at, signup_round.since)
            self.log.info("STOQ signups: baseline set, %d waiting signups are not news.", len(waiting))
            return None
        intents = signup_round.intents
        try:
            since = watch.window(signup_round.polled_at, self.poke_interval)
            if since < signup_round.since:  # back after a long pause, or news held for days: list from there
                intents = await signup_round.list_since(since)
            since = min(since, signup_round.since)  # what this round listed: IDs seen since then are kept
            news = watch.fresh(intents)
            if len(news) < self.min_new:
                watch.hold(news)
                watch.finish_round(signup_round.polled_at, since)
                self.log.info("STOQ signups: %d new (an event needs %d).", len(news), self.min_new)
                return None
            variants = variants_of(news)
            types = tuple(self.intent_types)
            pending = {variant: await signup_round.count_waiting(variant, types) for variant in variants}
        except StoqError as exc:  # nothing is marked seen: the same signups are news next round
            self.log.warning("STOQ signups: this round is skipped, STOQ could not be read: %s", exc)
            return None
        payload = event_payload(news, pending, signup_round.polled_at)
        watch.mark_seen(news)
        watch.hold([])
        watch.finish_round(signup_round.polled_at, since)
        shown = ", ".join(payload["new_intent_ids"][:20])
        self.log.info(
            "STOQ signups: %d new on %d variants (intents %s%s).",
            len(news),
            len(variants),
            shown,
            ", ..." if len(news) > 20 else "",
        )
        return payload

    # ------------------------------------------------------------------ the watermark (3.3+: asset state store)

    def state_key(self) -> str:
        """The watermark's key in the asset state store (the watch's identity, not its poll interval)."""
        identity = {k: v for k, v in self.serialize()[1].items() if k != "poke_interval"}
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        return f"{STATE_KEY_PREFIX}:{digest}"

    async def _restore(self, watch: SignupWatch) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return
        try:
            state = await store.aget(self.state_key())
        except Exception as exc:  # no store to read (several assets, an old triggerer): keep it in memory
            self.log.warning("STOQ signups: no watermark read (%s); the first round sets a baseline.", exc)
            return
        if state is not None and watch.load(state):
            self.log.info(
                "STOQ signups: resuming from the watermark of %s (%d signups seen).",
                watch.last_poll.isoformat() if watch.last_poll else "?",
                len(watch.seen),
            )

    async def _save(self, watch: SignupWatch) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None or not watch.started:
            return
        try:
            await store.aset(self.state_key(), watch.dump())
        except Exception as exc:
            self.log.warning("STOQ signups: the watermark was not saved (%s); it is kept in memory.", exc)


def _ids(values: Sequence[int] | None, name: str) -> list[int] | None:
    """Validated Shopify IDs, sorted and de-duplicated (``None`` for none)."""
    from stoq_provider.api import validation
    from stoq_provider.exceptions import StoqConfigError

    if values is None:
        return None
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise StoqConfigError(f"{name} must be a list of Shopify IDs, got {values!r}.")
    ids = sorted({validation.shopify_id(value, name) for value in values})
    if not ids:
        raise StoqConfigError(f"{name} is empty: give at least one ID, or None to watch the whole store.")
    return ids

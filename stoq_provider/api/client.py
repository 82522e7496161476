"""The synchronous STOQ client: every documented v1 endpoint, paced, retried when safe, free of Airflow.

:class:`~stoq_provider.hooks.stoq.StoqHook` is this client with its settings read from an Airflow connection
and secrets registered with Airflow's masker; the methods, their checks and their docs live here, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from stoq_provider.api import contract, validation
from stoq_provider.api.contract import MAX_BATCH_SIZE, MAX_PER_PAGE
from stoq_provider.exceptions import StoqConfigError, StoqError, StoqNotFoundError, StoqRequestError

if TYPE_CHECKING:
    from stoq_provider.api.contract import ApiRequest
    from stoq_provider.api.logs import Logger
    from stoq_provider.api.ratelimit import RateBudget
    from stoq_provider.api.results import BulkNotifyResult
    from stoq_provider.api.settings import StoqSettings
    from stoq_provider.api.transport.policy import TransportUsage, UsageObserver
    from stoq_provider.api.transport.sync import SyncTransport


class BaseStoqClient:
    """Every documented STOQ v1 endpoint, given ``settings`` and ``log``: what :class:`StoqClient` and
    :class:`~stoq_provider.hooks.stoq.StoqHook` share (the hook reads the settings from its connection).

    Every request has a connect and read timeout and is paced by the store's rate budget as STOQ reports it
    in its ``X-RateLimit-*`` headers. A ``429`` is waited out and retried. Reads are retried after server
    errors, proxy error pages, dropped connections and timeouts. Writes are never retried blindly: after an
    ambiguous notify failure the client re-checks ``notified_at`` and sends only what is still unsent, never
    with ``allow_resend=True``.
    """

    @property
    def settings(self) -> StoqSettings:
        """The validated settings requests are sent with."""
        raise NotImplementedError

    @property
    def log(self) -> Logger:
        """Where progress goes (intent IDs and counts only)."""
        raise NotImplementedError

    #: The page size STOQ says it serves (``meta.per_page`` of the latest intents page), once seen.
    served_per_page: int | None = None
    _defer_waits_over: float | None = None

    @property
    def defer_waits_over(self) -> float | None:
        """Budget waits longer than this many seconds raise :class:`~stoq_provider.exceptions.StoqBudgetWait`
        instead of being slept (a deferrable notify sets it; ``None``, the default: always sleep)."""
        return self._defer_waits_over

    @defer_waits_over.setter
    def defer_waits_over(self, seconds: float | None) -> None:
        self._defer_waits_over = seconds
        if "transport" in vars(self):  # already built: it follows
            self.transport.policy.defer_over = seconds

    def mask_secret(self, value: str) -> None:
        """Called with the customer's e-mail or phone before a request carries it (the hook masks it in logs)."""

    @cached_property
    def transport(self) -> SyncTransport:
        """The HTTP transport (one ``requests.Session`` reused for every call)."""
        from stoq_provider.api.redaction import install_query_filter
        from stoq_provider.api.transport.sync import SyncTransport

        install_query_filter()
        return SyncTransport(self.settings, self.log, observer=self.usage_observer(), defer_over=self.defer_waits_over)

    def usage_observer(self) -> UsageObserver | None:
        """Told of each amount the transport spends (requests, points, 429s, waits); the hooks report metrics."""
        return None

    @property
    def usage(self) -> TransportUsage:
        """What this client has spent so far: requests, rate-budget points, seconds waited for the budget."""
        return self.transport.policy.usage

    @property
    def budget(self) -> RateBudget:
        """The store's rate budget as STOQ's answers told it (shared by the clients of this process)."""
        return self.transport.policy.budget

    def send(self, request: ApiRequest) -> Any:
        """Send one request of :mod:`stoq_provider.api.contract` (paced, retried if a read) and return its JSON."""
        return self.transport.send(request)

    # ------------------------------------------------------------------ reads

    def list_intents(
        self,
        *,
        shopify_variant_id: int | str | None = None,
        shopify_product_id: int | str | None = None,
        email: str | None = None,
        phone: str | None = None,
        start_date: Any = None,
        end_date: Any = None,
        notified: bool | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Stream every intent matching the filters, page by page (asking 500 per page, the API's maximum).

        Paging follows what STOQ says it served (``meta``, ``has_next_page``), whatever page size it really
        uses; a listing that comes out shorter than STOQ's own ``total_count`` is listed once more, then
        raises :class:`~stoq_provider.exceptions.StoqProtocolError`. Pages are fetched lazily as you iterate.
        If you change the matching intents while iterating (for example notify them while listing
        ``notified=False``), collect the IDs first: the pages would shift.

        :param shopify_variant_id: only intents for this Shopify variant.
        :param shopify_product_id: only intents for this Shopify product.
        :param email: only this customer's intents (never logged).
        :param phone: only this customer's intents (never logged).
        :param start_date: created on or after this day (``date``, ``datetime``, pendulum or ``YYYY-MM-DD``).
        :param end_date: created on or before this day.
        :param notified: ``False`` for intents not yet sent, ``True`` for sent ones, ``None`` for all.
        """
        filters = validation.intent_filters(
            shopify_variant_id=shopify_variant_id,
            shopify_product_id=shopify_product_id,
            email=email,
            phone=phone,
            start_date=start_date,
            end_date=end_date,
            notified=notified,
            mask=self.mask_secret,
        )
        return self._intent_pages(filters)

    def _intent_pages(self, filters: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        from stoq_provider.api.paging import Listing, intent_key

        listing = Listing("list_intents", "intents", key=intent_key, asked=MAX_PER_PAGE, log=self.log)
        while listing.next_page():
            body = self.send(contract.list_intents(filters, page=listing.page))
            fresh = listing.take(*contract.parse_intents_page(body))
            self.served_per_page = listing.served_per_page or self.served_per_page
            yield from fresh

    def list_alertable_intents(
        self,
        *,
        shopify_variant_id: int | str | None = None,
        shopify_product_id: int | str | None = None,
        intent_types: Iterable[str] = contract.DEFAULT_INTENT_TYPES,
    ) -> Iterator[dict[str, Any]]:
        """Stream the intents a restock alert may reach now: never notified, subscribed, not blocked, of one of
        ``intent_types``. The rule :class:`~stoq_provider.operators.notify.StoqNotifyOperator` applies; hand
        the IDs to :meth:`bulk_notify_intents` and no refusal for an opted-out customer comes back.

        :param shopify_variant_id: only intents for this Shopify variant.
        :param shopify_product_id: only intents for this Shopify product.
        :param intent_types: intent types to include (``restock``; add ``wishlist_reminder`` for those).
        """
        types = validation.intent_types(intent_types)
        listed = self.list_intents(
            shopify_variant_id=shopify_variant_id, shopify_product_id=shopify_product_id, notified=False
        )
        return (intent for intent in listed if contract.is_pending(intent, types))

    def get_intent(self, intent_id: str) -> dict[str, Any]:
        """Fetch one intent by its ID; raises :class:`StoqNotFoundError` if STOQ does not know it.

        :param intent_id: the intent's STOQ ID.
        """
        return contract.parse_intent(self.send(contract.get_intent(validation.intent_id(intent_id))))

    def products_in_demand(self, *, start_date: Any = None, end_date: Any = None) -> Iterator[dict[str, Any]]:
        """Stream the variants customers are waiting for, with ``total`` and ``pending`` signup counts.

        :param start_date: count signups created on or after this day.
        :param end_date: count signups created on or before this day.
        """
        start, end = validation.date_range(start_date, end_date)
        return self._demand_pages(start, end)

    def _demand_pages(self, start: str | None, end: str | None) -> Iterator[dict[str, Any]]:
        from stoq_provider.api.paging import Listing, variant_key

        listing = Listing("products_in_demand", "variants", key=variant_key, asked=MAX_PER_PAGE, log=self.log)
        while listing.next_page():
            body = self.send(contract.products_in_demand(start_date=start, end_date=end, page=listing.page))
            yield from listing.take(*contract.parse_demand_page(body))

    def test_connection(self) -> tuple[bool, str]:
        """Check the key with one cheap request (a one-intent page); used by the UI's Test button."""
        try:
            body = self.send(contract.list_intents({}, page=1, per_page=1))
            _, meta, _ = contract.parse_intents_page(body)
        except StoqError as exc:
            return False, str(exc)
        except Exception as exc:  # the UI wants a message, not a traceback
            return False, f"Unexpected error: {type(exc).__name__}"
        total = meta.get("total_count", "?")
        return True, f"Connected to STOQ at {self.settings.base_url}; the store has {total} intents."

    # ------------------------------------------------------------------ notify

    def notify_intent(self, intent_id: str, *, allow_resend: bool = False) -> dict[str, Any]:
        """Alert the customer of one intent.

        Returns ``{"success": True, "intent_id": ..., "already_notified": bool}``. When STOQ refuses because
        the intent was already notified and ``allow_resend`` is False, that counts as done, not as a failure.

        :param intent_id: the intent's STOQ ID.
        :param allow_resend: alert again even if the customer was already alerted for this intent.
        """
        from stoq_provider.api.delivery import NotifyRunner

        iid = validation.intent_id(intent_id)
        result = NotifyRunner(self, allow_resend=bool(allow_resend), single=True).run([iid])
        if result.failed:
            raise StoqRequestError(
                f"STOQ did not notify intent {iid}: {result.failed[0][1]}. Check the intent with get_intent (a "
                "blocked or unsubscribed customer is refused every time); repeating the call fails the same way.",
                status_code=422,
            )
        return {"success": True, "intent_id": iid, "already_notified": iid in result.already_notified}

    def bulk_notify_intents(
        self,
        intent_ids: Iterable[str],
        *,
        allow_resend: bool = False,
        batch_size: int | None = None,
        progress: Callable[[BulkNotifyResult], None] | None = None,
        listings: Mapping[Any, Sequence[str]] | None = None,
    ) -> BulkNotifyResult:
        """Alert the customers of many intents, in batches, exactly once each.

        Handles ``200`` and ``207`` answers. After an ambiguous failure (timeout, dropped connection, 5xx) the
        batch is read back and only the unsent rest is sent again, with ``allow_resend`` False. A refusal whose
        reason is not recognised is settled from the intent's own state. If the run has to stop (outage, key
        revoked), :class:`~stoq_provider.exceptions.StoqBulkNotifyInterrupted` carries the partial result;
        running again sends only what is still pending.

        Reading back costs one point per intent, unless ``listings`` says where the IDs were listed: then it
        reads a few pages of each variant's pending listing instead (about one point per 500 intents).

        :param intent_ids: STOQ intent IDs (duplicates are dropped).
        :param allow_resend: alert again customers already alerted for these intents.
        :param batch_size: IDs per request (default: the connection's ``batch_size`` extra, else 1000); if STOQ
            refuses that many (``400``, or a proxy's ``413``), batches shrink to the largest size it accepts.
        :param progress: called with the running result after each batch.
        :param listings: per Shopify variant, the IDs ``list_intents(shopify_variant_id=..., notified=False)``
            listed, in its order (skipped ones included), e.g. ``{40000000001: [intent["id"] for intent in
            listed]}``. Optional; it only makes read-backs cheaper.
        """
        from stoq_provider.api.delivery import NotifyRunner

        ids = validation.intent_ids(intent_ids)
        size = (
            self.settings.batch_size
            if batch_size is None
            else validation.positive_int(batch_size, "batch_size", maximum=MAX_BATCH_SIZE)
        )
        runner = NotifyRunner(
            self, allow_resend=bool(allow_resend), batch_size=size, progress=progress, listings=listings
        )
        result = runner.run(ids)
        self.log.info("STOQ bulk notify finished: %s.", result)
        return result

    # ------------------------------------------------------------------ other writes

    def delete_intents(self, intent_ids: Iterable[str]) -> int:
        """Delete intents that were never sent; returns how many STOQ deleted.

        All or nothing: if any ID was already sent, STOQ deletes none and this raises
        :class:`StoqRequestError` naming the sent IDs.

        :param intent_ids: STOQ intent IDs.
        """
        try:
            body = self.send(contract.bulk_destroy(validation.intent_ids(intent_ids)))
        except StoqRequestError as exc:
            if exc.status_code != 422:
                raise
            raise contract.already_sent_error(exc) from None
        count = contract.parse_deleted_count(body)
        self.log.info("STOQ deleted %d unsent intents.", count)
        return count

    def transfer_signups(
        self,
        *,
        from_variant_id: int | str,
        from_product_id: int | str,
        to_variant_id: int | str,
        to_product_id: int | str,
        intent_type: str = "unsent",
    ) -> None:
        """Move signups from one variant to another (e.g. after a product was re-created in Shopify).

        :param from_variant_id: Shopify variant the signups are on now.
        :param from_product_id: Shopify product of that variant.
        :param to_variant_id: Shopify variant to move them to.
        :param to_product_id: Shopify product of the target variant.
        :param intent_type: ``unsent`` (default), ``sent`` or ``all``.
        """
        request = contract.transfer_signups(
            from_variant_id=validation.shopify_id(from_variant_id, "from_variant_id"),
            from_product_id=validation.shopify_id(from_product_id, "from_product_id"),
            to_variant_id=validation.shopify_id(to_variant_id, "to_variant_id"),
            to_product_id=validation.shopify_id(to_product_id, "to_product_id"),
            intent_type=validation.choice(intent_type, "intent_type", validation.TRANSFER_TYPES),
        )
        self.send(request)
        self.log.info(
            "STOQ transferred %s signups to variant %s.", intent_type, request.json_body["to_shopify_variant_id"]
        )

    def create_intent(
        self,
        *,
        shopify_variant_id: int | str,
        shopify_product_id: int | str,
        channel: str = "email",
        quantity: int = 1,
        email: str | None = None,
        phone: str | None = None,
        shopify_market_id: int | str | None = None,
        source: str = "api",
        customer: Mapping[str, Any] | None = None,
        product: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Sign a customer up for a restock alert through STOQ's public storefront endpoint.

        Uses the settings' ``shop_domain`` (the connection's extra) and no API key. A ``200`` that carries
        ``errors`` is raised as :class:`StoqRequestError`. Not retried: a timeout leaves the outcome unknown
        (check with :meth:`list_intents`).

        :param shopify_variant_id: the variant to watch.
        :param shopify_product_id: its product.
        :param channel: ``email``, ``sms`` or ``push``.
        :param quantity: units the customer wants.
        :param email: the customer's e-mail (required for the e-mail channel; never logged).
        :param phone: the customer's phone, digits only (required for SMS; never logged).
        :param shopify_market_id: the Shopify market, if the store uses markets.
        :param source: where the signup comes from (``api``).
        :param customer: other customer fields (``name``, ``locale``, ``accepts_marketing``...).
        :param product: optional product fields (``title``, ``sku``...).
        """
        body = validation.signup_body(
            shopify_variant_id=shopify_variant_id,
            shopify_product_id=shopify_product_id,
            channel=channel,
            quantity=quantity,
            email=email,
            phone=phone,
            shopify_market_id=shopify_market_id,
            source=source,
            customer=customer,
            product=product,
            mask=self.mask_secret,
        )
        shop_domain = self.settings.shop_domain
        if not shop_domain:
            raise StoqConfigError(
                f"create_intent needs the 'shop_domain' extra (e.g. 'my-store.myshopify.com') on connection "
                f"{self.settings.conn_id!r}."
            )
        variant = body["intent"]["shopify_variant_id"]
        try:
            answer = self.send(contract.create_intent(self.settings.public_intents_url, shop_domain, body))
        except StoqNotFoundError:
            raise StoqNotFoundError(
                "STOQ answered 404 to create_intent: it does not know the shop domain "
                f"{shop_domain!r} or the variant {variant}. Check both.",
                status_code=404,
            ) from None
        created = contract.parse_created_intent(answer, secrets=(email, phone))
        self.log.info("STOQ created an intent for variant %s.", variant)
        return created


class StoqClient(BaseStoqClient):
    """Talk to the STOQ back-in-stock API with the given settings, outside Airflow.

    :param settings: the validated settings (API key, base URL, timeouts, retries, batch size).
    :param log: where progress goes (intent IDs and counts only); default: this module's logger.

    Usage::

        from stoq_provider.api.settings import StoqSettings

        client = StoqClient(StoqSettings(api_key="stoq_api_key_..."))
        pending = [i["id"] for i in client.list_intents(shopify_variant_id=40000000001, notified=False)]
        print(client.bulk_notify_intents(pending).to_dict()["sent_count"])

    In a DAG, use :class:`~stoq_provider.hooks.stoq.StoqHook`: the same methods, with the key in a connection.
    """

    def __init__(self, settings: StoqSettings, *, log: Logger | None = None) -> None:
        self._settings = settings
        self._log = log or logging.getLogger(__name__)

    @property
    def settings(self) -> StoqSettings:
        """The settings given."""
        return self._settings

    @property
    def log(self) -> Logger:
        """The logger given, else this module's."""
        return self._log

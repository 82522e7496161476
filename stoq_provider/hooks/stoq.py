"""The STOQ hook: every documented STOQ v1 endpoint, paced to the store's rate budget and safe to retry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from stoq_provider.api import contract, validation
from stoq_provider.api.contract import MAX_BATCH_SIZE, MAX_PER_PAGE
from stoq_provider.api.results import BulkNotifyResult
from stoq_provider.api.settings import StoqSettings
from stoq_provider.exceptions import (
    StoqBulkNotifyInterrupted,
    StoqConfigError,
    StoqError,
    StoqNotFoundError,
    StoqRequestError,
)
from stoq_provider.hooks.connection import mask_secret, missing_connection

if TYPE_CHECKING:
    import requests

    from stoq_provider.api.contract import ApiRequest
    from stoq_provider.api.transport.sync import SyncTransport

_CHANNELS = ("email", "sms", "push")
_TRANSFER_TYPES = ("unsent", "sent", "all")


class StoqHook(BaseHook):
    """Talk to the STOQ back-in-stock API with an API key kept in an Airflow connection.

    Every request has a connect and read timeout and is paced by the store's rate budget as STOQ reports it
    in its ``X-RateLimit-*`` headers (shared by every task using the store). A ``429`` is waited out and
    retried. Reads are retried after server errors, proxy error pages, dropped connections and timeouts.
    Writes are never retried blindly: after an ambiguous notify failure the hook re-checks ``notified_at``
    and sends only what is still unsent, never with ``allow_resend=True``.

    :param stoq_conn_id: the Airflow connection holding the API key (password) and optional base URL (host).
    :param logger_name: name of the logger to use instead of the default hook logger.

    Usage::

        hook = StoqHook(stoq_conn_id="stoq_default")
        pending = [i["id"] for i in hook.list_intents(shopify_variant_id=40000000001, notified=False)]
        result = hook.bulk_notify_intents(pending)
        print(result.to_dict()["sent_count"])
    """

    conn_name_attr = "stoq_conn_id"
    default_conn_name = "stoq_default"
    conn_type = "stoq"
    hook_name = "STOQ"

    def __init__(self, stoq_conn_id: str = default_conn_name, *, logger_name: str | None = None) -> None:
        super().__init__(logger_name=logger_name)
        self.stoq_conn_id = stoq_conn_id
        #: The page size STOQ says it serves (``meta.per_page`` of the latest intents page), once seen.
        self.served_per_page: int | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(stoq_conn_id={self.stoq_conn_id!r})"

    # ------------------------------------------------------------------ connection form (Airflow 3.1)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide the generic connection fields (Airflow 3.2+ reads ``get_provider_info`` instead)."""
        return {
            "hidden_fields": ["schema", "login", "port"],
            "relabeling": {"host": "Base URL", "password": "API Key"},
            "placeholders": {
                "host": "https://app.stoqapp.com/api/v1/external",
                "password": "stoq_api_key_...",
                "shop_domain": "my-store.myshopify.com",
            },
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra form fields for Airflow 3.1 (Airflow 3.2+ reads ``conn-fields`` from ``get_provider_info``)."""
        from wtforms import IntegerField, StringField
        from wtforms.validators import NumberRange, Optional

        def number(label: str, default: float, description: str) -> Any:
            # A text field holding a number: Airflow 3.1 leaves out the whole hook (no `stoq` connection type)
            # when its form uses a field class other than String, Integer, Password or Boolean, DecimalField
            # included. The hook reads these extras with float() and says which one is wrong.
            return StringField(label, validators=[Optional()], default=f"{default:g}", description=description)

        def integer(label: str, default: int, description: str, maximum: int | None = None) -> Any:
            return IntegerField(
                label,
                validators=[Optional(), NumberRange(min=1, max=maximum)],
                default=default,
                description=description,
            )

        return {
            "shop_domain": StringField(
                "Shop domain",
                validators=[Optional()],
                description="The store's myshopify.com domain; used only to create intents on the public endpoint.",
            ),
            "timeout": number("Read timeout (seconds)", 30, "Seconds to wait for STOQ to answer one request."),
            "connect_timeout": number(
                "Connect timeout (seconds)", 10, "Seconds to wait for the TCP/TLS connection to STOQ."
            ),
            "max_retries": integer(
                "Read attempts",
                5,
                "Attempts for a read that meets a 5xx, a proxy error page, a dropped connection or a timeout.",
            ),
            "retry_max_time": number("Retry window (seconds)", 120, "Upper bound on the time spent retrying one read."),
            "batch_size": integer(
                "Bulk notify batch size",
                1000,
                "Intent IDs per bulk notify call (1 to 1000). STOQ documents no maximum; if it refuses a size, "
                "the provider splits the batch and says which size to set.",
                maximum=MAX_BATCH_SIZE,
            ),
        }

    # ------------------------------------------------------------------ plumbing

    @cached_property
    def settings(self) -> StoqSettings:
        """The validated connection settings (read once; raises :class:`StoqConfigError` before any request)."""
        from airflow.exceptions import AirflowNotFoundException

        try:
            conn = self.get_connection(self.stoq_conn_id)
        except AirflowNotFoundException:
            raise missing_connection(self.stoq_conn_id) from None
        settings = StoqSettings.from_connection(conn)
        mask_secret(settings.api_key)
        if settings.base_url.startswith("http://"):
            self.log.warning("STOQ connection %r uses plain http:// (%s).", self.stoq_conn_id, settings.base_url)
        return settings

    @cached_property
    def transport(self) -> SyncTransport:
        """The HTTP transport (one ``requests.Session`` reused for every call)."""
        from stoq_provider.api.redaction import install_query_filter
        from stoq_provider.api.transport.sync import SyncTransport

        install_query_filter()
        return SyncTransport(self.settings, self.log)

    def get_conn(self) -> requests.Session:
        """The underlying ``requests.Session`` (prefer the typed methods of this hook)."""
        return self.transport.session

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
            mask=mask_secret,
        )
        return self._pages(filters)

    def _pages(self, filters: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        from stoq_provider.api.contract import parse_intents_page
        from stoq_provider.api.paging import Listing, intent_key

        listing = Listing("list_intents", "intents", key=intent_key, asked=MAX_PER_PAGE, log=self.log)
        while listing.next_page():
            body = self.send(contract.list_intents(filters, page=listing.page))
            fresh = listing.take(*parse_intents_page(body))
            self.served_per_page = listing.served_per_page or self.served_per_page
            yield from fresh

    def get_intent(self, intent_id: str) -> dict[str, Any]:
        """Fetch one intent by its ID; raises :class:`StoqNotFoundError` if STOQ does not know it.

        :param intent_id: the intent's STOQ ID.
        """
        from stoq_provider.api.contract import parse_intent

        return parse_intent(self.send(contract.get_intent(validation.intent_id(intent_id))))

    def products_in_demand(self, *, start_date: Any = None, end_date: Any = None) -> Iterator[dict[str, Any]]:
        """Stream the variants customers are waiting for, with ``total`` and ``pending`` signup counts.

        :param start_date: count signups created on or after this day.
        :param end_date: count signups created on or before this day.
        """
        start, end = validation.date_range(start_date, end_date)
        return self._demand_pages(start, end)

    def _demand_pages(self, start: str | None, end: str | None) -> Iterator[dict[str, Any]]:
        from stoq_provider.api.contract import parse_demand_page
        from stoq_provider.api.paging import Listing, variant_key

        listing = Listing("products_in_demand", "variants", key=variant_key, asked=MAX_PER_PAGE, log=self.log)
        while listing.next_page():
            body = self.send(contract.products_in_demand(start_date=start, end_date=end, page=listing.page))
            yield from listing.take(*parse_demand_page(body))

    def test_connection(self) -> tuple[bool, str]:
        """Check the key with one cheap request (a one-intent page); used by the UI's Test button."""
        from stoq_provider.api.contract import parse_intents_page

        try:
            body = self.send(contract.list_intents({}, page=1, per_page=1))
            _, meta, _ = parse_intents_page(body)
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
        revoked), :class:`StoqBulkNotifyInterrupted` carries the partial result; running again sends only what
        is still pending.

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
            raise already_sent_error(exc) from None
        count = body.get("deleted_count") if isinstance(body, Mapping) else None
        if not isinstance(count, int) or isinstance(count, bool):
            from stoq_provider.api.contract import shape_error

            raise shape_error(
                "delete_intents",
                'an object with an integer "deleted_count"',
                outcome="Whether STOQ deleted the intents is unknown: list them before deleting again.",
            )
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
            intent_type=validation.choice(intent_type, "intent_type", _TRANSFER_TYPES),
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

        Uses the connection's ``shop_domain`` extra and no API key. A ``200`` that carries ``errors`` is
        raised as :class:`StoqRequestError`. Not retried: a timeout leaves the outcome unknown (check with
        :meth:`list_intents`).

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
        from stoq_provider.api.contract import redact

        body = self._create_body(
            shopify_variant_id,
            shopify_product_id,
            channel,
            quantity,
            email,
            phone,
            shopify_market_id,
            source,
            customer,
            product,
        )
        shop_domain = self.settings.shop_domain
        if not shop_domain:
            raise StoqConfigError(
                f"create_intent needs the 'shop_domain' extra (e.g. 'my-store.myshopify.com') on connection "
                f"{self.stoq_conn_id!r}."
            )
        request = contract.create_intent(self.settings.public_intents_url, shop_domain, body)
        try:
            answer = self.send(request)
        except StoqNotFoundError:
            raise StoqNotFoundError(
                "STOQ answered 404 to create_intent: it does not know the shop domain "
                f"{shop_domain!r} or the variant {body['intent']['shopify_variant_id']}. Check both.",
                status_code=404,
            ) from None
        if isinstance(answer, Mapping) and answer.get("errors"):
            errors = answer["errors"]
            text = "; ".join(map(str, errors)) if isinstance(errors, list) else str(errors)
            raise StoqRequestError(
                f"STOQ processed create_intent but reported errors: {redact(text, email, phone)}",
                status_code=200,
            )
        if not isinstance(answer, Mapping):
            from stoq_provider.api.contract import shape_error

            raise shape_error(
                "create_intent",
                "a JSON object",
                outcome="Whether STOQ created the intent is unknown: check with list_intents before signing up "
                "the customer again.",
            )
        self.log.info("STOQ created an intent for variant %s.", body["intent"]["shopify_variant_id"])
        return created_intent(answer)

    @staticmethod
    def _create_body(
        variant: Any,
        product_id: Any,
        channel: str,
        quantity: Any,
        email: str | None,
        phone: str | None,
        market: Any,
        source: str,
        customer: Mapping[str, Any] | None,
        product: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        channel = validation.choice(channel, "channel", _CHANNELS)
        intent: dict[str, Any] = {
            "shopify_variant_id": validation.shopify_id(variant, "shopify_variant_id"),
            "shopify_product_id": validation.shopify_id(product_id, "shopify_product_id"),
            "channel": channel,
            "quantity": validation.positive_int(quantity, "quantity"),
            "source": source,
        }
        if market is not None:
            intent["shopify_market_id"] = validation.shopify_id(market, "shopify_market_id")
        person = dict(customer or {})
        if email is not None:
            if "@" not in email:
                raise StoqConfigError(
                    "email does not look like an e-mail address (no '@'); pass the customer's address, "
                    "e.g. 'name@example.com'."
                )
            person["email"] = email.strip()
            mask_secret(person["email"])
        if phone is not None:
            digits = "".join(ch for ch in str(phone) if ch not in " -().+")
            if not digits.isdigit():
                raise StoqConfigError("phone must contain digits only (country code first, no '+').")
            person["phone"] = digits
            mask_secret(digits)
        if channel == "email" and not person.get("email"):
            raise StoqConfigError("channel 'email' needs email=...: pass the customer's e-mail address.")
        if channel == "sms" and not person.get("phone"):
            raise StoqConfigError("channel 'sms' needs phone=...: pass the customer's phone, digits only.")
        body: dict[str, Any] = {"intent": intent, "customer": person}
        if product:
            body["product"] = dict(product)
        return body


def created_intent(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The Intent object of a ``201`` from the signup endpoint, whether STOQ wraps it (``{"intent": {...}}``) or
    not (the bare Intent); any other object is returned as STOQ sent it."""
    inner = answer.get("intent")
    if isinstance(inner, Mapping) and "id" not in answer:
        return dict(inner)
    return dict(answer)


#: Already-sent IDs named in ``delete_intents``' error before the rest are only counted.
NAMED_SENT_IDS = 20


def already_sent_error(exc: StoqRequestError) -> StoqRequestError:
    """``delete_intents``' ``422``: nothing deleted because some IDs were sent; name them (up to 20)."""
    sent = exc.sent_intent_ids
    if sent:
        named = ", ".join(sent[:NAMED_SENT_IDS])
        more = f" and {len(sent) - NAMED_SENT_IDS} more" if len(sent) > NAMED_SENT_IDS else ""
        what = f"{len(sent)} of the intents were already sent: {named}{more}"
    else:
        what = "some of the intents were already sent (STOQ did not say which)"
    return StoqRequestError(
        f"STOQ deleted nothing (422, all or nothing): {what}. Only unsent intents can be deleted: leave those "
        "out and delete again.",
        status_code=422,
        reason=exc.reason,
        sent_intent_ids=sent,
    )


__all__ = ["MAX_BATCH_SIZE", "StoqBulkNotifyInterrupted", "StoqHook"]

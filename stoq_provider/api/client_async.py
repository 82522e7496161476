"""The async STOQ client for triggers: the same contract, paging, pacing and retries as
:class:`~stoq_provider.api.client.StoqClient`, on one ``httpx.AsyncClient``, free of Airflow.

:class:`~stoq_provider.hooks.stoq_async.StoqAsyncHook` is this client with its settings read from an Airflow
connection without blocking the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from stoq_provider.api import contract, validation
from stoq_provider.api.contract import MAX_PER_PAGE

if TYPE_CHECKING:
    from stoq_provider.api.logs import Logger
    from stoq_provider.api.settings import StoqSettings
    from stoq_provider.api.transport.aio import AsyncTransport
    from stoq_provider.api.transport.policy import UsageObserver


class BaseAsyncStoqClient:
    """The STOQ reads a trigger needs, given ``get_settings()`` and ``log``: what :class:`AsyncStoqClient` and
    :class:`~stoq_provider.hooks.stoq_async.StoqAsyncHook` share (the hook reads its connection in
    ``get_settings``)."""

    @property
    def log(self) -> Logger:
        """Where progress goes (intent IDs and counts only)."""
        raise NotImplementedError

    _transport: AsyncTransport | None = None

    async def get_settings(self) -> StoqSettings:
        """The settings requests are sent with."""
        raise NotImplementedError

    async def amask_secret(self, value: str) -> None:
        """Awaited with the customer's e-mail or phone before a request carries it (the hook masks it in logs)."""

    async def transport(self) -> AsyncTransport:
        """The async transport (one ``httpx.AsyncClient``), built on first use."""
        if self._transport is None:
            from stoq_provider.api.redaction import install_query_filter
            from stoq_provider.api.transport.aio import AsyncTransport

            install_query_filter("httpx")
            self._transport = AsyncTransport(await self.get_settings(), self.log, observer=self.usage_observer())
        return self._transport

    def usage_observer(self) -> UsageObserver | None:
        """Told of each amount the transport spends (requests, points, 429s, waits); the hook reports metrics."""
        return None

    def redact(self, message: str) -> str:
        """``message`` without the API key (once the settings were read) or e-mail addresses."""
        from stoq_provider.api.redaction import scrub

        key = self._transport.settings.api_key if self._transport is not None else None
        return scrub(message.replace(key, "***") if key else message)

    async def aclose(self) -> None:
        """Close the HTTP client (safe to call more than once, or before any request)."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.aclose()

    async def list_intents(
        self,
        *,
        shopify_variant_id: int | str | None = None,
        shopify_product_id: int | str | None = None,
        email: str | None = None,
        phone: str | None = None,
        start_date: Any = None,
        end_date: Any = None,
        notified: bool | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every intent matching the filters, paged and checked for completeness as
        :meth:`StoqClient.list_intents <stoq_provider.api.client.StoqClient.list_intents>`.

        The filters are validated on the first iteration, before any request.

        :param shopify_variant_id: only intents for this Shopify variant.
        :param shopify_product_id: only intents for this Shopify product.
        :param email: only this customer's intents (never logged).
        :param phone: only this customer's intents (never logged).
        :param start_date: created on or after this day (``date``, ``datetime``, pendulum or ``YYYY-MM-DD``).
        :param end_date: created on or before this day.
        :param notified: ``False`` for intents not yet sent, ``True`` for sent ones, ``None`` for all.
        """
        from stoq_provider.api.paging import Listing, intent_key

        contacts: list[str] = []
        filters = validation.intent_filters(
            shopify_variant_id=shopify_variant_id,
            shopify_product_id=shopify_product_id,
            email=email,
            phone=phone,
            start_date=start_date,
            end_date=end_date,
            notified=notified,
            mask=contacts.append,
        )
        for contact in contacts:
            await self.amask_secret(contact)
        transport = await self.transport()
        listing = Listing("list_intents", "intents", key=intent_key, asked=MAX_PER_PAGE, log=self.log)
        while listing.next_page():
            body = await transport.send(contract.list_intents(filters, page=listing.page))
            for intent in listing.take(*contract.parse_intents_page(body)):
                yield intent

    async def products_in_demand(
        self, *, start_date: Any = None, end_date: Any = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The variants customers are waiting for, paged and checked as
        :meth:`StoqClient.products_in_demand <stoq_provider.api.client.StoqClient.products_in_demand>`.

        :param start_date: count signups created on or after this day.
        :param end_date: count signups created on or before this day.
        """
        from stoq_provider.api.paging import Listing, variant_key

        start, end = validation.date_range(start_date, end_date)
        transport = await self.transport()
        listing = Listing("products_in_demand", "variants", key=variant_key, asked=MAX_PER_PAGE, log=self.log)
        while listing.next_page():
            body = await transport.send(contract.products_in_demand(start_date=start, end_date=end, page=listing.page))
            for item in listing.take(*contract.parse_demand_page(body)):
                yield item


class AsyncStoqClient(BaseAsyncStoqClient):
    """Read STOQ intents without blocking the event loop, outside Airflow. Close it with :meth:`aclose`.

    :param settings: the validated settings (API key, base URL, timeouts, retries).
    :param log: where progress goes (intent IDs and counts only); default: this module's logger.

    Usage::

        from stoq_provider.api.settings import StoqSettings

        client = AsyncStoqClient(StoqSettings(api_key="stoq_api_key_..."))
        try:
            async for intent in client.list_intents(shopify_variant_id=40000000001, notified=False):
                ...
        finally:
            await client.aclose()
    """

    def __init__(self, settings: StoqSettings, *, log: Logger | None = None) -> None:
        self._settings = settings
        self._log = log or logging.getLogger(__name__)

    @property
    def log(self) -> Logger:
        """The logger given, else this module's."""
        return self._log

    async def get_settings(self) -> StoqSettings:
        """The settings given."""
        return self._settings

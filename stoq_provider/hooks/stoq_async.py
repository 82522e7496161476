"""An async STOQ hook for triggers: the same contract, pacing and retries as ``StoqHook``, on httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from stoq_provider.api import contract, validation
from stoq_provider.api.contract import MAX_PER_PAGE
from stoq_provider.api.settings import StoqSettings
from stoq_provider.hooks.connection import amask_secret, missing_connection

if TYPE_CHECKING:
    from stoq_provider.api.transport.aio import AsyncTransport


@dataclass(frozen=True)
class _ResolvedConnection:
    """The connection fields ``StoqSettings.from_connection`` reads, with ``extra`` already parsed.

    The Task SDK's ``Connection.extra_dejson`` masks the extras through a blocking call to the supervisor,
    which must not run on the triggerer's event loop; the async hook parses them with ``aextra_dejson``.
    """

    conn_id: str
    host: str | None
    schema: str | None
    port: int | None
    password: str | None = field(repr=False)
    extra_dejson: dict[str, Any] = field(repr=False)


class StoqAsyncHook(BaseHook):
    """Read STOQ intents without blocking the event loop (used by :class:`StoqPendingIntentsTrigger`).

    Same connection (conn type ``stoq``, default ``stoq_default``), same filters, validation and paging as
    :class:`~stoq_provider.hooks.stoq.StoqHook`, and the same transport policy (rate-budget pacing, ``429``
    waits, read retries, error classes), on one ``httpx.AsyncClient``. Close it with :meth:`aclose`.

    :param stoq_conn_id: the Airflow connection holding the API key (password) and optional base URL (host).

    Usage::

        hook = StoqAsyncHook()
        try:
            async for intent in hook.list_intents(shopify_variant_id=40000000001, notified=False):
                ...
        finally:
            await hook.aclose()
    """

    conn_name_attr = "stoq_conn_id"
    default_conn_name = "stoq_default"
    conn_type = "stoq"
    hook_name = "STOQ (async)"

    def __init__(self, stoq_conn_id: str = default_conn_name, *, logger_name: str | None = None) -> None:
        super().__init__(logger_name=logger_name)
        self.stoq_conn_id = stoq_conn_id
        self._transport: AsyncTransport | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(stoq_conn_id={self.stoq_conn_id!r})"

    async def get_settings(self) -> StoqSettings:
        """Read and validate the connection without blocking the loop; the API key is masked in logs.

        Raises :class:`~stoq_provider.exceptions.StoqConfigError` (before any request) if the connection is
        missing or unusable.
        """
        from airflow.exceptions import AirflowNotFoundException

        try:
            if hasattr(BaseHook, "aget_connection"):
                conn = await BaseHook.aget_connection(self.stoq_conn_id)
            else:  # pragma: no cover - Task SDKs without aget_connection
                from asgiref.sync import sync_to_async

                conn = await sync_to_async(BaseHook.get_connection)(self.stoq_conn_id)
        except AirflowNotFoundException:
            raise missing_connection(self.stoq_conn_id) from None
        if hasattr(conn, "aextra_dejson"):
            extra = await conn.aextra_dejson()
        else:  # pragma: no cover - older Task SDKs
            from asgiref.sync import sync_to_async

            extra = await sync_to_async(lambda: conn.extra_dejson)()
        settings = StoqSettings.from_connection(
            _ResolvedConnection(
                conn_id=conn.conn_id or self.stoq_conn_id,
                host=conn.host,
                schema=conn.schema,
                port=conn.port,
                password=conn.password,
                extra_dejson=extra,
            )
        )
        await amask_secret(settings.api_key)
        if settings.base_url.startswith("http://"):
            self.log.warning("STOQ connection %r uses plain http:// (%s).", self.stoq_conn_id, settings.base_url)
        return settings

    async def transport(self) -> AsyncTransport:
        """The async transport (one ``httpx.AsyncClient``), built on first use."""
        if self._transport is None:
            from stoq_provider.api.redaction import install_query_filter
            from stoq_provider.api.transport.aio import AsyncTransport

            install_query_filter("httpx")
            self._transport = AsyncTransport(await self.get_settings(), self.log)
        return self._transport

    def redact(self, message: str) -> str:
        """``message`` without the API key (once the connection was read) or e-mail addresses."""
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
        """Every intent matching the filters, paged and checked for completeness as :meth:`StoqHook.list_intents`.

        The filters are validated on the first iteration, before any request.

        :param shopify_variant_id: only intents for this Shopify variant.
        :param shopify_product_id: only intents for this Shopify product.
        :param email: only this customer's intents (never logged).
        :param phone: only this customer's intents (never logged).
        :param start_date: created on or after this day (``date``, ``datetime``, pendulum or ``YYYY-MM-DD``).
        :param end_date: created on or before this day.
        :param notified: ``False`` for intents not yet sent, ``True`` for sent ones, ``None`` for all.
        """
        from stoq_provider.api.contract import parse_intents_page
        from stoq_provider.api.paging import Listing, intent_key

        contacts: list[str] = []
        checked: Mapping[str, Any] = validation.intent_filters(
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
            await amask_secret(contact)
        transport = await self.transport()
        listing = Listing("list_intents", "intents", key=intent_key, asked=MAX_PER_PAGE, log=self.log)
        while listing.next_page():
            body = await transport.send(contract.list_intents(checked, page=listing.page))
            for intent in listing.take(*parse_intents_page(body)):
                yield intent

"""An async STOQ hook for triggers: the same contract, pacing and retries as ``StoqHook``, on httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from stoq_provider.utils import endpoints
from stoq_provider.utils.settings import MAX_PER_PAGE, StoqSettings

if TYPE_CHECKING:
    from stoq_provider.transport.aio import AsyncTransport


class StoqAsyncHook(BaseHook):
    """Read STOQ intents without blocking the event loop (used by :class:`StoqPendingIntentsTrigger`).

    :param stoq_conn_id: the STOQ connection.

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

    def __init__(self, stoq_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.stoq_conn_id = stoq_conn_id
        self._transport: AsyncTransport | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(stoq_conn_id={self.stoq_conn_id!r})"

    async def get_settings(self) -> StoqSettings:
        """Read and validate the connection without blocking the loop; the key is masked in logs."""
        from airflow.exceptions import AirflowNotFoundException

        from stoq_provider.exceptions import StoqConfigError

        try:
            if hasattr(BaseHook, "aget_connection"):
                conn = await BaseHook.aget_connection(self.stoq_conn_id)
            else:  # pragma: no cover - Airflow 3.1
                from asgiref.sync import sync_to_async

                conn = await sync_to_async(BaseHook.get_connection)(self.stoq_conn_id)
        except AirflowNotFoundException:
            raise StoqConfigError(f"Airflow connection {self.stoq_conn_id!r} does not exist.") from None
        settings = StoqSettings.from_connection(conn)
        try:
            from airflow.sdk.log import amask_secret

            await amask_secret(settings.api_key)
        except ImportError:  # pragma: no cover - older task SDKs
            pass
        return settings

    async def transport(self) -> AsyncTransport:
        """The async transport (one ``httpx.AsyncClient``), built on first use."""
        if self._transport is None:
            from stoq_provider.transport.aio import AsyncTransport
            from stoq_provider.utils.redaction import install_query_filter

            install_query_filter("httpx")
            self._transport = AsyncTransport(await self.get_settings(), self.log)
        return self._transport

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    async def list_intents(self, **filters: Any) -> AsyncIterator[dict[str, Any]]:
        """Every intent matching the filters of :meth:`StoqHook.list_intents`, page by page."""
        from stoq_provider.hooks.stoq import StoqHook
        from stoq_provider.utils.protocol import parse_intents_page

        checked: Mapping[str, Any] = StoqHook.intent_filters(**filters)
        transport = await self.transport()
        page = 1
        while True:
            body = await transport.send(endpoints.list_intents(checked, page=page))
            intents, meta = parse_intents_page(body, per_page=MAX_PER_PAGE)
            for intent in intents:
                yield intent
            if StoqHook.last_page(page, intents, meta):
                return
            page += 1

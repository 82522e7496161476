"""The async STOQ hook for triggers: :class:`~stoq_provider.api.client_async.AsyncStoqClient` with its API key
in an Airflow connection, read without blocking the event loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from stoq_provider.api.client_async import BaseAsyncStoqClient
from stoq_provider.api.settings import StoqSettings
from stoq_provider.hooks.connection import amask_secret, missing_connection

if TYPE_CHECKING:
    from stoq_provider.api.transport.policy import UsageObserver


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


class StoqAsyncHook(BaseHook, BaseAsyncStoqClient):
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
            # Only loopback gets here (StoqSettings refuses plain http:// elsewhere): a sandbox, no cause to warn.
            self.log.debug(
                "STOQ connection %r uses plain http:// on loopback (%s).", self.stoq_conn_id, settings.base_url
            )
        return settings

    def usage_observer(self) -> UsageObserver:
        """Requests, points, 429s and waits go to Airflow's metrics (:mod:`stoq_provider.metrics`)."""
        from stoq_provider.metrics import transport_usage

        return transport_usage

    async def amask_secret(self, value: str) -> None:
        """Register a customer's contact with Airflow's secrets masker without blocking the loop."""
        await amask_secret(value)

"""The STOQ hook: :class:`~stoq_provider.api.client.StoqClient` with its API key in an Airflow connection."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from stoq_provider.api.client import BaseStoqClient
from stoq_provider.api.contract import MAX_BATCH_SIZE
from stoq_provider.api.settings import StoqSettings
from stoq_provider.exceptions import StoqBulkNotifyInterrupted
from stoq_provider.hooks import connection

if TYPE_CHECKING:
    import requests

    from stoq_provider.api.transport.policy import UsageObserver


class StoqHook(BaseHook, BaseStoqClient):
    """Talk to the STOQ back-in-stock API with an API key kept in an Airflow connection.

    Every method is :class:`~stoq_provider.api.client.StoqClient`'s: each request has a connect and read
    timeout and is paced by the store's rate budget as STOQ reports it in its ``X-RateLimit-*`` headers (shared
    by every task using the store). A ``429`` is waited out and retried. Reads are retried after server errors,
    proxy error pages, dropped connections and timeouts. Writes are never retried blindly: after an ambiguous
    notify failure the hook re-checks ``notified_at`` and sends only what is still unsent, never with
    ``allow_resend=True``. The hook adds the Airflow side: the connection (read once, lazily), its form, and
    the API key and customer contacts registered with Airflow's secrets masker.

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(stoq_conn_id={self.stoq_conn_id!r})"

    # ------------------------------------------------------------------ connection form (Airflow 3.1)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide the generic connection fields (Airflow 3.2+ reads ``get_provider_info`` instead)."""
        from stoq_provider import UI_FIELD_BEHAVIOUR

        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra form fields for Airflow 3.1 (Airflow 3.2+ reads ``conn-fields`` from ``get_provider_info``)."""
        from wtforms import IntegerField, StringField
        from wtforms.validators import NumberRange, Optional

        from stoq_provider import CONNECTION_FIELDS

        widgets: dict[str, Any] = {}
        for name, spec in CONNECTION_FIELDS.items():
            schema, label, description = spec["schema"], spec["label"], spec["description"]
            if "integer" in schema["type"]:
                limits = NumberRange(min=schema.get("minimum"), max=schema.get("maximum"))
                widgets[name] = IntegerField(
                    label, validators=[Optional(), limits], default=schema.get("default"), description=description
                )
            elif "number" in schema["type"]:
                # A text field holding a number: Airflow 3.1 leaves out the whole hook (no `stoq` connection
                # type) when its form uses a field class other than String, Integer, Password or Boolean,
                # DecimalField included. The settings read these extras with float() and say which one is wrong.
                default = f"{schema['default']:g}"
                widgets[name] = StringField(label, validators=[Optional()], default=default, description=description)
            else:
                widgets[name] = StringField(label, validators=[Optional()], description=description)
        return widgets

    # ------------------------------------------------------------------ the Airflow side

    @cached_property
    def settings(self) -> StoqSettings:
        """The validated connection settings, read once.

        Raises :class:`~stoq_provider.exceptions.StoqConfigError` before any request if the connection is
        missing or unusable.
        """
        from airflow.exceptions import AirflowNotFoundException

        try:
            conn = self.get_connection(self.stoq_conn_id)
        except AirflowNotFoundException:
            raise connection.missing_connection(self.stoq_conn_id) from None
        settings = StoqSettings.from_connection(conn)
        connection.mask_secret(settings.api_key)
        if settings.base_url.startswith("http://"):
            # Only loopback gets here (StoqSettings refuses plain http:// elsewhere): a sandbox, no cause to warn.
            self.log.debug(
                "STOQ connection %r uses plain http:// on loopback (%s).", self.stoq_conn_id, settings.base_url
            )
        return settings

    def mask_secret(self, value: str) -> None:
        """Register a customer's contact with Airflow's secrets masker before a request carries it."""
        connection.mask_secret(value)

    def usage_observer(self) -> UsageObserver:
        """Requests, points, 429s and waits go to Airflow's metrics (:mod:`stoq_provider.metrics`)."""
        from stoq_provider.metrics import transport_usage

        return transport_usage

    def get_conn(self) -> requests.Session:
        """The underlying ``requests.Session`` (prefer the typed methods of this hook)."""
        return self.transport.session


__all__ = ["MAX_BATCH_SIZE", "StoqBulkNotifyInterrupted", "StoqHook"]

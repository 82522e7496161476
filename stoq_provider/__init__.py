"""Apache Airflow provider for STOQ, the Shopify back-in-stock alerts app.

Airflow discovers this package through the ``apache_airflow_provider`` entry point, which points at
:func:`get_provider_info`. Importing the package is cheap: nothing here imports Airflow or an HTTP client.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["CONNECTION_FIELDS", "UI_FIELD_BEHAVIOUR", "__version__", "get_provider_info"]

#: The connection form, as Airflow 3.2+ reads it without importing the hook: every extra the provider reads.
#: ``StoqHook`` declares the same form for Airflow 3.1 (``get_ui_field_behaviour`` and
#: ``get_connection_form_widgets``, built from these two tables); a test keeps the declarations in agreement.
CONNECTION_FIELDS: dict[str, dict[str, Any]] = {
    "shop_domain": {
        "label": "Shop domain",
        "description": "The store's myshopify.com domain; used only to create intents on the public endpoint.",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Read timeout (seconds)",
        "description": "Seconds to wait for STOQ to answer one request.",
        "schema": {"type": ["number", "null"], "default": 30},
    },
    "connect_timeout": {
        "label": "Connect timeout (seconds)",
        "description": "Seconds to wait for the TCP/TLS connection to STOQ.",
        "schema": {"type": ["number", "null"], "default": 10},
    },
    "max_retries": {
        "label": "Read attempts",
        "description": "Attempts for a read that meets a 5xx, a proxy error page, a dropped connection or a timeout.",
        "schema": {"type": ["integer", "null"], "default": 5},
    },
    "retry_max_time": {
        "label": "Retry window (seconds)",
        "description": "Upper bound on the time spent retrying one read.",
        "schema": {"type": ["number", "null"], "default": 120},
    },
    "batch_size": {
        "label": "Bulk notify batch size",
        "description": "Intent IDs per bulk notify call (1 to 1000). STOQ documents no maximum; if it refuses a size, "
        "the provider splits the batch and says which size to set.",
        "schema": {"type": ["integer", "null"], "default": 1000, "minimum": 1, "maximum": 1000},
    },
    "retry_wait_initial": {
        "label": "First retry wait (seconds)",
        "description": "Backoff before the second attempt of a read; it doubles, with jitter, up to the longest wait.",
        "schema": {"type": ["number", "null"], "default": 0.5},
    },
    "retry_wait_max": {
        "label": "Longest retry wait (seconds)",
        "description": "Upper bound on one backoff wait between attempts of a read.",
        "schema": {"type": ["number", "null"], "default": 20},
    },
    "max_rate_limit_retries": {
        "label": "429s tolerated per request",
        "description": "Answers 429 (budget drained by other clients of the store) waited out before failing.",
        "schema": {"type": ["integer", "null"], "default": 10, "minimum": 0},
    },
    "max_rate_limit_wait": {
        "label": "Longest budget wait (seconds)",
        "description": "Upper bound on one wait for the store's rate budget, before a request or after a 429.",
        "schema": {"type": ["number", "null"], "default": 90},
    },
    "ca_bundle": {
        "label": "CA bundle path",
        "description": "A CA certificate file to verify STOQ's certificate with, behind a proxy that re-signs TLS "
        "(verification is never switched off).",
        "schema": {"type": ["string", "null"]},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port"],
    "relabeling": {"host": "Base URL", "password": "API Key"},
    "placeholders": {
        "host": "https://app.stoqapp.com/api/v1/external",
        "password": "stoq_api_key_...",
        "shop_domain": "my-store.myshopify.com",
    },
}


def get_provider_info() -> dict[str, Any]:
    """Describe this provider to Airflow's providers manager."""
    return {
        "package-name": "airflow-provider-stoq",
        "name": "STOQ",
        "description": "`STOQ <https://stoqapp.com>`__ back-in-stock alerts for Shopify stores.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "STOQ",
                "external-doc-url": "https://docs.stoqapp.com",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "STOQ", "python-modules": ["stoq_provider.hooks.stoq"]}],
        "operators": [{"integration-name": "STOQ", "python-modules": ["stoq_provider.operators.notify"]}],
        "sensors": [{"integration-name": "STOQ", "python-modules": ["stoq_provider.sensors.intents"]}],
        "triggers": [{"integration-name": "STOQ", "python-modules": ["stoq_provider.triggers.intents"]}],
        "connection-types": [
            {
                "hook-class-name": "stoq_provider.hooks.stoq.StoqHook",
                "hook-name": "STOQ",
                "connection-type": "stoq",
                "conn-fields": CONNECTION_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
        "notifications": ["stoq_provider.notifications.stoq.StoqNotifier"],
    }

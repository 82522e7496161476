"""What both STOQ hooks do with an Airflow connection: say clearly when it is missing, and mask secrets.

The API key and customer contact data are registered with Airflow's secrets masker, so that nothing Airflow
logs can show them; the async form never makes a blocking call to the supervisor (it runs in the triggerer).
"""

from __future__ import annotations

from stoq_provider.exceptions import StoqConfigError


def missing_connection(conn_id: str) -> StoqConfigError:
    """The error for a connection that does not exist."""
    variable = "AIRFLOW_CONN_" + conn_id.upper()  # how Airflow's environment-variable backend names it
    if variable.isidentifier():
        example = f'{variable}=\'{{"conn_type": "stoq", "password": "stoq_api_key_..."}}\''
    else:  # not a name a shell can export
        example = f"airflow connections add '{conn_id}' --conn-type stoq --conn-password 'stoq_api_key_...'"
    return StoqConfigError(
        f"Airflow connection {conn_id!r} does not exist. Create it with conn type 'stoq' and the store's API "
        f"key as password, e.g. {example}."
    )


def mask_secret(value: str) -> None:
    """Register a secret (API key, a customer's contact) with Airflow's secrets masker."""
    try:
        from airflow.sdk.log import mask_secret as register
    except ImportError:  # pragma: no cover - older Task SDKs have the same function here (so: no-redef)
        from airflow.sdk.execution_time.secrets_masker import mask_secret as register  # type: ignore[no-redef]
    register(value)


async def amask_secret(value: str) -> None:
    """Register a secret with the masker without a blocking call to the supervisor."""
    try:
        from airflow.sdk.log import amask_secret as register
    except ImportError:  # pragma: no cover - older Task SDKs
        mask_secret(value)
        return
    await register(value)

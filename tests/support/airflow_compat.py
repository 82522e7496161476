"""Airflow names the tests use that moved between Airflow 3.1 and 3.2+ (CI runs the suite on both).

The provider's own moved names are in ``stoq_provider._compat``; these are the ones only the tests need.
"""

from __future__ import annotations

from stoq_provider._compat import AirflowSensorTimeout

try:  # Airflow 3.2+
    from airflow.sdk.exceptions import AirflowSkipException, TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowSkipException, TaskDeferred

try:  # Airflow 3.2+
    from airflow.sdk.serde import deserialize, serialize
except ImportError:  # Airflow 3.1
    from airflow.serialization.serde import deserialize, serialize


def dagbag_class() -> type:
    """``DagBag`` (moved from ``airflow.models.dagbag`` in Airflow 3.2)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag
    return DagBag


__all__ = [
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "TaskDeferred",
    "dagbag_class",
    "deserialize",
    "serialize",
]

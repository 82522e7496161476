"""Names that moved between Airflow 3.1 and 3.2+: imported from the Task SDK where it has them.

The provider supports Airflow 3.1 (Task SDK 1.1) and later; CI runs the suite on both ends of that range.
"""

from __future__ import annotations

try:  # Airflow 3.2+ (Task SDK 1.2+)
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow 3.1
    from airflow.configuration import conf

try:  # Airflow 3.2+; airflow.exceptions keeps a deprecated alias of it
    from airflow.sdk.exceptions import AirflowSensorTimeout
except ImportError:  # Airflow 3.1: the class the Task SDK's sensors raise and catch
    from airflow.exceptions import AirflowSensorTimeout  # type: ignore[no-redef]

__all__ = ["AirflowSensorTimeout", "conf"]

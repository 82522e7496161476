"""The provider over real HTTP against the sandbox, and with real Airflow."""

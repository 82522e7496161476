"""Pure logic: no server, no Airflow run."""

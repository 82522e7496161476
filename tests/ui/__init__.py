"""The connection form in Airflow's UI, in a real browser."""

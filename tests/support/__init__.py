"""What the tests share: readers of the sandbox, the secret guard, Airflow compatibility, databases and
deployments."""

"""The STOQ client, free of Airflow: the v1 contract, paging, pacing, retries and exactly-once delivery.

Nothing here imports Airflow; the hooks in :mod:`stoq_provider.hooks` turn an Airflow connection into
:class:`~stoq_provider.api.settings.StoqSettings` and hand it to these modules.
"""

"""HTTP transports: thin layers that move :class:`~stoq_provider.api.contract.ApiRequest` objects over the wire.

Request building and response checking live in :mod:`stoq_provider.api.contract`, rate pacing and retry policy
in :mod:`stoq_provider.api.ratelimit` and :mod:`stoq_provider.api.retry`; a transport only adds the HTTP client
and the way it sleeps.
"""

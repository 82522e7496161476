"""HTTP transports: thin layers that move :class:`~stoq_provider.utils.protocol.ApiRequest` objects over the wire.

Request building, response checking, rate pacing and retry policy live in :mod:`stoq_provider.utils`; a
transport only adds the HTTP client and the way it sleeps.
"""

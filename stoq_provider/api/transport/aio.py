"""The asynchronous transport for triggers, on one ``httpx.AsyncClient``; it never blocks the event loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from tenacity import AsyncRetrying

from stoq_provider.api.contract import ApiRequest, ApiResponse
from stoq_provider.api.logs import Logger
from stoq_provider.api.ratelimit import RateBudget
from stoq_provider.api.retry import RateLimited, rate_limit_retry_kwargs, transient_retry_kwargs
from stoq_provider.api.settings import StoqSettings
from stoq_provider.api.transport.policy import TransportPolicy, UsageObserver
from stoq_provider.exceptions import StoqError


def _ssl_verify(settings: StoqSettings) -> Any:
    """TLS verification for httpx: always on; a CA bundle becomes an SSL context."""
    if settings.ca_bundle:
        import ssl

        return ssl.create_default_context(cafile=settings.ca_bundle)
    return True


class AsyncTransport:
    """The async twin of :class:`~stoq_provider.api.transport.sync.SyncTransport`: same pacing, retries and errors.

    :param settings: validated connection settings.
    :param logger: where retries and waits are logged.
    :param budget: the store's rate budget; by default the one shared by this process for the same store.
    :param observer: told of each amount spent (the hooks report metrics with it).
    :param defer_over: raise ``StoqBudgetWait`` for budget waits longer than this instead of sleeping.
    """

    def __init__(
        self,
        settings: StoqSettings,
        logger: Logger,
        budget: RateBudget | None = None,
        observer: UsageObserver | None = None,
        defer_over: float | None = None,
    ) -> None:
        self.policy = TransportPolicy(settings, logger, budget, observer, defer_over)
        self.settings = settings
        self.log = logger
        connect, read = self.policy.timeouts
        self.client = httpx.AsyncClient(
            headers=self.policy.default_headers,
            timeout=httpx.Timeout(read, connect=connect),
            verify=_ssl_verify(settings),
            follow_redirects=False,
            trust_env=True,
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self.client.aclose()

    async def send(self, request: ApiRequest) -> Any:
        """Send ``request`` and return its parsed JSON body."""
        if not request.is_read:
            return await self._send_paced(request)
        async for attempt in AsyncRetrying(**transient_retry_kwargs(self.settings, self.log, request.label)):
            with attempt:
                return await self._send_paced(request)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_paced(self, request: ApiRequest) -> Any:
        try:
            async for attempt in AsyncRetrying(**rate_limit_retry_kwargs(self.settings, self.log)):
                with attempt:
                    wait = self.policy.pacing_wait(request)
                    if wait:
                        await asyncio.sleep(wait)
                    sent_at = time.time()
                    try:
                        response = await self._exchange(request)
                    except StoqError:
                        self.policy.abandoned(request, sent_at)
                        raise
                    return self.policy.read(request, response)
        except RateLimited:
            raise self.policy.rate_limit_error(request) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(self, request: ApiRequest) -> ApiResponse:
        sent_at = time.time()
        try:
            response = await self.client.request(
                request.method,
                self.policy.url(request),
                params=request.params,
                json=request.json_body,
                headers=self.policy.headers(request),
            )
        except httpx.TimeoutException:
            raise self.policy.timeout_error(request) from None
        except httpx.ConnectError as exc:
            if "[SSL" in str(exc):
                raise self.policy.tls_error(request, exc) from None
            raise self.policy.dropped_error(request, exc) from None
        except httpx.HTTPError as exc:
            raise self.policy.dropped_error(request, exc) from None
        return ApiResponse(
            status=response.status_code, headers=response.headers, content=response.content, sent_at=sent_at
        )

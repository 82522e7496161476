"""The synchronous transport used by :class:`~stoq_provider.hooks.stoq.StoqHook`, on one ``requests.Session``."""

from __future__ import annotations

import time
from typing import Any

import requests
from tenacity import Retrying

from stoq_provider.api.contract import ApiRequest, ApiResponse
from stoq_provider.api.logs import Logger
from stoq_provider.api.ratelimit import RateBudget
from stoq_provider.api.retry import RateLimited, rate_limit_retry_kwargs, transient_retry_kwargs
from stoq_provider.api.settings import StoqSettings
from stoq_provider.api.transport.policy import TransportPolicy, UsageObserver
from stoq_provider.exceptions import StoqError


class SyncTransport:
    """Sends requests to STOQ with pacing, 429 handling and read retries.

    :param settings: validated connection settings.
    :param logger: where retries and waits are logged (never with the key or customer data).
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
        self.session = requests.Session()
        self.session.headers.update(self.policy.default_headers)
        self.session.verify = settings.verify

    def __repr__(self) -> str:
        return f"SyncTransport(base_url={self.settings.base_url!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def send(self, request: ApiRequest) -> Any:
        """Send ``request`` and return its parsed JSON body (``None`` for an allowed empty body)."""
        if not request.is_read:
            return self._send_paced(request)
        for attempt in Retrying(**transient_retry_kwargs(self.settings, self.log, request.label)):
            with attempt:
                return self._send_paced(request)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_paced(self, request: ApiRequest) -> Any:
        try:
            for attempt in Retrying(**rate_limit_retry_kwargs(self.settings, self.log)):
                with attempt:
                    wait = self.policy.pacing_wait(request)
                    if wait:
                        time.sleep(wait)
                    sent_at = time.time()
                    try:
                        response = self._exchange(request)
                    except StoqError:
                        self.policy.abandoned(request, sent_at)
                        raise
                    return self.policy.read(request, response)
        except RateLimited:
            raise self.policy.rate_limit_error(request) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(self, request: ApiRequest) -> ApiResponse:
        sent_at = time.time()
        try:
            response = self.session.request(
                request.method,
                self.policy.url(request),
                params=request.params,
                json=request.json_body,
                headers=self.policy.headers(request),
                timeout=self.policy.timeouts,
                # Never follow redirects: the key must not reach another host (see ``check_response``).
                allow_redirects=False,
                verify=self.settings.verify,
            )
            content = response.content
        except requests.exceptions.SSLError as exc:
            raise self.policy.tls_error(request, exc) from None
        except requests.Timeout:
            raise self.policy.timeout_error(request) from None
        except requests.RequestException as exc:
            raise self.policy.dropped_error(request, exc) from None
        return ApiResponse(status=response.status_code, headers=response.headers, content=content, sent_at=sent_at)

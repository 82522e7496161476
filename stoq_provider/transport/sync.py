"""The synchronous transport used by :class:`~stoq_provider.hooks.stoq.StoqHook`, on one ``requests.Session``."""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from tenacity import Retrying

from stoq_provider import __version__
from stoq_provider.exceptions import StoqConfigError, StoqRateLimitError, StoqTransportError
from stoq_provider.utils.protocol import ApiRequest, ApiResponse, check_response, decode_json
from stoq_provider.utils.ratelimit import RateBudget, retry_after_seconds, shared_budget
from stoq_provider.utils.retry import RateLimited, rate_limit_retry_kwargs, transient_retry_kwargs
from stoq_provider.utils.settings import StoqSettings

USER_AGENT = f"airflow-provider-stoq/{__version__}"


class SyncTransport:
    """Sends requests to STOQ with pacing, 429 handling and read retries.

    :param settings: validated connection settings.
    :param logger: where retries and waits are logged (never with the key or customer data).
    :param budget: the store's rate budget; by default the one shared by this process for the same store.
    """

    def __init__(self, settings: StoqSettings, logger: logging.Logger, budget: RateBudget | None = None) -> None:
        self.settings = settings
        self.log = logger
        self.budget = budget or shared_budget(settings.base_url, settings.api_key)
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.session.verify = settings.verify
        # Never follow redirects: the key must not reach another host (see ``check_response``).
        self.session.max_redirects = 0

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
                    return self._send_once(request)
        except RateLimited as exc:
            raise StoqRateLimitError(
                f"STOQ kept answering 429 (rate budget exhausted) to {request.label} after "
                f"{self.settings.max_rate_limit_retries} waits. Other tasks may be draining the store's "
                "budget: run fewer STOQ tasks at once (an Airflow pool helps) or retry later.",
                status_code=429,
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, request: ApiRequest) -> Any:
        if request.cost:
            wait = self.budget.reserve(request.cost)
            if wait > 0:
                wait = min(wait, self.settings.max_rate_limit_wait)
                self.log.info("Pacing: waiting %.2f s for the store's STOQ rate budget before %s.", wait, request.label)
                time.sleep(wait)
        response = self._exchange(request)
        if request.authenticated:
            self.budget.observe(response.headers)
        if response.status == 429:
            try:
                body = decode_json(response)
            except ValueError:
                body = None
            wait = retry_after_seconds(response.headers, body, now=time.time())
            wait = 1.0 if wait is None else wait
            self.budget.exhausted_for(wait)
            raise RateLimited(wait, request.label)
        return check_response(
            request, response, conn_id=self.settings.conn_id, secrets=(self.settings.api_key,)
        )

    def _exchange(self, request: ApiRequest) -> ApiResponse:
        url = request.path if "://" in request.path else f"{self.settings.base_url}/{request.path.lstrip('/')}"
        headers = dict(request.headers)
        if request.authenticated:
            headers["X-Auth-Token"] = self.settings.api_key
        try:
            response = self.session.request(
                request.method,
                url,
                params=request.params,
                json=request.json_body,
                headers=headers,
                timeout=(self.settings.connect_timeout, self.settings.timeout),
                allow_redirects=False,
                verify=self.settings.verify,
            )
            content = response.content
        except requests.exceptions.SSLError:
            raise StoqConfigError(
                f"TLS verification of {self.settings.base_url} failed during {request.label}. Verification "
                "cannot be switched off; if a corporate proxy re-signs traffic, set the connection's "
                "'ca_bundle' extra to its CA bundle."
            ) from None
        except requests.Timeout:
            raise StoqTransportError(
                f"No answer from STOQ to {request.label} within the timeout "
                f"(connect {self.settings.connect_timeout:g} s, read {self.settings.timeout:g} s). "
                "Raise the connection's 'timeout' extra if STOQ is just slow."
            ) from None
        except requests.RequestException as exc:
            raise StoqTransportError(
                f"The connection to STOQ failed or was dropped during {request.label} "
                f"({type(exc).__name__}). Check network access to {self.settings.base_url}."
            ) from None
        return ApiResponse(status=response.status_code, headers=response.headers, content=content)

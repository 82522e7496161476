"""What every transport does around the wire, whatever its HTTP client: pace, address, read, map errors.

:class:`TransportPolicy` holds no client and never sleeps: it says how long to wait, builds the URL and headers,
turns a response into parsed JSON or an error, and words transport failures. The sync and async transports
call it in the same order, so both follow one rate, retry and error policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from stoq_provider import __version__
from stoq_provider.api.contract import ApiRequest, ApiResponse, check_response, decode_json
from stoq_provider.api.logs import Logger
from stoq_provider.api.ratelimit import RateBudget, retry_after_seconds, shared_budget
from stoq_provider.api.retry import RateLimited
from stoq_provider.api.settings import StoqSettings
from stoq_provider.exceptions import StoqBudgetWait, StoqConfigError, StoqRateLimitError, StoqTransportError

USER_AGENT = f"airflow-provider-stoq/{__version__}"

#: Pacing waits shorter than this are logged at DEBUG (at INFO they drown the progress lines).
QUIET_WAIT_SECONDS = 1.0

#: Told of every amount a transport spends, as it is spent: ``(field of TransportUsage, amount)``. The hooks
#: pass one that reports metrics; it must never raise (the transport ignores what it raises anyway).
UsageObserver = Callable[[str, float], None]


@dataclass
class TransportUsage:
    """What one transport has spent so far: requests answered, points charged, seconds waited for the budget.

    :param requests: authenticated requests STOQ answered (429s included).
    :param points: rate-budget points charged for them (a 429 is not charged).
    :param paced_seconds: seconds spent waiting before requests so as not to overdraw the budget.
    :param rate_limited: ``429`` answers met (other tasks spent the points).
    :param rate_limited_seconds: seconds spent waiting them out.
    """

    requests: int = 0
    points: int = 0
    paced_seconds: float = 0.0
    rate_limited: int = 0
    rate_limited_seconds: float = 0.0

    @property
    def waited_seconds(self) -> float:
        """All the time spent waiting for the budget."""
        return self.paced_seconds + self.rate_limited_seconds

    def copy(self) -> TransportUsage:
        """A snapshot."""
        return TransportUsage(**vars(self))


class TransportPolicy:
    """The client-independent half of a transport.

    :param settings: validated connection settings.
    :param logger: where waits are logged (never with the key or customer data).
    :param budget: the store's rate budget; by default the one this process shares for the same store.
    :param observer: told of each amount spent (metrics), see :data:`UsageObserver`.
    """

    def __init__(
        self,
        settings: StoqSettings,
        logger: Logger,
        budget: RateBudget | None = None,
        observer: UsageObserver | None = None,
        defer_over: float | None = None,
    ) -> None:
        self.settings = settings
        self.log = logger
        self.budget = budget or shared_budget(settings.base_url, settings.api_key)
        self.usage = TransportUsage()
        self.observer = observer
        #: Budget waits longer than this raise :class:`~stoq_provider.exceptions.StoqBudgetWait` instead of
        #: being slept (``None``: always sleep).
        self.defer_over = defer_over

    def spend(self, name: str, amount: float) -> None:
        """Add ``amount`` to the usage field ``name`` and tell the observer (whose failure never matters here)."""
        setattr(self.usage, name, getattr(self.usage, name) + amount)
        if self.observer is not None and amount:
            try:
                self.observer(name, amount)
            except Exception as exc:  # metrics must never fail a request
                self.log.debug("STOQ: a usage observer failed (%s); the request goes on.", type(exc).__name__)

    @property
    def timeouts(self) -> tuple[float, float]:
        """``(connect, read)`` timeouts in seconds."""
        return self.settings.connect_timeout, self.settings.timeout

    @property
    def default_headers(self) -> dict[str, str]:
        return {"User-Agent": USER_AGENT, "Accept": "application/json"}

    def url(self, request: ApiRequest) -> str:
        if "://" in request.path:
            return request.path
        return f"{self.settings.base_url}/{request.path.lstrip('/')}"

    def headers(self, request: ApiRequest) -> dict[str, str]:
        headers = dict(request.headers)
        if request.authenticated:
            headers["X-Auth-Token"] = self.settings.api_key
        return headers

    def pacing_wait(self, request: ApiRequest) -> float:
        """Reserve the request's cost; return the seconds to sleep first (bounded by ``max_rate_limit_wait``)."""
        if not request.cost:
            return 0.0
        wait = min(self.budget.reserve(request.cost), self.settings.max_rate_limit_wait)
        if self.defer_over is not None and wait > self.defer_over:
            self.budget.release(request.cost)
            raise StoqBudgetWait(wait)
        if wait > 0:
            self.spend("paced_seconds", wait)
            log = self.log.info if wait >= QUIET_WAIT_SECONDS else self.log.debug
            log(
                "Pacing: waiting %.1f s for the store's STOQ rate budget before %s (%s).",
                wait,
                request.label,
                self.budget_state(),
            )
        return wait

    def budget_state(self) -> str:
        """The budget as the latest answer told it, in words (``"12 of 360 points left"``)."""
        budget = self.budget
        if budget.limit is None or budget.remaining is None:
            return "budget not known yet"
        return f"{budget.remaining} of {budget.limit} points left"

    def read(self, request: ApiRequest, response: ApiResponse) -> Any:
        """Learn the budget from the answer; raise :class:`RateLimited` on 429; else check and parse it."""
        if request.authenticated:
            self.spend("requests", 1)
            self.spend("points", 0 if response.status == 429 else request.cost)
            self.budget.observe(
                response.headers,
                sent_at=response.sent_at,
                cost=0 if response.status == 429 else request.cost,
                reserved=request.cost,
            )
        if response.status == 429:
            try:
                body = decode_json(response)
            except ValueError:
                body = None
            wait = retry_after_seconds(response.headers, body, now=time.time())
            wait = 1.0 if wait is None else wait
            if self.defer_over is not None and wait > self.defer_over:
                self.spend("rate_limited", 1)
                self.budget.exhausted_for(wait)
                raise StoqBudgetWait(min(wait, self.settings.max_rate_limit_wait))
            self.spend("rate_limited", 1)
            self.spend("rate_limited_seconds", min(max(wait, 0.05), self.settings.max_rate_limit_wait))  # as slept
            self.budget.exhausted_for(wait)
            raise RateLimited(wait, request.label)
        return check_response(request, response, conn_id=self.settings.conn_id, secrets=(self.settings.api_key,))

    def abandoned(self, request: ApiRequest, sent_at: float) -> None:
        """No answer came back (timeout, dropped connection): the request may have been charged."""
        if request.cost:
            self.budget.abandoned(request.cost, sent_at=sent_at)

    def rate_limit_error(self, request: ApiRequest) -> StoqRateLimitError:
        return StoqRateLimitError(
            f"STOQ kept answering 429 (rate budget exhausted) to {request.label} after "
            f"{self.settings.max_rate_limit_retries} waits. Other tasks may be draining the store's budget: run "
            "fewer STOQ tasks at once (an Airflow pool helps) or retry later.",
            status_code=429,
        )

    def timeout_error(self, request: ApiRequest) -> StoqTransportError:
        connect, read = self.timeouts
        return StoqTransportError(
            f"No answer from STOQ to {request.label} within the timeout (connect {connect:g} s, read {read:g} s). "
            "Raise the connection's 'timeout' extra if STOQ is just slow."
        )

    def dropped_error(self, request: ApiRequest, exc: BaseException) -> StoqTransportError:
        return StoqTransportError(
            f"The connection to STOQ failed or was dropped during {request.label} ({type(exc).__name__}). "
            f"Check network access to {self.settings.base_url}."
        )

    def tls_error(self, request: ApiRequest, exc: BaseException) -> StoqConfigError:
        """A failed TLS handshake, with its likely cause: a plain-HTTP server, or a proxy that re-signs TLS."""
        text = str(exc).upper()
        parts = urlsplit(self.settings.base_url)
        if any(marker in text for marker in _PLAIN_HTTP_MARKERS):
            plain = urlunsplit(("http", parts.netloc, parts.path, "", ""))
            return StoqConfigError(
                f"{parts.netloc} answered the TLS handshake of {request.label} in plain HTTP: the base URL says "
                f"https:// but the server speaks http://. If it is the sandbox (or another plain-HTTP server on "
                f"loopback), set the connection's host to {plain!r} (URI form: 'stoq://http://:KEY@{parts.netloc}"
                f"{parts.path}'). Plain http:// is accepted only on loopback."
            )
        cause = (
            "its certificate is not trusted (self-signed, or re-signed by a corporate proxy)"
            if "CERTIFICATE_VERIFY_FAILED" in text
            else "the TLS handshake failed"
        )
        return StoqConfigError(
            f"TLS verification of {self.settings.base_url} failed during {request.label}: {cause}. Verification "
            "cannot be switched off; if a proxy re-signs traffic, set the connection's 'ca_bundle' extra to its CA "
            "certificate file."
        )


#: What OpenSSL says when the other side answers a TLS handshake in plain HTTP.
_PLAIN_HTTP_MARKERS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "RECORD LAYER FAILURE", "HTTP_REQUEST")

"""Retry and wait policies shared by the sync (``requests``) and async (``httpx``) transports.

Two loops wrap every request:

* the **rate loop** retries a ``429``, waiting what STOQ asked for. A 429 means the request was refused
  before it was applied, so writes are retried too;
* the **transient loop** retries reads (``GET``) after a 5xx, an HTML error page, a dropped connection or a
  timeout, with exponential backoff and jitter, bounded in attempts and in total time. Writes never enter it:
  an ambiguous write is resolved by the hook (re-check ``notified_at``, then send only the rest).

The factories return keyword arguments for ``tenacity.Retrying`` or ``tenacity.AsyncRetrying``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenacity import (
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from stoq_provider.exceptions import StoqServerError

if TYPE_CHECKING:
    from stoq_provider.api.logs import Logger
    from stoq_provider.api.settings import StoqSettings


class RateLimited(Exception):
    """Internal signal: STOQ answered 429; :attr:`wait` is how long it asked us to wait."""

    def __init__(self, wait: float, label: str) -> None:
        super().__init__(f"429 on {label}")
        self.wait = wait
        self.label = label


def is_transient(exc: BaseException) -> bool:
    """A failure worth retrying for a read: server errors, proxy pages, drops and timeouts."""
    return isinstance(exc, StoqServerError)


def _log_before_sleep(logger: Logger, what: str) -> Any:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "STOQ %s failed (attempt %d): %s Retrying in %.2f s.",
            what,
            state.attempt_number,
            exc,
            wait,
        )

    return before_sleep


def transient_retry_kwargs(settings: StoqSettings, logger: Logger, label: str) -> dict[str, Any]:
    """Backoff with jitter for reads, bounded by ``max_retries`` attempts and ``retry_max_time`` seconds."""
    return {
        "stop": stop_after_attempt(settings.max_retries) | stop_after_delay(settings.retry_max_time),
        "wait": wait_exponential(multiplier=settings.retry_wait_initial, max=settings.retry_wait_max)
        + wait_random(0, settings.retry_wait_initial),
        "retry": retry_if_exception(is_transient),
        "before_sleep": _log_before_sleep(logger, label),
        "reraise": True,
    }


def resend_retry_kwargs(settings: StoqSettings, logger: Logger) -> dict[str, Any]:
    """Rounds of "read back, then send the confirmed-unsent rest" after ambiguous notify failures.

    Bounded by ``max_retries`` rounds only: each round's read-back is itself bounded in time by the read
    policy, and stopping on elapsed time mid-way would leave intents handled by nobody.
    """
    kwargs = transient_retry_kwargs(settings, logger, "notify")
    kwargs["stop"] = stop_after_attempt(settings.max_retries)
    return kwargs


def _wait_asked(settings: StoqSettings) -> Any:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.wait if isinstance(exc, RateLimited) else 1.0
        return min(max(asked, 0.05), settings.max_rate_limit_wait)

    return wait


def rate_limit_retry_kwargs(settings: StoqSettings, logger: Logger) -> dict[str, Any]:
    """Wait what a 429 asks (``Retry-After``), at most ``max_rate_limit_retries`` times."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        label = exc.label if isinstance(exc, RateLimited) else "request"
        logger.warning(
            "STOQ rate budget exhausted (429) on %s; waiting %.2f s as asked (429 number %d).",
            label,
            wait,
            state.attempt_number,
        )

    return {
        "stop": stop_after_attempt(settings.max_rate_limit_retries + 1),
        "wait": _wait_asked(settings),
        "retry": retry_if_exception_type(RateLimited),
        "before_sleep": before_sleep,
        "reraise": True,
    }

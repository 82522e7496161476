"""Every public error of the STOQ provider.

Every error is an :class:`~airflow.exceptions.AirflowException`, so a task that meets one fails (and Airflow's
``retries`` apply). Messages say what happened and what to do; they never contain the API key or a customer's
e-mail address or phone number. (Without Airflow installed, :mod:`stoq_provider.api` still imports: the errors
are then plain exceptions.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    from airflow.exceptions import AirflowException
except ImportError:  # pragma: no cover - the STOQ client (stoq_provider.api) used without Airflow
    AirflowException = Exception  # type: ignore[misc,assignment]

if TYPE_CHECKING:
    from stoq_provider.api.results import BulkNotifyResult


class StoqError(AirflowException):
    """Base class of every STOQ provider error.

    :param message: what happened and what to do about it.
    :param status_code: the HTTP status STOQ answered with, if any.
    :param reason: STOQ's own explanation, redacted, if it gave one.
    """

    # Airflow types AirflowException.status_code as an HTTPStatus (a class default of 500); here it is the
    # status STOQ answered with, or None when there was no answer, as it always has been.
    status_code: int | None  # type: ignore[assignment]

    def __init__(self, message: str, *, status_code: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason


class StoqConfigError(StoqError):
    """The connection or a parameter is not usable; nothing was sent to STOQ."""


class StoqAuthError(StoqError):
    """STOQ rejected the API key (HTTP 401)."""


class StoqNotFoundError(StoqError):
    """STOQ does not know the intent, shop or variant (HTTP 404)."""


class StoqRequestError(StoqError):
    """STOQ refused the request as invalid (HTTP 400, 422 or another 4xx); the server's reason is included.

    :param sent_intent_ids: for ``delete_intents``' ``422``: the IDs STOQ named as already sent.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        reason: str | None = None,
        sent_intent_ids: list[str] | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, reason=reason)
        self.sent_intent_ids = list(sent_intent_ids or [])


class StoqRateLimitError(StoqError):
    """The store's rate budget stayed exhausted after the configured number of waits (HTTP 429)."""


class StoqServerError(StoqError):
    """STOQ, or a proxy in front of it, failed (5xx, an HTML error page, or a body that is not JSON)."""

    #: True when the request may have been applied although no usable answer came back.
    ambiguous: bool = True


class StoqTransportError(StoqServerError):
    """No answer came back: the connection failed, was dropped, or the read timed out."""


class StoqProtocolError(StoqError):
    """STOQ answered with a body of a shape this provider does not understand; nothing is guessed."""


class StoqBulkNotifyInterrupted(StoqError):
    """A bulk notify stopped part way; :attr:`result` holds what is known to have happened.

    Nothing was sent twice. Running the same notify again (or letting Airflow retry the task) sends only
    the intents that are still pending, because STOQ refuses to re-send without ``allow_resend``.

    :param message: what happened and what to do.
    :param result: the outcome of the intents handled before the interruption.
    """

    def __init__(self, message: str, *, result: BulkNotifyResult, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.result = result


class StoqBudgetWait(Exception):
    """The store's budget asks for a wait longer than the client sleeps in a worker; nothing was sent for it.

    Raised, instead of sleeping, only by a client told to (``defer_waits_over``): a deferrable notify catches it,
    defers to a trigger until the budget is back, and goes on with what is still pending.

    :param seconds: how long the budget asks to wait.
    :param result: what the bulk notify handled before the wait (``None`` before any batch).
    """

    def __init__(self, seconds: float, result: BulkNotifyResult | None = None) -> None:
        super().__init__(f"the store's STOQ budget asks for a wait of {seconds:.1f} s")
        self.seconds = seconds
        self.result = result


class StoqNotifyPartialFailure(StoqError):
    """Some intents could not be notified; everything that could be sent was sent.

    :param message: what happened and what to do.
    :param summary: the run's JSON summary.
    """

    def __init__(self, message: str, *, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


class StoqPendingIntentsWaitError(StoqError):
    """The deferred wait for waiting customers ended with an error reported by the trigger."""

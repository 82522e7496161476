"""Exactly-once delivery of restock alerts over an API that has no idempotency key.

STOQ refuses to re-send an intent unless ``allow_resend`` is true, but a notify request that timed out, lost
its connection or met a 5xx may or may not have been applied. :class:`NotifyRunner` therefore never repeats a
notify blindly: after an ambiguous failure it reads each intent of the batch back, counts those whose
``notified_at`` is now set as sent (or already notified), and sends only the rest, always with
``allow_resend=False``. The number of such rounds and the time they take are bounded by the connection's
retry settings; when they run out, or when the re-check itself cannot be done, the run stops with
:class:`~stoq_provider.exceptions.StoqBulkNotifyInterrupted` rather than guess.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenacity import Retrying

from stoq_provider.exceptions import (
    StoqBulkNotifyInterrupted,
    StoqError,
    StoqNotFoundError,
    StoqRequestError,
    StoqServerError,
)
from stoq_provider.utils import endpoints
from stoq_provider.utils.protocol import check_notify_answer, means_already_notified, parse_bulk_notify, redact
from stoq_provider.utils.results import BulkNotifyResult
from stoq_provider.utils.retry import resend_retry_kwargs

if TYPE_CHECKING:
    from stoq_provider.hooks.stoq import StoqHook

#: Seconds of clock difference tolerated when deciding whether a ``notified_at`` is from our own request.
CLOCK_TOLERANCE = 2.0


class _RecheckFailed(StoqError):
    """The read-back after an ambiguous notify failed; the batch's outcome is unknown."""


@dataclass
class _Batch:
    pending: list[str]
    resend: bool
    #: True once an ambiguous failure was read back: the IDs still pending were confirmed unsent then, so
    #: an "already notified" now can only come from our own earlier request, which STOQ applied late.
    recovering: bool = False


def _epoch(value: Any) -> float | None:
    """A ``notified_at`` value as Unix time, or ``None`` if it cannot be read."""
    import pendulum

    try:
        parsed = pendulum.parse(str(value))
    except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
        return None
    timestamp = getattr(parsed, "timestamp", None)
    return float(timestamp()) if callable(timestamp) else None


class NotifyRunner:
    """Send restock alerts for a list of intent IDs, batch by batch, exactly once each.

    :param hook: the :class:`~stoq_provider.hooks.stoq.StoqHook` to send through.
    :param allow_resend: the caller's wish to alert again customers already alerted; retries never use it.
    :param batch_size: IDs per bulk request.
    :param single: use the single-intent endpoint (``notify_intent``) instead of the bulk one.
    :param progress: called with the running result after each batch.
    """

    def __init__(
        self,
        hook: StoqHook,
        *,
        allow_resend: bool,
        batch_size: int = 1,
        single: bool = False,
        progress: Callable[[BulkNotifyResult], None] | None = None,
    ) -> None:
        self.hook = hook
        self.allow_resend = allow_resend
        self.batch_size = 1 if single else batch_size
        self.single = single
        self.progress = progress
        self.log = hook.log

    def run(self, ids: Sequence[str]) -> BulkNotifyResult:
        """Deliver ``ids`` (already validated and de-duplicated) and return what happened to each."""
        result = BulkNotifyResult(requested=len(ids))
        batches = [list(ids[i : i + self.batch_size]) for i in range(0, len(ids), self.batch_size)]
        for number, batch in enumerate(batches, 1):
            try:
                self._deliver(batch, result)
            except StoqBulkNotifyInterrupted as exc:
                raise StoqBulkNotifyInterrupted(self._stopped(result, exc), result=result) from None
            except StoqError as exc:
                if result.handled == 0:
                    raise
                raise StoqBulkNotifyInterrupted(self._stopped(result, exc), result=result) from exc
            self.log.debug("STOQ notify batch %d/%d done: %s.", number, len(batches), result)
            if self.progress is not None:
                self.progress(result)
        return result

    @staticmethod
    def _stopped(result: BulkNotifyResult, exc: StoqError) -> str:
        left = result.requested - result.handled
        return (
            f"STOQ notify stopped with {result.handled} of {result.requested} intents handled ({result}); "
            f"{left} not handled. Cause: {exc} Nothing was sent twice: run the notify again (or let Airflow "
            "retry the task) to send what is still pending."
        )

    # ------------------------------------------------------------------ one batch

    def _deliver(self, batch: list[str], result: BulkNotifyResult) -> None:
        state = _Batch(pending=batch, resend=self.allow_resend)
        settings = self.hook.settings
        try:
            for attempt in Retrying(**resend_retry_kwargs(settings, self.log)):
                with attempt:
                    self._attempt(state, result)
        except _RecheckFailed as exc:
            raise StoqBulkNotifyInterrupted(str(exc), result=result) from None
        except StoqServerError as exc:
            raise StoqBulkNotifyInterrupted(
                f"{len(state.pending)} intents are confirmed unsent but STOQ kept failing ({exc})",
                result=result,
            ) from None

    def _attempt(self, state: _Batch, result: BulkNotifyResult) -> None:
        started = time.time()
        result.requests += 1
        try:
            sent, failures = self._call(state.pending, state.resend)
        except StoqServerError as exc:
            self.log.warning(
                "No clear answer to a notify of %d intents (%s). Reading them back before sending the rest.",
                len(state.pending),
                type(exc).__name__,
            )
            state.pending = self._recheck(state.pending, state.resend, started, result, cause=exc)
            state.resend = False
            state.recovering = True
            if state.pending:
                raise
            return
        self._record(state, sent, failures, started, result)

    def _call(self, ids: list[str], resend: bool) -> tuple[list[str], list[tuple[str, str]]]:
        if not self.single:
            return parse_bulk_notify(self.hook._send(endpoints.bulk_notify(ids, allow_resend=resend)))
        (iid,) = ids
        try:
            check_notify_answer(self.hook._send(endpoints.notify_intent(iid, allow_resend=resend)), iid)
        except StoqRequestError as exc:
            if exc.status_code != 422:
                raise
            reason = exc.reason or "STOQ refused to notify (422) without a reason"
            if not resend and not means_already_notified(reason) and self._notified_at(iid) is not None:
                reason = "already notified"
            return [], [(iid, reason)]
        return [iid], []

    def _record(
        self,
        state: _Batch,
        sent: list[str],
        failures: list[tuple[str, str]],
        started: float,
        result: BulkNotifyResult,
    ) -> None:
        asked = dict.fromkeys(state.pending)
        for iid in sent:
            if iid in asked:
                del asked[iid]
                result.sent.append(iid)
        for iid, error in failures:
            if iid not in asked:
                continue
            del asked[iid]
            if not state.resend and means_already_notified(error):
                (result.sent if state.recovering else result.already_notified).append(iid)
            else:
                result.failed.append((iid, redact(error, self.hook.settings.api_key)))
        if asked:
            # STOQ's answer did not mention these IDs: read them back rather than guess.
            unsent = self._recheck(list(asked), state.resend, started, result, cause=None)
            result.failed.extend(
                (iid, "STOQ's answer did not mention this intent; it is still unsent") for iid in unsent
            )
        state.pending = []

    # ------------------------------------------------------------------ read-back

    def _notified_at(self, iid: str) -> float | None:
        value = self.hook.get_intent(iid).get("notified_at")
        if value in (None, ""):
            return None
        epoch = _epoch(value)
        # Set but unreadable: it was sent by someone, so it must not be sent again; count it as ours.
        return math.inf if epoch is None else epoch

    def _recheck(
        self,
        ids: list[str],
        resend: bool,
        started: float,
        result: BulkNotifyResult,
        *,
        cause: StoqError | None,
    ) -> list[str]:
        """Classify ``ids`` by reading them back; return those still unsent."""
        unsent: list[str] = []
        try:
            for iid in ids:
                try:
                    notified_at = self._notified_at(iid)
                except StoqNotFoundError:
                    result.failed.append((iid, "Intent not found"))
                    continue
                if notified_at is None:
                    unsent.append(iid)
                elif notified_at >= started - CLOCK_TOLERANCE:
                    result.sent.append(iid)
                elif resend:
                    result.failed.append(
                        (iid, "resend not confirmed after an unclear answer; not retried to avoid a double alert")
                    )
                else:
                    result.already_notified.append(iid)
        except StoqError as exc:
            checked = len(ids) - len(unsent)
            raise _RecheckFailed(
                f"A notify of {len(ids)} intents got no clear answer "
                f"({type(cause).__name__ if cause else 'incomplete answer'}) and reading them back failed "
                f"after {checked} ({exc}); their outcome is unknown, so nothing more was sent"
            ) from None
        if unsent:
            self.log.info("Read-back: %d of %d intents still unsent; sending only those.", len(unsent), len(ids))
        return unsent

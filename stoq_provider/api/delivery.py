"""Exactly-once delivery of restock alerts over an API that has no idempotency key.

STOQ refuses to re-send an intent unless ``allow_resend`` is true, but a notify request that timed out, lost
its connection or met a 5xx may or may not have been applied. :class:`NotifyRunner` therefore never repeats a
notify blindly: after an ambiguous failure it reads the batch back (by the cheapest safe route, see
:mod:`stoq_provider.api.readback`), counts those now notified as sent, and sends only the rest, always with
``allow_resend=False``. The number of such rounds is bounded by the connection's retry settings; when they run
out, or when the read-back itself cannot be done, the run stops with
:class:`~stoq_provider.exceptions.StoqBulkNotifyInterrupted` rather than guess.

Three more things STOQ leaves open are handled here:

* the largest bulk call: a ``400`` (or a proxy's ``413``) to a bulk notify of more than one ID applied
  nothing, so the batch is split and the run goes on at the largest size STOQ accepts (:class:`BatchCap`);
* the wording of refusals: a per-intent refusal whose reason is not recognised is settled from the intent's
  own state (``notified_at``, ``unsubscribed_at``, ``blocked_at``), reading only those intents;
* the order of answers: IDs an answer does not mention are read back, never assumed.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenacity import Retrying

from stoq_provider.api import contract
from stoq_provider.api.contract import OPTED_OUT, check_notify_answer, means_already_notified, parse_bulk_notify, redact
from stoq_provider.api.readback import MISSING, NOTIFIED, IntentReader, IntentState
from stoq_provider.api.results import BulkNotifyResult
from stoq_provider.api.retry import resend_retry_kwargs
from stoq_provider.exceptions import (
    StoqBudgetWait,
    StoqBulkNotifyInterrupted,
    StoqError,
    StoqRequestError,
    StoqServerError,
)

if TYPE_CHECKING:
    from stoq_provider.api.interface import ClientInterface

#: Seconds of clock difference tolerated when deciding whether a ``notified_at`` is from our own request.
CLOCK_TOLERANCE = 2.0
#: Statuses to a bulk notify of several IDs that mean "too many at once; nothing applied".
TOO_LARGE_STATUSES = (400, 413)
#: Refusal reasons recognised by their text; any other is settled from the intent's state.
_OPTED_OUT_TEXT = re.compile(r"unsubscrib|opted?[\s-]*out|blocked", re.IGNORECASE)
_NOT_FOUND_TEXT = re.compile(r"not\s+found", re.IGNORECASE)


class _RecheckFailed(StoqError):
    """The read-back after an ambiguous notify failed; the batch's outcome is unknown."""


class _TooLarge(Exception):
    """STOQ refused a bulk notify for its size; ``pending`` were not applied."""

    def __init__(self, pending: list[str], cause: StoqRequestError) -> None:
        super().__init__(str(cause))
        self.pending = pending
        self.cause = cause


@dataclass
class _Batch:
    pending: list[str]
    resend: bool
    started: float = 0.0
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


def _recognised(reason: str) -> bool:
    return bool(means_already_notified(reason) or _OPTED_OUT_TEXT.search(reason) or _NOT_FOUND_TEXT.search(reason))


class BatchCap:
    """The bulk size STOQ accepts, learned from its refusals during one run.

    Starts at the wanted size. A refusal for size ``n`` bounds it from above, an accepted call of ``n`` from
    below; sizes in between are tried by halving the gap (first the number a refusal names, if any), so the
    run settles on the largest accepted size in a few calls.

    :param wanted: the ``batch_size`` asked for.
    """

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.accepted = 0
        #: The smallest size refused so far (``None``: nothing refused).
        self.refused: int | None = None
        #: The first size refused (for the message).
        self.first_refused: int | None = None
        self._hint: int | None = None

    @property
    def settled(self) -> bool:
        """True once the largest accepted size is known (or nothing was ever refused)."""
        return self.refused is None or self.accepted >= self.refused - 1

    def size(self) -> int:
        """The size of the next batch."""
        if self.refused is None:
            return self.wanted
        if self.settled:
            return max(1, self.accepted)
        if self._hint is not None and self.accepted < self._hint < self.refused:
            return self._hint
        return max(1, (self.accepted + self.refused) // 2)

    def on_accepted(self, size: int) -> None:
        if self._hint is not None and size == self._hint and self.refused is not None:
            self.refused = size + 1  # the refusal named this size and STOQ took it: no more probing
        self.accepted = max(self.accepted, size)
        self._hint = None

    def on_refused(self, size: int, message: str) -> None:
        self.first_refused = self.first_refused or size
        self.refused = size if self.refused is None else min(self.refused, size)
        self.accepted = min(self.accepted, size - 1)
        numbers = [int(n) for n in re.findall(r"\d+", message) if 0 < int(n) < size]
        self._hint = max(numbers) if numbers else None


class NotifyRunner:
    """Send restock alerts for a list of intent IDs, batch by batch, exactly once each.

    :param client: the client to send through (a :class:`~stoq_provider.api.client.StoqClient`, e.g. the hook).
    :param allow_resend: the caller's wish to alert again customers already alerted; retries never use it.
    :param batch_size: IDs per bulk request (fewer if STOQ refuses that many).
    :param single: use the single-intent endpoint (``notify_intent``) instead of the bulk one.
    :param progress: called with the running result after each batch.
    :param listings: per variant, the pending listing the IDs were chosen from (makes read-backs cheap).
    """

    def __init__(
        self,
        client: ClientInterface,
        *,
        allow_resend: bool,
        batch_size: int = 1,
        single: bool = False,
        progress: Callable[[BulkNotifyResult], None] | None = None,
        listings: Mapping[Any, Sequence[str]] | None = None,
    ) -> None:
        self.client = client
        self.allow_resend = allow_resend
        self.cap = BatchCap(1 if single else batch_size)
        self.single = single
        self.progress = progress
        self.reader = IntentReader(client, listings)
        self.log = client.log
        self._cap_reported = False

    def run(self, ids: Sequence[str]) -> BulkNotifyResult:
        """Deliver ``ids`` (already validated and de-duplicated) and return what happened to each."""
        result = BulkNotifyResult(requested=len(ids))
        todo = deque(ids)
        number = 0
        try:
            while todo:
                batch = [todo.popleft() for _ in range(min(self.cap.size(), len(todo)))]
                try:
                    self._deliver(batch, result)
                except _TooLarge as too_large:
                    self.cap.on_refused(len(batch), too_large.cause.reason or "")
                    todo.extendleft(reversed(too_large.pending))
                    continue
                except StoqBulkNotifyInterrupted as exc:
                    raise StoqBulkNotifyInterrupted(self._stopped(result, exc), result=result) from None
                except StoqBudgetWait as wait:  # the batch was not sent (or refused): the caller defers
                    wait.result = result
                    raise
                except StoqError as exc:
                    if result.handled == 0:
                        raise
                    raise StoqBulkNotifyInterrupted(self._stopped(result, exc), result=result) from exc
                self.cap.on_accepted(len(batch))
                self._report_cap()
                number += 1
                self.log.debug("STOQ notify batch %d done: %s.", number, result)
                if self.progress is not None:
                    self.progress(result)
        finally:
            result.read_requests = self.reader.requests
            self._report_cap(final=True)
        return result

    def _report_cap(self, *, final: bool = False) -> None:
        """Say once, at WARNING, which ``batch_size`` STOQ accepts, once it is known."""
        cap = self.cap
        if self._cap_reported or cap.refused is None or not (cap.settled or final):
            return
        self._cap_reported = True
        self.log.warning(
            "STOQ refused a bulk notify of %d intent IDs (nothing was applied); batches of %d were accepted and "
            "were used for the rest of the run. Set batch_size=%d (operator argument or the connection's "
            "'batch_size' extra) to skip the refused calls.",
            cap.first_refused,
            cap.accepted,
            cap.accepted,
        )

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
        settings = self.client.settings
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
        state.started = time.time()
        result.requests += 1
        try:
            sent, failures = self._call(state.pending, state.resend)
        except StoqRequestError as exc:
            if not self.single and exc.status_code in TOO_LARGE_STATUSES and len(state.pending) > 1:
                raise _TooLarge(state.pending, exc) from None
            raise
        except StoqServerError as exc:
            self.log.warning(
                "No clear answer to a notify of %d intents (%s). Reading them back before sending the rest.",
                len(state.pending),
                type(exc).__name__,
            )
            state.pending = self._recheck(state, result, cause=exc)
            state.resend = False
            state.recovering = True
            if state.pending:
                raise
            return
        self._record(state, sent, failures, result)

    def _call(self, ids: list[str], resend: bool) -> tuple[list[str], list[tuple[str, str]]]:
        if not self.single:
            return parse_bulk_notify(self.client.send(contract.bulk_notify(ids, allow_resend=resend)))
        (iid,) = ids
        try:
            check_notify_answer(self.client.send(contract.notify_intent(iid, allow_resend=resend)), iid)
        except StoqRequestError as exc:
            if exc.status_code != 422:
                raise
            return [], [(iid, exc.reason or "STOQ refused to notify (422) without a reason")]
        return [iid], []

    def _record(
        self,
        state: _Batch,
        sent: list[str],
        failures: list[tuple[str, str]],
        result: BulkNotifyResult,
    ) -> None:
        asked = dict.fromkeys(state.pending)
        for iid in sent:
            if iid in asked:
                del asked[iid]
                result.sent.append(iid)
        unclear: dict[str, str] = {}
        for iid, error in failures:
            if iid not in asked:
                continue
            del asked[iid]
            if not state.resend and means_already_notified(error):
                (result.sent if state.recovering else result.already_notified).append(iid)
            elif _recognised(error):
                result.failed.append((iid, redact(error, self.client.settings.api_key)))
            else:
                unclear[iid] = error
        if unclear:
            # A refusal in words we do not know: the intent's own state says what it means.
            self._settle_refusals(unclear, state, result)
        if asked:
            # STOQ's answer did not mention these IDs: read them back rather than guess.
            unsent = self._recheck(state, result, cause=None, ids=list(asked))
            result.failed.extend(
                (iid, "STOQ's answer did not mention this intent; it is still unsent") for iid in unsent
            )
        state.pending = []

    def _settle_refusals(self, refusals: dict[str, str], state: _Batch, result: BulkNotifyResult) -> None:
        states = self._read(list(refusals), state, result)
        for iid, error in refusals.items():
            found = states[iid]
            reason = redact(error, self.client.settings.api_key)
            if found.kind == NOTIFIED and not state.resend:
                (result.sent if state.recovering else result.already_notified).append(iid)
            elif found.kind == MISSING:
                result.failed.append((iid, f"Intent not found ({reason})"))
            else:
                opted = [name for name in OPTED_OUT if found.intent and found.intent.get(name)]
                result.failed.append((iid, f"{reason} ({', '.join(opted)} set)" if opted else reason))

    # ------------------------------------------------------------------ read-back

    def _read(self, ids: list[str], state: _Batch, result: BulkNotifyResult) -> dict[str, IntentState]:
        gone = set(result.sent) | set(result.already_notified)
        return self.reader.read(ids, gone=gone, by_id=state.resend)

    def _recheck(
        self,
        state: _Batch,
        result: BulkNotifyResult,
        *,
        cause: StoqError | None,
        ids: list[str] | None = None,
    ) -> list[str]:
        """Classify ``ids`` (by default the batch's pending ones) by reading them back; return those still unsent."""
        ids = list(state.pending if ids is None else ids)
        try:
            states = self._read(ids, state, result)
        except StoqBudgetWait:
            raise  # the batch's outcome stays unknown: the next leg lists what is still pending
        except StoqError as exc:
            raise _RecheckFailed(
                f"A notify of {len(ids)} intents got no clear answer "
                f"({type(cause).__name__ if cause else 'incomplete answer'}) and reading them back failed "
                f"({exc}); their outcome is unknown, so nothing more was sent"
            ) from None
        unsent: list[str] = []
        for iid in ids:
            found = states[iid]
            if found.kind == MISSING:
                result.failed.append((iid, "Intent not found"))
            elif found.kind != NOTIFIED:
                unsent.append(iid)
            elif found.intent is None:
                result.sent.append(iid)  # left the pending listing: our request was applied
            else:
                self._classify_notified(iid, found.intent, state, result)
        if unsent:
            self.log.info("Read-back: %d of %d intents still unsent; sending only those.", len(unsent), len(ids))
        return unsent

    @staticmethod
    def _classify_notified(iid: str, intent: Mapping[str, Any], state: _Batch, result: BulkNotifyResult) -> None:
        epoch = _epoch(intent.get("notified_at"))
        # Set but unreadable: it was sent by someone, so it must not be sent again; count it as ours.
        notified_at = math.inf if epoch is None else epoch
        if notified_at >= state.started - CLOCK_TOLERANCE:
            result.sent.append(iid)
        elif state.resend:
            result.failed.append(
                (iid, "resend not confirmed after an unclear answer; not retried to avoid a double alert")
            )
        else:
            result.already_notified.append(iid)

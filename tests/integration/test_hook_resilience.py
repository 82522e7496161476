"""StoqHook under pressure: rate budget pacing, 429 recovery, read retries, ambiguous writes, transport rules."""

from __future__ import annotations

import time

import pytest
import requests

from stoq_provider.exceptions import StoqConfigError, StoqServerError, StoqTransportError
from stoq_provider.hooks.stoq import StoqHook
from tests.support.helpers import calls


def _pending_ids(server):
    return [
        i["id"]
        for i in server.intents()
        if i["notified_at"] is None and not (i["unsubscribed_at"] or i["customer_unsubscribed_at"] or i["blocked_at"])
    ]


def test_small_budget_is_paced_without_a_single_429(stoq_sandbox, hook):
    """Acceptance: 20 points per 2 s; stream 5,000 intents and bulk-notify 2,000 with zero 429 answers."""
    stoq_sandbox.reset(seed=11, intents=5000, variants=20, pending_only=True)
    stoq_sandbox.configure(budget=20, window=2.0)

    listed = [intent["id"] for intent in hook.list_intents()]
    result = hook.bulk_notify_intents(listed[:2000], batch_size=50)

    stats = stoq_sandbox.stats()
    assert len(listed) == 5000 and len(set(listed)) == 5000
    assert len(result.sent) == 2000 and result.ok
    assert stats["rate_limited"] == 0
    assert stats["points_charged"] == 10 * 1 + 40 * 2
    assert stoq_sandbox.ledger()["total_sends"] == 2000 and stoq_sandbox.ledger()["duplicates"] == []


def test_429_from_a_budget_drained_elsewhere_is_waited_out(stoq_sandbox, hook):
    stoq_sandbox.configure(budget=10, window=1.0)
    # Another client of the same store spends the whole budget first.
    for _ in range(5):
        requests.post(
            f"{stoq_sandbox.base_url}/intents/notify_intent",
            json={"id": "nope", "allow_resend": False},
            headers={"X-Auth-Token": stoq_sandbox.api_key},
            timeout=5,
        )
    ids = _pending_ids(stoq_sandbox)[:30]
    result = hook.bulk_notify_intents(ids, batch_size=3)
    stats = stoq_sandbox.stats()
    assert sorted(result.sent) == sorted(ids)
    assert stats["rate_limited"] >= 1, "the drained budget must have produced at least one 429"
    assert stoq_sandbox.ledger()["duplicates"] == []


def test_429_that_never_ends_is_a_clear_error(stoq_sandbox, set_stoq_connection):
    from stoq_provider.exceptions import StoqRateLimitError

    set_stoq_connection(max_rate_limit_retries=2, max_rate_limit_wait=0.1)
    stoq_sandbox.configure(budget=1, window=30.0)
    with pytest.raises(StoqRateLimitError, match="429"):
        StoqHook().notify_intent(_pending_ids(stoq_sandbox)[0])  # costs 2 points: never fits
    assert stoq_sandbox.stats()["rate_limited"] == 3
    assert stoq_sandbox.ledger()["total_sends"] == 0


@pytest.mark.parametrize("kind", ["error500", "html502", "drop", "slow"])
def test_reads_retry_transient_failures(stoq_sandbox, set_stoq_connection, kind, capsys):
    set_stoq_connection(timeout=0.5)
    stoq_sandbox.set_faults(script=[kind, kind], slow_seconds=1.0)
    ref = stoq_sandbox.intents()[0]
    assert StoqHook().get_intent(ref["id"]) == ref
    assert stoq_sandbox.stats()["faults"][kind] == 2
    time.sleep(1.0 if kind == "slow" else 0)  # let the abandoned slow requests finish inside this test
    warnings = [line for line in capsys.readouterr().out.splitlines() if "[warning" in line and "Retrying in" in line]
    assert len(warnings) == 2


def test_reads_give_up_after_bounded_attempts(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(max_retries=3)
    stoq_sandbox.outage(seconds=30, kind="html502")
    started = time.monotonic()
    with pytest.raises(StoqServerError, match="HTML error page"):
        StoqHook().get_intent("abc")
    assert time.monotonic() - started < 5
    assert stoq_sandbox.stats()["faults"]["html502"] == 3


def test_slow_answer_ends_in_a_timeout_within_the_bound(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(timeout=0.3, max_retries=1)
    stoq_sandbox.set_faults(script=["slow"], slow_seconds=1.5)
    started = time.monotonic()
    with pytest.raises(StoqTransportError, match="timeout"):
        StoqHook().get_intent("abc")
    assert time.monotonic() - started < 1.0
    time.sleep(1.5)  # let the abandoned slow request finish inside this test


@pytest.mark.parametrize("kind", ["lost", "slow", "error500", "html502", "drop"])
def test_ambiguous_bulk_notify_is_rechecked_not_resent(stoq_sandbox, set_stoq_connection, kind):
    set_stoq_connection(timeout=0.5)
    stoq_sandbox.set_faults(script=[kind], endpoints=["bulk_notify"], slow_seconds=1.0)
    ids = _pending_ids(stoq_sandbox)[:40]
    result = StoqHook().bulk_notify_intents(ids, batch_size=20)
    time.sleep(1.2)  # let a slow request finish on the server before reading the ledger
    ledger = stoq_sandbox.ledger()
    assert sorted(result.sent) == sorted(ids) and result.ok
    assert ledger["sends"] == dict.fromkeys(ids, 1)
    # The read-back happened: one get_intent per intent of the faulted batch.
    assert calls(stoq_sandbox, "get_intent") == 20


def test_lost_single_notify_is_rechecked(stoq_sandbox, hook):
    stoq_sandbox.set_faults(script=["lost"], endpoints=["notify_intent"])
    target = _pending_ids(stoq_sandbox)[0]
    assert hook.notify_intent(target) == {"success": True, "intent_id": target, "already_notified": False}
    assert stoq_sandbox.ledger()["sends"] == {target: 1}


def test_retry_never_sets_allow_resend(stoq_sandbox, hook):
    stoq_sandbox.set_faults(script=["error500"], endpoints=["bulk_notify"])
    ids = _pending_ids(stoq_sandbox)[:5]
    result = hook.bulk_notify_intents(ids, allow_resend=True)
    assert sorted(result.sent) == sorted(ids)
    events = stoq_sandbox.ledger()["events"]
    assert [e["allow_resend"] for e in events] == [False] * 5


def test_two_thousand_intents_with_faults_each_sent_exactly_once(stoq_sandbox, set_stoq_connection):
    """Acceptance: with faults on, every one of 2,000 intents is sent exactly once (ledger)."""
    set_stoq_connection(timeout=0.5, max_retries=8, retry_max_time=60)
    stoq_sandbox.reset(seed=21, intents=2000, variants=10, pending_only=True)
    # Faults, not the budget, are under test here (read-backs cost a point per intent).
    stoq_sandbox.configure(budget=100_000, window=60.0)
    stoq_sandbox.set_faults(
        rate=0.2,
        kinds=["error500", "html502", "drop", "slow", "lost"],
        endpoints=["bulk_notify", "get_intent"],
        slow_seconds=0.8,
        seed=7,
    )
    ids = [i["id"] for i in stoq_sandbox.intents()]
    result = StoqHook().bulk_notify_intents(ids, batch_size=100)
    time.sleep(1.0)
    ledger, stats = stoq_sandbox.ledger(), stoq_sandbox.stats()
    assert len(result.sent) == 2000 and result.ok
    assert ledger["total_sends"] == 2000 and ledger["duplicates"] == []
    assert set(ledger["sends"]) == set(ids)
    assert sum(stats["faults"].values()) > 0


def test_outage_interrupts_with_partial_result(stoq_sandbox, set_stoq_connection):
    from stoq_provider.exceptions import StoqBulkNotifyInterrupted

    set_stoq_connection(max_retries=2, retry_max_time=2)
    ids = _pending_ids(stoq_sandbox)[:40]
    hook = StoqHook()
    batches = []

    def outage_after_first_batch(result):
        batches.append(len(result.sent))
        if len(batches) == 1:
            stoq_sandbox.outage(seconds=30, kind="error500")

    with pytest.raises(StoqBulkNotifyInterrupted, match="run the notify again") as info:
        hook.bulk_notify_intents(ids, batch_size=10, progress=outage_after_first_batch)
    assert len(info.value.result.sent) == 10
    stoq_sandbox.outage(seconds=0)
    rest = hook.bulk_notify_intents(ids, batch_size=10)
    assert len(rest.sent) == 30 and len(rest.already_notified) == 10
    assert stoq_sandbox.ledger()["duplicates"] == []


# ---------------------------------------------------------------- transport rules


def test_plain_http_only_to_loopback(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_STOQ_DEFAULT",
        '{"conn_type": "stoq", "password": "k", "host": "http://stoq.example.com/api/v1/external"}',
    )
    with pytest.raises(StoqConfigError, match="http://"):
        StoqHook().get_intent("abc")


def test_every_request_has_a_timeout(stoq_sandbox, hook, monkeypatch):
    seen = []
    original = requests.Session.request

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("timeout"))
        assert kwargs.get("verify") is not False
        assert kwargs.get("allow_redirects") is False
        return original(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    list(hook.list_intents())
    hook.bulk_notify_intents(_pending_ids(stoq_sandbox)[:3])
    assert seen and all(t == (2.0, 2.0) for t in seen)

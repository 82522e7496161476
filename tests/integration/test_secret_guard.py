"""The secret/PII guard itself: it must catch each kind of leak from each source it watches."""

from __future__ import annotations

import pytest

from tests.support.secret_guard import SecretGuard, leaks_in

KEY = "stoq_test_key_0123456789abcdef"
PII = {"api_key": KEY, "emails": ["ada.lovelace.1@example.com"], "phones": ["15550000001"]}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"Authorization failed for {KEY}", {"API key"}),
        ("mail sent to Ada.Lovelace.1@example.com today", {"customer e-mail"}),
        ("sms +15550000001", {"customer phone"}),
        ("intent 3f2a... for variant 40000000001 notified (15550000002 is nobody)", set()),
        ("someone.else@example.com", set()),
    ],
)
def test_leaks_in_finds_each_kind_and_only_real_needles(text, found):
    assert leaks_in(text, keys={KEY}, emails={PII["emails"][0]}, phones={PII["phones"][0]}) == found


def test_guard_watches_exceptions_reprs_and_connection_keys(monkeypatch):
    from airflow.models.connection import Connection

    from stoq_provider.api.settings import StoqSettings
    from stoq_provider.exceptions import StoqError
    from stoq_provider.hooks.stoq import StoqHook

    guard = SecretGuard(monkeypatch)
    StoqError(f"bad key {KEY}")  # created and caught: still seen
    StoqSettings.from_connection(Connection(conn_id="x", conn_type="stoq", password="another-key-abcdef"))
    hook = StoqHook(stoq_conn_id="x")
    assert "another-key-abcdef" in guard.keys
    assert guard.exception_messages[-1] == f"bad key {KEY}"
    assert hook in guard.objects and "StoqHook" in guard.reprs()[-1]
    with pytest.raises(AssertionError, match="exception messages: API key"):
        guard.check(PII, {"exception messages": guard.exception_messages})
    with pytest.raises(AssertionError, match="logs: customer e-mail"):
        guard.check(PII, {"logs": ["to ada.lovelace.1@example.com"]})
    # The report names the kind and the source, never the secret itself.
    with pytest.raises(AssertionError) as info:
        guard.check(PII, {"xcom": [f"{KEY} 15550000001"]})
    assert KEY not in str(info.value) and "15550000001" not in str(info.value)
    guard.exception_messages.clear()  # this test's own deliberate leaks must not fail the real guard

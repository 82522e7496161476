"""Transport rules for both clients (requests and httpx): timeouts, TLS, redirects, bounded retries."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from stoq_provider.exceptions import StoqConfigError, StoqRequestError, StoqServerError, StoqTransportError
from stoq_provider.hooks.stoq import StoqHook
from stoq_provider.hooks.stoq_async import StoqAsyncHook
from tests.support.redirect import redirecting_host
from tests.support.tls import self_signed_https


def _first_intent(server) -> str:
    return server.intents()[0]["id"]


# ---------------------------------------------------------------------------------------------- retries


def test_read_retries_stop_at_retry_max_time_even_with_many_attempts_left(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(max_retries=100, retry_max_time=1.5, retry_wait_initial=0.05, retry_wait_max=0.2)
    stoq_sandbox.outage(seconds=30, kind="error500")
    started = time.monotonic()
    with pytest.raises(StoqServerError, match="500"):
        StoqHook().get_intent(_first_intent(stoq_sandbox))
    took = time.monotonic() - started
    attempts = stoq_sandbox.stats()["faults"]["error500"]
    assert 1.5 <= took < 3.0, "bounded by retry_max_time (plus at most one wait), not by the 100 attempts"
    assert 2 < attempts < 100


def test_async_read_retries_are_bounded_in_count_and_time(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(max_retries=3, retry_max_time=10)
    stoq_sandbox.outage(seconds=30, kind="html502")

    async def read():
        hook = StoqAsyncHook()
        try:
            return [i async for i in hook.list_intents()]
        finally:
            await hook.aclose()

    started = time.monotonic()
    with pytest.raises(StoqServerError, match="HTML error page"):
        asyncio.run(read())
    assert time.monotonic() - started < 5
    assert stoq_sandbox.stats()["faults"]["html502"] == 3


# ---------------------------------------------------------------------------------------------- timeouts


def test_async_slow_answer_ends_in_a_timeout_within_the_bound(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(timeout=0.3, max_retries=1)
    stoq_sandbox.set_faults(script=["slow"], slow_seconds=1.5)

    async def read():
        hook = StoqAsyncHook()
        try:
            return [i async for i in hook.list_intents()]
        finally:
            await hook.aclose()

    started = time.monotonic()
    with pytest.raises(StoqTransportError, match="timeout"):
        asyncio.run(read())
    assert time.monotonic() - started < 1.0
    time.sleep(1.5)  # let the abandoned slow request finish inside this test


def test_async_client_always_has_timeouts_tls_and_no_redirects(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(timeout=7, connect_timeout=3)

    async def client_settings():
        hook = StoqAsyncHook()
        try:
            transport = await hook.transport()
            client = transport.client
            return client.timeout, client.follow_redirects, transport.settings.verify
        finally:
            await hook.aclose()

    timeout, follows, verify = asyncio.run(client_settings())
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (3, 7, 7, 7)
    assert follows is False and verify is True


# ---------------------------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("client", ["sync", "async"])
def test_key_never_follows_a_redirect(monkeypatch, client):
    """A redirect is refused (never followed), so the key never reaches another host, by either hook."""
    with redirecting_host() as (base_url, seen_keys):
        key = f"stoq_api_key_redirect_{client}"
        monkeypatch.setenv(
            "AIRFLOW_CONN_STOQ_DEFAULT", json.dumps({"conn_type": "stoq", "password": key, "host": base_url})
        )

        async def read():
            hook = StoqAsyncHook()
            try:
                return [i async for i in hook.list_intents()]
            finally:
                await hook.aclose()

        with pytest.raises(StoqRequestError, match="redirect"):
            StoqHook().get_intent("abc") if client == "sync" else asyncio.run(read())
        assert seen_keys == [key]  # only the configured host saw it


# ---------------------------------------------------------------------------------------------- TLS failures


def _async_list(hook: StoqAsyncHook) -> list[dict]:
    async def run() -> list[dict]:
        try:
            return [intent async for intent in hook.list_intents()]
        finally:
            await hook.aclose()

    return asyncio.run(run())


def test_https_to_a_plain_http_server_says_so_and_shows_the_http_form(stoq_sandbox, monkeypatch):
    """The sandbox speaks plain HTTP; a connection saying https:// is told which host to set instead."""
    https = stoq_sandbox.base_url.replace("http://", "https://")
    connection = {"conn_type": "stoq", "host": https, "password": stoq_sandbox.api_key, "extra": {"max_retries": 1}}
    monkeypatch.setenv("AIRFLOW_CONN_STOQ_DEFAULT", json.dumps(connection))
    for run in (lambda: list(StoqHook().list_intents()), lambda: _async_list(StoqAsyncHook())):
        with pytest.raises(StoqConfigError) as caught:
            run()
        message = str(caught.value)
        assert "plain HTTP" in message and repr(stoq_sandbox.base_url) in message, message
        assert "ca_bundle" not in message and stoq_sandbox.api_key not in message


def test_an_untrusted_certificate_points_to_ca_bundle_and_ca_bundle_fixes_it(monkeypatch):
    with self_signed_https() as (base_url, ca_file):
        connection = {"conn_type": "stoq", "host": base_url, "password": "stoq_api_key_" + "t" * 32}
        monkeypatch.setenv("AIRFLOW_CONN_STOQ_TLS", json.dumps({**connection, "extra": {"max_retries": 1}}))
        for run in (lambda: list(StoqHook("stoq_tls").list_intents()), lambda: _async_list(StoqAsyncHook("stoq_tls"))):
            with pytest.raises(StoqConfigError, match=r"not trusted.*'ca_bundle'"):
                run()
        extra = {"max_retries": 1, "ca_bundle": str(ca_file)}
        monkeypatch.setenv("AIRFLOW_CONN_STOQ_TLS", json.dumps({**connection, "extra": extra}))
        assert list(StoqHook("stoq_tls").list_intents()) == []
        assert _async_list(StoqAsyncHook("stoq_tls")) == []

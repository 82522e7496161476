"""Transport rules for both clients (requests and httpx): timeouts, TLS, redirects, bounded retries."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from stoq_provider.exceptions import StoqRequestError, StoqServerError, StoqTransportError
from stoq_provider.hooks.stoq import StoqHook
from stoq_provider.hooks.stoq_async import StoqAsyncHook
from tests.support.redirect import redirecting_host


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

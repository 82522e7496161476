"""The Airflow-free clients of stoq_provider.api over real HTTP against the sandbox: no connection, no hook.

The hooks are these clients with their settings read from an Airflow connection; these tests show the
clients stand on their own (``tests/unit/test_layout.py`` shows that nothing under ``api/`` imports Airflow).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import pytest

from stoq_provider.api.client import StoqClient
from stoq_provider.api.client_async import AsyncStoqClient
from stoq_provider.api.contract import OPTED_OUT
from stoq_provider.api.settings import StoqSettings
from stoq_provider.exceptions import StoqAuthError, StoqConfigError
from tests.support.helpers import FAST_EXTRAS, calls


def _settings(server, **overrides) -> StoqSettings:
    options = {**FAST_EXTRAS, **overrides}
    options.pop("shop_domain", None)
    return StoqSettings(api_key=server.api_key, base_url=server.base_url, shop_domain=server.shop_domain, **options)


def test_the_sync_client_lists_and_notifies_exactly_once(stoq_sandbox):
    stoq_sandbox.reset(seed=5, intents=700, variants=2)
    client = StoqClient(_settings(stoq_sandbox), log=logging.getLogger("test.client"))
    variant = stoq_sandbox.catalog()[0]["shopify_variant_id"]
    pending = [i["id"] for i in client.list_intents(shopify_variant_id=variant, notified=False)]
    waiting = [i for i in stoq_sandbox.intents() if i["shopify_variant_id"] == variant and not i["notified_at"]]
    opted_out = {i["id"] for i in waiting if any(i[name] for name in OPTED_OUT)}

    result = client.bulk_notify_intents(pending)
    again = client.bulk_notify_intents(pending)

    assert set(pending) == {i["id"] for i in waiting} and len(pending) > len(opted_out) > 0
    assert set(result.sent) == set(pending) - opted_out and {iid for iid, _ in result.failed} == opted_out
    assert again.sent == [] and set(again.already_notified) == set(result.sent)
    assert set(stoq_sandbox.ledger()["sends"]) == set(result.sent) and stoq_sandbox.ledger()["duplicates"] == []
    assert client.served_per_page == 500


def test_the_sync_client_says_what_a_bad_key_is(stoq_sandbox):
    client = StoqClient(StoqSettings(api_key="stoq_api_key_wrong", base_url=stoq_sandbox.base_url))
    with pytest.raises(StoqAuthError):
        client.get_intent("anything")
    assert calls(stoq_sandbox, status=401) == 1


def test_the_async_client_lists_every_page(stoq_sandbox):
    stoq_sandbox.reset(seed=6, intents=1234, variants=3)
    expected = sorted(i["id"] for i in stoq_sandbox.intents())

    async def listed() -> list[str]:
        client = AsyncStoqClient(_settings(stoq_sandbox))
        try:
            return [intent["id"] async for intent in client.list_intents()]
        finally:
            await client.aclose()

    assert sorted(asyncio.run(listed())) == expected
    assert calls(stoq_sandbox, "list_intents") == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"api_key": " "}, "no API key"),
        ({"base_url": "http://stoq.example.com/api/v1/external"}, "refusing plain http://"),
    ],
)
def test_settings_built_directly_are_guarded_like_a_connection(overrides, message):
    with pytest.raises(StoqConfigError, match=message):
        StoqSettings(**{"api_key": "stoq_api_key_" + "k" * 32, **overrides})


def test_the_sync_client_runs_where_airflow_cannot_be_imported(stoq_sandbox):
    """A fresh interpreter in which ``import airflow`` fails lists and notifies through ``StoqClient``."""
    stoq_sandbox.reset(seed=7, intents=40, variants=1)
    code = (
        "import sys\n"
        "class NoAirflow:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'airflow' or name.startswith('airflow.'):\n"
        "            raise ImportError('no airflow here')\n"
        "sys.meta_path.insert(0, NoAirflow())\n"
        "from stoq_provider.api.client import StoqClient\n"
        "from stoq_provider.api.settings import StoqSettings\n"
        f"client = StoqClient(StoqSettings(api_key={stoq_sandbox.api_key!r}, base_url={stoq_sandbox.base_url!r}))\n"
        "ids = [i['id'] for i in client.list_intents(notified=False)]\n"
        "print(len(ids), len(client.bulk_notify_intents(ids).sent))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    waiting = [i for i in stoq_sandbox.intents() if not any(i[name] for name in OPTED_OUT)]
    sent = set(stoq_sandbox.ledger()["sends"])
    assert sent and all(i["notified_at"] for i in waiting) and stoq_sandbox.ledger()["duplicates"] == []
    listed, notified = map(int, done.stdout.split())
    assert notified == len(sent) and listed >= notified

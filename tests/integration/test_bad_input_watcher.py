"""The bad-input matrix for ``StoqDemandEventTrigger`` (the rules and helpers of ``test_bad_input.py``).

A bad argument fails where the watcher is built (the DAG file), with one clear :class:`StoqConfigError`, before
any request. A fault met while watching (a revoked key, a missing connection, plain HTTP to a remote host, an
answer it cannot read, STOQ down) must not end the watch, which no task would restart: each round logs one
clear line, without the key or contact data, yields no event, and the next round tries again.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from stoq_provider.exceptions import StoqConfigError
from stoq_provider.triggers.demand import StoqDemandEventTrigger
from tests.integration.test_bad_input import (
    FORBIDDEN,
    MISSING_CONN,
    WRONG_KEY,
    Case,
    Env,
    _check_reach,
    _param,
    always,
    check_message,
)

pytestmark = [pytest.mark.bad_input, pytest.mark.sandbox]


@pytest.fixture(name="env")
def _env(stoq_sandbox, set_stoq_connection, monkeypatch: pytest.MonkeyPatch) -> Env:
    return Env(stoq_sandbox, monkeypatch, set_stoq_connection)


def watcher(**kwargs: Any) -> StoqDemandEventTrigger:
    return StoqDemandEventTrigger(**kwargs)


CONSTRUCTOR_CASES = [
    Case(
        "watcher-variant-id-non-numeric",
        lambda env: watcher(shopify_variant_ids=["4000abc"]),
        StoqConfigError,
        r"shopify_variant_ids",
        r"must be a positive integer",
    ),
    Case(
        "watcher-product-id-negative",
        lambda env: watcher(shopify_product_ids=[-5]),
        StoqConfigError,
        r"shopify_product_ids",
        r"must be a positive integer",
    ),
    Case(
        "watcher-variant-id-bool",
        lambda env: watcher(shopify_variant_ids=[True]),
        StoqConfigError,
        r"shopify_variant_ids",
        r"must be a positive integer",
    ),
    Case(
        "watcher-variant-ids-bare-string",
        lambda env: watcher(shopify_variant_ids="40000000000"),
        StoqConfigError,
        r"shopify_variant_ids",
        r"must be a list of Shopify IDs",
    ),
    Case(
        "watcher-variant-ids-empty",
        lambda env: watcher(shopify_variant_ids=[]),
        StoqConfigError,
        r"shopify_variant_ids",
        r"give at least one ID, or None to watch the whole store",
    ),
    Case(
        "watcher-min-new-zero",
        lambda env: watcher(min_new=0),
        StoqConfigError,
        r"min_new",
        r"must be a positive integer",
    ),
    Case(
        "watcher-min-new-text",
        lambda env: watcher(min_new="5"),
        StoqConfigError,
        r"min_new",
        r"must be a positive integer",
    ),
    Case(
        "watcher-intent-type-unknown",
        lambda env: watcher(intent_types=["backorder"]),
        StoqConfigError,
        r"intent_types",
        r"must name one or more of restock, wishlist_reminder",
    ),
    Case(
        "watcher-poke-interval-zero",
        lambda env: watcher(poke_interval=0),
        StoqConfigError,
        r"poke_interval",
        r"must be at least 0.1 s",
    ),
    Case(
        "watcher-poke-interval-nan",
        lambda env: watcher(poke_interval=math.nan),
        StoqConfigError,
        r"poke_interval",
        r"must be at least 0.1 s",
    ),
    Case(
        "watcher-conn-id-blank",
        lambda env: watcher(stoq_conn_id=" "),
        StoqConfigError,
        r"stoq_conn_id",
        r"must be a connection ID",
    ),
]


@pytest.mark.parametrize("case", [_param(case) for case in CONSTRUCTOR_CASES])
def test_a_bad_watcher_argument_fails_where_it_is_built(env: Env, case: Case) -> None:
    env.connect()
    with pytest.raises(case.error) as info:
        case.run(env)
    assert type(info.value) is case.error
    check_message(env, str(info.value), case.names, case.hint)
    _check_reach(env, "before")


@dataclass(frozen=True)
class RoundCase:
    """A fault met while watching: each round logs one clear line, no event, the watch goes on."""

    id: str
    names: str
    hint: str
    where: str = "sandbox"
    conn_id: str = "stoq_default"
    conn: Mapping[str, Any] = field(default_factory=dict)
    faults: Mapping[str, Any] | None = None


ROUND_CASES = [
    RoundCase("watcher-revoked-key-401", r"401", r"Check the password", conn={"password": WRONG_KEY}),
    RoundCase("watcher-conn-missing", re.escape(repr(MISSING_CONN)), r"Create it", "before", conn_id=MISSING_CONN),
    RoundCase(
        "watcher-conn-http-to-remote-host",
        r"http://",
        r"Use https://",
        "before",
        conn={"host": "http://192.0.2.10/api/v1/external"},
    ),
    RoundCase(
        "watcher-list-wrong-shape",
        r"list_intents",
        r"upgrade airflow-provider-stoq or report it",
        faults=always("wrong_shape", "list_intents"),
    ),
    RoundCase(
        "watcher-stoq-down-502",
        r"502",
        r"STOQ|retr",
        faults=always("html502", "list_intents"),
    ),
]


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in ROUND_CASES])
def test_a_fault_while_watching_is_logged_each_round_and_the_watch_goes_on(
    env: Env, case: RoundCase, capsys: pytest.CaptureFixture[str]
) -> None:
    env.connect(**case.conn, max_retries=1)
    if case.faults:
        env.sandbox.set_faults(**case.faults)
    trigger = StoqDemandEventTrigger(stoq_conn_id=case.conn_id, poke_interval=0.1)
    events: list[Any] = []

    async def watch() -> None:
        async def pump() -> None:
            async for event in trigger.run():
                events.append(event.payload)

        task = asyncio.create_task(pump())
        await asyncio.sleep(1.5)
        assert not task.done(), "the watch ended on a fault"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(watch())
    out = capsys.readouterr().out
    print(out, end="")  # hand the output back to the leak guard
    lines = [line for line in out.splitlines() if "STOQ signups: round failed" in line]
    assert len(lines) >= 3, f"one line per failed round expected:\n{out}"
    for line in lines:
        check_message(env, line.split("STOQ signups: round failed", 1)[1], case.names, case.hint)
    assert not any(text in out for text in FORBIDDEN), "a traceback or an HTTP client's text was logged"
    assert events == []
    assert env.sandbox.ledger()["total_sends"] == 0
    _check_reach(env, case.where)

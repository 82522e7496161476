"""StoqDemandEventTrigger against the sandbox, over real HTTP, in a real event loop.

Each scenario runs the trigger as the triggerer would (its ``run()``, or on Airflow 3.3+ its shared stream and
filter), adds signups to the sandbox between poll rounds, and reads the events it yields. Rounds are counted
from the sandbox's own request counters, never from the trigger.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from stoq_provider.triggers.demand import StoqDemandEventTrigger
from tests.support.helpers import FAST_EXTRAS, calls
from tests.support.intents import NEW_VARIANT, new_intents

OTHER_VARIANT = NEW_VARIANT + 1
ROUND = 0.2  # seconds between poll rounds in these tests


class Watching:
    """A trigger's event stream, pumped in the background; the test acts between its poll rounds."""

    def __init__(self, server, events_source) -> None:
        self.server = server
        self.source = events_source
        self.events: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watching:
        async def pump() -> None:
            async for event in self.source:
                self.events.append(event.payload)

        self.task = asyncio.create_task(pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        if self.task.done():
            self.task.result()  # the stream must never end on its own: re-raise what ended it
            raise AssertionError("the trigger's event stream ended")
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    async def rounds(self) -> int:
        return await asyncio.to_thread(calls, self.server, "list_intents")

    async def wait_rounds(self, n: int, timeout: float = 20.0) -> None:
        """Wait until ``n`` more listings were answered (each round lists once when nothing is new)."""
        target = await self.rounds() + n
        await self.until(lambda: True, timeout, rounds=target)

    async def until(self, probe: Callable[[], bool], timeout: float = 20.0, *, rounds: int = 0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not (probe() and await self.rounds() >= rounds):
            assert self.task is not None and not self.task.done(), "the trigger's event stream ended"
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out; events so far: {self.events}")
            await asyncio.sleep(0.05)

    async def add(self, intents: list[dict[str, Any]]) -> list[str]:
        added = await asyncio.to_thread(self.server.add_intents, intents)
        return [intent["id"] for intent in added]


def watching(server, trigger: StoqDemandEventTrigger) -> Watching:
    return Watching(server, trigger.run())


def run(coro) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


# ---------------------------------------------------------------------------------------------- arguments


def test_kwargs_are_canonical_json_and_the_watcher_hash_is_stable():
    one = StoqDemandEventTrigger(
        shopify_variant_ids=[40000000002, "40000000001", 40000000002],
        intent_types=["wishlist_reminder", "restock"],
        poke_interval=30,
    )
    two = StoqDemandEventTrigger(
        shopify_variant_ids=(40000000001, 40000000002),
        intent_types=("restock", "wishlist_reminder"),
        poke_interval=30.0,
    )
    path, kwargs = one.serialize()
    assert path == "stoq_provider.triggers.demand.StoqDemandEventTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs == {
        "stoq_conn_id": "stoq_default",
        "shopify_variant_ids": [40000000001, 40000000002],
        "shopify_product_ids": None,
        "min_new": 1,
        "intent_types": ["restock", "wishlist_reminder"],
        "poke_interval": 30.0,
    }
    assert two.serialize() == (path, kwargs)
    assert StoqDemandEventTrigger.hash(*one.serialize()) == StoqDemandEventTrigger.hash(*two.serialize())
    module, name = path.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (path, kwargs)
    assert one.state_key() == two.state_key() == rebuilt.state_key()
    assert one.state_key() != StoqDemandEventTrigger(shopify_variant_ids=[40000000001]).state_key()


def test_is_an_asset_watcher_trigger():
    from airflow.sdk import Asset, AssetWatcher

    asset = Asset(
        "stoq://example-shop/signups",
        watchers=[AssetWatcher(name="stoq_signups", trigger=StoqDemandEventTrigger(poke_interval=60))],
    )
    assert asset.watchers[0].trigger.serialize()[1]["shopify_variant_ids"] is None


# ---------------------------------------------------------------------------------------------- events


def test_baseline_then_one_event_per_burst_and_none_while_nothing_happens(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()

    async def scenario() -> list[dict[str, Any]]:
        trigger = StoqDemandEventTrigger(poke_interval=ROUND)
        async with watching(stoq_sandbox, trigger) as w:
            await w.wait_rounds(2)
            assert w.events == [], "signups waiting before the first round are not news"
            first = await w.add(new_intents(3))
            await w.until(lambda: len(w.events) == 1)
            await w.wait_rounds(5)
            assert len(w.events) == 1, "no event while nothing new happens"
            second = await w.add(new_intents(2, variant=OTHER_VARIANT))
            await w.until(lambda: len(w.events) == 2)
            await w.wait_rounds(5)
        assert sorted(w.events[0]["new_intent_ids"]) == sorted(first)
        assert sorted(w.events[1]["new_intent_ids"]) == sorted(second)
        return w.events

    events = run(scenario())
    assert len(events) == 2
    assert events[0]["new"] == {str(NEW_VARIANT): 3} and events[0]["new_total"] == 3
    assert events[0]["pending"] == {str(NEW_VARIANT): 3} and events[0]["total"] == 3
    assert events[1]["new"] == {str(OTHER_VARIANT): 2}
    assert events[1]["pending"] == {str(OTHER_VARIANT): 2} and events[1]["total"] == 2
    for event in events:
        assert json.loads(json.dumps(event)) == event


def test_min_new_accumulates_and_only_waiting_signups_on_watched_variants_count(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()

    async def scenario() -> list[dict[str, Any]]:
        trigger = StoqDemandEventTrigger(shopify_variant_ids=[NEW_VARIANT], min_new=3, poke_interval=ROUND)
        async with watching(stoq_sandbox, trigger) as w:
            await w.wait_rounds(2)
            ignored = (
                new_intents(1, customer_unsubscribed_at="2026-01-02T00:00:00Z")
                + new_intents(1, blocked_at="2026-01-02T00:00:00Z")
                + new_intents(1, unsubscribed_at="2026-01-02T00:00:00Z")
                + new_intents(2, kind="wishlist_reminder")
                + new_intents(4, variant=OTHER_VARIANT)
            )
            await w.add(ignored)
            await w.add(new_intents(2))
            await w.wait_rounds(4)
            assert w.events == [], "2 new waiting signups on the watched variant: fewer than min_new"
            await w.add(new_intents(1))
            await w.until(lambda: len(w.events) == 1)
            await w.wait_rounds(4)
        return w.events

    [event] = run(scenario())
    assert event["new"] == {str(NEW_VARIANT): 3} and event["new_total"] == 3 and len(event["new_intent_ids"]) == 3
    assert event["pending"] == {str(NEW_VARIANT): 3}, "opted-out, blocked and other-type signups never count"


def test_a_failed_round_loses_nothing(stoq_sandbox, set_stoq_connection):
    set_stoq_connection(max_retries=1)

    async def scenario() -> list[dict[str, Any]]:
        trigger = StoqDemandEventTrigger(poke_interval=ROUND)
        async with watching(stoq_sandbox, trigger) as w:
            await w.wait_rounds(2)
            await asyncio.to_thread(stoq_sandbox.outage, 1.0)
            added = await w.add(new_intents(2))
            await w.until(lambda: len(w.events) == 1)
            await w.wait_rounds(3)
        assert sorted(w.events[0]["new_intent_ids"]) == sorted(added)
        return w.events

    assert len(run(scenario())) == 1


class MemoryStateStore:
    """The asset state store's async accessors (``aget``/``aset``), in memory: a triggerer restart kept apart
    from Airflow (the deployment test restarts a real triggerer on Airflow 3.3)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)


def test_a_restart_with_its_watermark_neither_re_reports_nor_loses(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()
    store = MemoryStateStore()

    def trigger() -> StoqDemandEventTrigger:
        made = StoqDemandEventTrigger(poke_interval=ROUND)
        made.asset_state_store = store  # what the 3.3 triggerer injects
        return made

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        async with watching(stoq_sandbox, trigger()) as before:
            await before.wait_rounds(2)
            await before.add(new_intents(2))
            await before.until(lambda: len(before.events) == 1)
            await before.wait_rounds(1)
        while_down = await before.add(new_intents(3, variant=OTHER_VARIANT))
        async with watching(stoq_sandbox, trigger()) as after:
            await after.until(lambda: len(after.events) == 1)
            await after.wait_rounds(4)
        return before.events, after.events, while_down

    before, after, while_down = run(scenario())
    assert len(before) == 1 and len(after) == 1
    # Only the signups of the pause, none reported before it.
    assert sorted(after[0]["new_intent_ids"]) == sorted(while_down)
    [(key, saved)] = store.values.items()
    assert key.startswith("stoq_demand_watermark:") and "@" not in saved


def test_without_a_state_store_a_restart_sets_a_new_baseline(stoq_sandbox, set_stoq_connection):
    set_stoq_connection()

    async def scenario() -> list[dict[str, Any]]:
        await asyncio.to_thread(stoq_sandbox.add_intents, new_intents(2))
        async with watching(stoq_sandbox, StoqDemandEventTrigger(poke_interval=ROUND)) as w:
            await w.wait_rounds(5)
        return w.events

    assert run(scenario()) == [], "Airflow 3.1/3.2: what waits when the watcher starts is the baseline"


def test_a_revoked_key_is_logged_without_the_key_and_watching_goes_on(
    stoq_sandbox, set_stoq_connection, capsys, monkeypatch
):
    revoked = json.loads(stoq_sandbox.connection_json(**FAST_EXTRAS))
    revoked["password"] = "revoked-key-0000000000"
    monkeypatch.setenv("AIRFLOW_CONN_STOQ_DEFAULT", json.dumps(revoked))

    async def refused() -> int:
        return await asyncio.to_thread(calls, stoq_sandbox, "list_intents", 401)

    async def scenario() -> list[dict[str, Any]]:
        async with watching(stoq_sandbox, StoqDemandEventTrigger(poke_interval=ROUND)) as w:
            for _ in range(400):  # three rounds refused, at most 20 s
                if await refused() >= 3:
                    break
                await asyncio.sleep(0.05)
            set_stoq_connection()  # the key is fixed in the connection: the next round reads it
            await w.wait_rounds(2)
            await w.add(new_intents(1))
            await w.until(lambda: len(w.events) == 1)
        return w.events

    [event] = run(scenario())
    assert event["new_total"] == 1
    out = capsys.readouterr().out
    assert out.count("fix the connection: STOQ rejected the API key (401)") >= 3
    assert "revoked-key-0000000000" not in out


# ---------------------------------------------------------------------------------------------- one poll (3.3+)


def test_watchers_of_one_store_share_one_poll_on_airflow_3_3_and_poll_alone_before(stoq_sandbox, set_stoq_connection):
    """On 3.3+ through Airflow's own shared-stream manager; on 3.1/3.2 (no such manager) each runs its ``run()``."""
    try:
        from airflow.triggers.shared_stream import SharedStreamManager
    except ImportError:  # Airflow 3.1 / 3.2
        SharedStreamManager = None
    set_stoq_connection()
    watchers = [
        StoqDemandEventTrigger(shopify_variant_ids=[NEW_VARIANT], poke_interval=ROUND),
        StoqDemandEventTrigger(shopify_variant_ids=[OTHER_VARIANT], poke_interval=ROUND),
        StoqDemandEventTrigger(shopify_variant_ids=[NEW_VARIANT, OTHER_VARIANT], min_new=5, poke_interval=ROUND),
    ]
    keys = {watcher.shared_stream_key() for watcher in watchers}
    assert len(keys) == 1
    key = keys.pop()

    async def scenario() -> tuple[list[list[dict[str, Any]]], int, int]:
        manager = SharedStreamManager() if SharedStreamManager is not None else None
        streams = [
            Watching(
                stoq_sandbox,
                w.filter_shared_stream(manager.subscribe(trigger_id=n, trigger=w, key=key)) if manager else w.run(),
            )
            for n, w in enumerate(watchers)
        ]
        for stream in streams:
            await stream.__aenter__()
        first = streams[0]
        await first.wait_rounds(2)
        start = await first.rounds()
        begun = asyncio.get_running_loop().time()
        await first.add(new_intents(2))
        await first.add(new_intents(1, variant=OTHER_VARIANT))
        await first.until(lambda: len(streams[0].events) == 1 and len(streams[1].events) == 1)
        await first.wait_rounds(5)
        listings = await first.rounds() - start
        rounds = round((asyncio.get_running_loop().time() - begun) / ROUND)
        for stream in streams:
            await stream.__aexit__(None, None, None)
        if manager is not None:
            for n in range(len(watchers)):
                await manager.unsubscribe(n, key)
        return [stream.events for stream in streams], listings, rounds

    events, listings, rounds = run(scenario())
    assert [len(e) for e in events] == [1, 1, 0], "each watcher its own news; the third needs 5"
    assert events[0][0]["new"] == {str(NEW_VARIANT): 2} and events[1][0]["new"] == {str(OTHER_VARIANT): 1}
    if SharedStreamManager is not None:
        # One store listing per round for the three watchers, plus one count per variant with news.
        assert listings <= rounds + 2 + 2, (listings, rounds)
    else:
        assert listings >= 2 * rounds, (listings, rounds)  # three watchers, each listing every round


@pytest.mark.parametrize("zone", [-12, 14])
def test_new_signups_are_seen_whatever_time_zone_the_day_filter_uses(stoq_sandbox, set_stoq_connection, zone):
    """The docs do not say in which time zone ``start_date`` picks the creation day (sandbox ``day_zone_hours``)."""
    stoq_sandbox.reset(day_zone_hours=zone)
    set_stoq_connection()

    async def scenario() -> list[dict[str, Any]]:
        async with watching(stoq_sandbox, StoqDemandEventTrigger(poke_interval=ROUND)) as w:
            await w.wait_rounds(2)
            await w.add(new_intents(2))
            await w.until(lambda: len(w.events) == 1)
        return w.events

    [event] = run(scenario())
    assert event["new_total"] == 2

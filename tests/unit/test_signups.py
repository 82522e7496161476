"""The demand watcher's watermark (pure logic): what is new, what is forgotten, and the listing window."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from stoq_provider.restock.signups import MAX_EVENT_IDS, SignupWatch, event_payload, window_start


def intent(n: int, variant: int = 1, day: str = "2026-12-04", **fields: object) -> dict[str, object]:
    return {"id": f"i{n}", "type": "restock", "shopify_variant_id": variant, "created_at": f"{day}T10:00:00Z", **fields}


def watch(**kwargs: object) -> SignupWatch:
    options: dict[str, object] = {"variant_ids": frozenset(), "product_ids": frozenset(), "intent_types": ("restock",)}
    options.update(kwargs)
    return SignupWatch(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("hour", [0, 5, 11, 12, 13, 23])
@pytest.mark.parametrize("interval", [1, 60, 3600, 6 * 3600])
def test_the_window_covers_every_signup_since_the_last_round_in_every_time_zone(hour, interval):
    now = datetime(2026, 12, 4, hour, 30, tzinfo=timezone.utc)
    since = now - timedelta(seconds=interval)
    start = window_start(now, since, interval)
    # A signup created just after the previous round, and visible up to 12 hours late, in UTC-12 .. UTC+14.
    created = since - timedelta(hours=12)
    for zone in range(-12, 15):
        assert (created + timedelta(hours=zone)).date().isoformat() >= start, (zone, start)


def test_a_watcher_back_after_a_long_pause_lists_from_its_last_round():
    now = datetime(2026, 12, 10, 12, tzinfo=timezone.utc)
    assert window_start(now, now - timedelta(days=5), 60) <= "2026-12-04"


def test_what_is_new_counts_once_and_only_waiting_signups_on_what_is_watched():
    w = watch(variant_ids=frozenset({1}))
    opted_out = intent(3, customer_unsubscribed_at="2026-12-04T11:00:00Z")
    other_type = intent(4, type="wishlist_reminder")
    listing = [intent(1), intent(1), intent(2), intent(5, variant=2), opted_out, other_type, intent(6, notified_at="x")]
    assert [i["id"] for i in w.fresh(listing)] == ["i1", "i2"]
    w.mark_seen(w.fresh(listing))
    assert w.fresh(listing) == []


def test_a_signup_that_leaves_and_comes_back_is_not_new_again():
    w = watch()
    w.mark_seen([intent(1)])
    w.finish_round(datetime(2026, 12, 4, 12, tzinfo=timezone.utc), "2026-12-03")
    assert w.fresh([intent(2)]) != [] and w.fresh([intent(1)]) == []  # i1 left the listing, then came back


def test_ids_are_forgotten_once_no_window_can_list_them():
    w = watch()
    w.mark_seen([intent(1, day="2026-11-20"), intent(2, day="2026-12-03"), intent(3, created_at="garbled")])
    w.finish_round(datetime(2026, 12, 4, 12, tzinfo=timezone.utc), "2026-12-03")
    assert set(w.seen) == {"i2", "i3"}


def test_the_watermark_round_trips_through_json_and_refuses_what_it_did_not_write():
    w = watch()
    w.mark_seen([intent(1)])
    w.finish_round(datetime(2026, 12, 4, 12, tzinfo=timezone.utc), "2026-12-03")
    again = watch()
    assert again.load(json.loads(json.dumps(w.dump()))) and again.seen == w.seen and again.started
    assert again.last_poll == w.last_poll
    for junk in (None, [], {"version": 99}, {"version": 1, "seen": [], "last_poll": "x"}, "text"):
        assert not watch().load(junk)


def test_the_event_is_json_and_carries_at_most_max_ids():
    news = [intent(n, variant=1 + n % 2) for n in range(MAX_EVENT_IDS + 5)]
    polled = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)
    event = event_payload(news, {1: 600, 2: 700}, polled)
    assert json.loads(json.dumps(event)) == event
    assert event["new_total"] == MAX_EVENT_IDS + 5 and len(event["new_intent_ids"]) == MAX_EVENT_IDS
    assert sum(map(len, event["new_intent_ids_by_variant"].values())) == MAX_EVENT_IDS
    assert event["new"] == {"1": 503, "2": 502} and event["pending"] == {"1": 600, "2": 700}
    assert event["total"] == 1300


def test_new_signups_held_below_min_new_keep_the_window_open_until_reported():
    w = watch()
    w.mark_seen([intent(1, day="2026-11-01")])
    w.finish_round(datetime(2026, 11, 28, 12, tzinfo=timezone.utc), "2026-11-27")
    held = [intent(2, day="2026-11-28")]  # one new signup, min_new not reached
    w.hold(w.fresh(held))
    later = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)
    w.finish_round(later, w.window(later, 60))
    assert w.window(later, 60) <= "2026-11-27", "the listing still reaches the held signup"
    assert "i2" not in w.seen and [i["id"] for i in w.fresh(held)] == ["i2"]
    again = watch()
    assert again.load(json.loads(json.dumps(w.dump()))) and again.held_since == "2026-11-28"
    w.mark_seen(held)
    w.hold([])
    assert w.window(later, 60) > "2026-11-27", "once reported, the window is the usual one"

"""Pure logic of paging (``Listing``) and of the learned bulk size (``BatchCap``), against every reading.

The same rules run over real HTTP in ``test_readings.py``; here each server reading is a small function, so
corner cases no sandbox switch produces (no meta at all, ``has_next_page`` only, a server that ignores
``page``) are covered too.
"""

from __future__ import annotations

import math

import pytest

from stoq_provider.api.delivery import BatchCap
from stoq_provider.api.paging import Listing, intent_key
from stoq_provider.exceptions import StoqProtocolError


def server(n: int, *, cap: int = 500, meta: str = "full", phantom: int = 0, ignore_page: bool = False):
    """A listing of ``n`` intents served ``cap`` at a time; ``meta`` says which signals the answers carry."""
    items = [{"id": f"i{k}"} for k in range(n)]

    def page(number: int, asked: int) -> tuple[list, dict, bool | None]:
        size = min(asked, cap)
        start = 0 if ignore_page else (number - 1) * size
        chunk = items[start : start + size]
        total = n + phantom
        full = {"total_count": total, "page": number, "per_page": size, "total_pages": math.ceil(total / size)}
        if meta == "full":
            return chunk, full, None
        if meta == "has_next":
            return chunk, {}, number * size < total
        if meta == "per_page":
            return chunk, {"per_page": size}, None
        if meta == "count":
            return chunk, {"total_count": total}, None
        return chunk, {}, None  # no signal at all

    return page


def drain(page, asked: int = 500) -> tuple[list[str], int]:
    listing = Listing("list_intents", "intents", key=intent_key, asked=asked)
    got: list[str] = []
    requests = 0
    while listing.next_page():
        requests += 1
        got += [i["id"] for i in listing.take(*page(listing.page, asked))]
    return got, requests


@pytest.mark.parametrize("cap", [1, 7, 100, 200, 499, 500])
@pytest.mark.parametrize("meta", ["full", "has_next", "per_page", "count", "none"])
@pytest.mark.parametrize("n", [0, 1, 99, 100, 101, 990, 1000])
def test_every_item_is_listed_once_whatever_the_page_size_and_signals(cap, meta, n):
    got, requests = drain(server(n, cap=cap, meta=meta))
    assert got == [f"i{k}" for k in range(n)]
    pages = max(1, math.ceil(n / cap))
    # With a count or has_next_page the listing costs exactly its pages; with less it may ask one more.
    assert requests == pages if meta in ("full", "has_next", "count") else requests <= pages + 1


def test_a_page_shorter_than_asked_is_not_the_end_when_the_server_says_more():
    # The reported bug: 990 intents, 100 a page, the client asked 500 and stopped after one page.
    got, requests = drain(server(990, cap=100))
    assert len(got) == 990 and requests == 10


def test_a_listing_short_of_its_own_count_is_listed_again_then_fails_naming_both_counts():
    with pytest.raises(StoqProtocolError) as info:
        drain(server(250, cap=100, phantom=5))
    message = str(info.value)
    assert "list_intents" in message and "250 distinct intents" in message and "counts 255" in message
    assert "\n" not in message


def test_a_listing_that_catches_up_on_the_second_pass_is_complete():
    calls = {"n": 0}
    inner = server(300, cap=100)

    def shifting(number, asked):
        calls["n"] += 1
        items, meta, has_next = inner(number, asked)
        if calls["n"] == 2:  # one intent of page 2 slid to page 1 meanwhile: the first pass misses it
            items = items[1:]
        return items, meta, has_next

    got, _ = drain(shifting)
    assert sorted(got, key=lambda i: int(i[1:])) == [f"i{k}" for k in range(300)] and len(got) == len(set(got))


def test_a_server_ignoring_page_is_caught_not_looped():
    with pytest.raises(StoqProtocolError, match="incomplete"):
        drain(server(300, cap=100, ignore_page=True))


def test_pages_larger_than_served_or_with_repeats_are_refused():
    listing = Listing("list_intents", "intents", key=intent_key, asked=500)
    listing.next_page()
    with pytest.raises(StoqProtocolError, match="3 intents on a page of 2"):
        listing.take([{"id": "a"}, {"id": "b"}, {"id": "c"}], {"per_page": 2}, None)
    listing = Listing("list_intents", "intents", key=intent_key, asked=500)
    listing.next_page()
    with pytest.raises(StoqProtocolError, match="repeats"):
        listing.take([{"id": "a"}, {"id": "a"}], {}, None)


def test_a_server_serving_more_than_asked_without_saying_so_is_accepted():
    got, _ = drain(server(60, cap=25, meta="per_page"), asked=1)
    assert len(got) == 60


@pytest.mark.parametrize(
    ("wanted", "cap", "message"),
    [
        (1000, 100, "at most 100 intent_ids per request"),
        (1000, 100, "Bad request"),
        (1000, 37, "too big"),
        (1000, 999, ""),
        (250, 1, "no"),
    ],
)
def test_batch_cap_settles_on_the_largest_accepted_size(wanted, cap, message):
    learned = BatchCap(wanted)
    refusals = 0
    for _ in range(40):
        size = learned.size()
        if size > cap:
            refusals += 1
            learned.on_refused(size, message)
        else:
            learned.on_accepted(size)
        if learned.settled:
            break
    assert learned.settled and learned.size() == cap
    assert refusals <= math.ceil(math.log2(wanted)) + 1
    if str(cap) in message:
        assert refusals == 1  # the number the refusal names is tried first


def test_batch_cap_keeps_the_wanted_size_until_refused():
    learned = BatchCap(1000)
    learned.on_accepted(1000)
    assert learned.size() == 1000 and learned.settled


class _RefusingHook:
    """A hook whose every bulk notify is refused with 400, as for a malformed request (no server sends that for
    a valid ID, so it is simulated): the split must stop at one ID and surface the error."""

    def __init__(self) -> None:
        import logging

        from stoq_provider.api.settings import StoqSettings

        self.log = logging.getLogger("test")
        self.settings = StoqSettings(api_key="stoq_api_key_" + "t" * 32, max_retries=1)
        self.sizes: list[int] = []
        self.served_per_page = None

    def send(self, request):
        from stoq_provider.exceptions import StoqRequestError

        self.sizes.append(len(request.json_body["intent_ids"]))
        raise StoqRequestError("STOQ refused it with 400: bad request", status_code=400, reason="bad request")


def test_a_400_for_one_id_is_a_real_error_after_splitting_down():
    from stoq_provider.api.delivery import NotifyRunner
    from stoq_provider.exceptions import StoqRequestError

    hook = _RefusingHook()
    with pytest.raises(StoqRequestError, match="400"):
        NotifyRunner(hook, allow_resend=False, batch_size=16).run([f"i{k}" for k in range(16)])
    assert hook.sizes == [16, 8, 4, 2, 1]

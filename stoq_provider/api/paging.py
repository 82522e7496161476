"""Paging that cannot stop early: follow what STOQ says it served, and check the listing came out whole.

STOQ documents ``page`` and ``per_page`` (at most 500) and a ``meta`` with ``total_count``, ``page``,
``per_page`` and ``total_pages``; integrators also read ``has_next_page``. It documents neither the largest page
it really serves (v2 caps pages at 200) nor that it honours ``per_page`` at all. So a page shorter than the
size asked for proves nothing. :class:`Listing` decides from what the server says it served:

* it goes on while *any* signal says there is more: ``has_next_page``, ``page < total_pages``, fewer distinct
  items so far than ``total_count``, a full page of ``meta.per_page`` items, or, with no signal at all, a
  non-empty page; an empty page always ends the pass;
* at the end of a pass it compares the distinct items listed with the server's own latest ``total_count``. A
  short listing is listed once more (items already yielded are not yielded again); if it is still short,
  :class:`~stoq_provider.exceptions.StoqProtocolError` names the endpoint and both counts, so that nothing is
  ever sent from a listing known to be incomplete.

The class only keeps the books; the sync and async hooks run the requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from stoq_provider.exceptions import StoqProtocolError

if TYPE_CHECKING:
    from stoq_provider.api.logs import Logger

#: Extra passes over a listing that came out shorter than the server's own count, before failing.
RELISTS = 1
#: Consecutive non-empty pages that bring nothing new before a pass is ended (a server that ignores ``page``).
STALLED_PAGES = 2


def intent_key(item: Mapping[str, Any]) -> str:
    """An intent's identity in a listing: its ID."""
    return str(item["id"])


def variant_key(item: Mapping[str, Any]) -> str:
    """A ``products_in_demand`` item's identity: its variant (the whole item when it names none)."""
    variant = item.get("shopify_variant_id")
    return str(variant) if variant is not None else repr(sorted(item.items(), key=lambda kv: str(kv[0])))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class Listing:
    """The books of one paged listing: which page is next, what was seen, whether it is complete.

    :param endpoint: the hook method, for messages (``list_intents``).
    :param noun: what the items are, for messages (``intents``).
    :param key: an item's identity (its ``id``; a variant ID for ``products_in_demand``).
    :param asked: the ``per_page`` requested.
    :param log: where a re-listing is reported.
    :param verify: check the listing against the server's count (off for a partial read that starts later).
    :param start: the first page to fetch.

    Usage::

        listing = Listing("list_intents", "intents", key=lambda i: str(i["id"]), asked=500)
        while listing.next_page():
            items, meta, has_next = fetch(listing.page)
            yield from listing.take(items, meta, has_next)
    """

    def __init__(
        self,
        endpoint: str,
        noun: str,
        *,
        key: Callable[[Mapping[str, Any]], str],
        asked: int,
        log: Logger | None = None,
        verify: bool = True,
        start: int = 1,
    ) -> None:
        self.log = log
        self.verify = verify
        self.endpoint = endpoint
        self.noun = noun
        self.key = key
        self.asked = asked
        #: Hashes of the keys listed so far (a listing of 100,000 intents keeps about 6 MB, not the IDs' 12 MB).
        self.seen: set[int] = set()
        #: The server's own count of matching items, from the latest page (``None`` if it gives none).
        self.expected: int | None = None
        #: The page size the server says it serves (``meta.per_page``), once seen.
        self.served_per_page: int | None = None
        self.page = start - 1
        self.passes = 0
        self._more = True
        self._stalled = 0

    # ------------------------------------------------------------------ driving

    def next_page(self) -> bool:
        """Advance to the next page to fetch; False when the listing is complete.

        Raises :class:`StoqProtocolError` when it is known to be short after :data:`RELISTS` extra passes.
        """
        if self.passes == 0 or self._more:
            self.passes = max(self.passes, 1)
            self.page += 1
            return True
        shortfall = self.shortfall() if self.verify else None
        if shortfall is None:
            return False
        if self.passes > RELISTS:
            listed, expected = shortfall
            raise StoqProtocolError(
                f"STOQ's {self.endpoint} listing is incomplete: {listed} distinct {self.noun} listed but STOQ counts "
                f"{expected} (meta.total_count), after {self.passes} passes; nothing was done with a short listing. "
                "Run the task again; if it persists, report it to STOQ support."
            )
        if self.log is not None:
            self.log.warning(
                "STOQ's %s listing came out short (%d distinct %s listed, STOQ counts %d): listing it again.",
                self.endpoint,
                shortfall[0],
                self.noun,
                shortfall[1],
            )
        self.passes += 1
        self.page, self._more, self._stalled = 1, True, 0
        return True

    def take(self, items: list[dict[str, Any]], meta: Mapping[str, Any], has_next: bool | None) -> list[dict[str, Any]]:
        """Record one page; return its items not listed before (in order)."""
        served = _int(meta.get("per_page"))
        if served is not None and served > 0:
            self.served_per_page = served
        limit = served if served else None
        keys = [hash(self.key(item)) for item in items]
        if (limit is not None and len(items) > limit) or len(set(keys)) < len(keys):
            raise StoqProtocolError(
                f"STOQ returned {len(items)} {self.noun} on a {self._where}page of {limit or self.asked}"
                f"{'' if len(set(keys)) == len(keys) else ' with repeats'}; paging cannot be trusted, so the "
                f"listing stopped rather than skip or repeat {self.noun}. Report this to STOQ support."
            )
        fresh = [item for item, key in zip(items, keys, strict=True) if key not in self.seen]
        self.seen.update(keys)
        total = _int(meta.get("total_count"))
        if total is not None:
            self.expected = total
        self._stalled = 0 if fresh or not items else self._stalled + 1
        self._more = self._goes_on(items, meta, has_next)
        return fresh

    @property
    def _where(self) -> str:
        return "" if self.endpoint == "list_intents" else f"{self.endpoint} "

    def _goes_on(self, items: list[dict[str, Any]], meta: Mapping[str, Any], has_next: bool | None) -> bool:
        if not items or self._stalled >= STALLED_PAGES:
            return False
        total_pages = _int(meta.get("total_pages"))
        # The server's word on what exists: any of these saying "more" is believed.
        signals: list[bool] = []
        if isinstance(has_next, bool):
            signals.append(has_next)
        if total_pages is not None:
            signals.append(self.page < total_pages)
        if self.expected is not None and _int(meta.get("total_count")) is not None:
            signals.append(len(self.seen) < self.expected)
        if signals:
            return any(signals)
        # No count at all: a page as full as the server says it serves may have a successor; else ask until
        # an empty page (a server that ignores per_page may serve fewer than asked).
        served = _int(meta.get("per_page"))
        return len(items) >= served if served else True

    # ------------------------------------------------------------------ outcome

    def shortfall(self) -> tuple[int, int] | None:
        """``(distinct listed, server's count)`` when the listing is short of the server's own count."""
        if self.expected is not None and len(self.seen) < self.expected:
            return len(self.seen), self.expected
        return None

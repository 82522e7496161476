"""Reading back what became of some intents, by the cheapest safe route.

After a notify whose answer was lost, or a refusal whose reason is not recognised, the delivery algorithm needs
each intent's own state: still pending (with ``unsubscribed_at``, ``blocked_at``), notified, or gone. Two routes:

* **by ID**: ``GET /intents/{id}``, one point per intent; exact, and the only route for intents of unknown
  variant or when alerts are re-sent (a re-sent intent is notified before and after);
* **by listing**: the variant's pending listing (``notified=false``), one point per page. The intents were
  chosen from that listing, in its order, so those still pending appear where they were, behind what is known
  to be pending before them, and the read can start at that page and stop at the first intent listed after the
  batch. An intent no longer listed has been notified (or deleted). The start page is checked (its first intent
  must be one listed before the batch); if the listing shifted, the read starts again from page 1.

A batch of B intents of known variants costs about ⌈B / page size⌉ + 1 points this way, instead of B (more when
skipped intents, which stay pending, are interleaved with the batch's in the listing).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stoq_provider.api import contract
from stoq_provider.api.contract import MAX_PER_PAGE, parse_intents_page
from stoq_provider.api.paging import Listing, intent_key
from stoq_provider.exceptions import StoqNotFoundError

if TYPE_CHECKING:
    from stoq_provider.api.interface import ClientInterface

PENDING = "pending"
NOTIFIED = "notified"
MISSING = "missing"
#: Intents of one variant read by ID rather than by listing (a page costs as much as one intent).
READ_BY_ID_UP_TO = 2


@dataclass(frozen=True)
class IntentState:
    """What became of one intent.

    :param kind: :data:`PENDING`, :data:`NOTIFIED` or :data:`MISSING` (not found; deleted).
    :param intent: the intent as STOQ returned it (``None`` for one no longer listed).
    """

    kind: str
    intent: Mapping[str, Any] | None = None


class IntentReader:
    """Reads the state of intents for one delivery run.

    :param client: the client to read through.
    :param listings: per Shopify variant, the IDs of its pending listing in the order STOQ listed them (the
        intents the run was chosen from, skipped ones included); ``None`` when unknown.
    """

    def __init__(self, client: ClientInterface, listings: Mapping[Any, Sequence[str]] | None = None) -> None:
        self.client = client
        self.order: dict[str, list[str]] = {str(v): [str(i) for i in ids] for v, ids in (listings or {}).items()}
        self.variant_of = {iid: variant for variant, ids in self.order.items() for iid in ids}
        self.rank = {iid: rank for ids in self.order.values() for rank, iid in enumerate(ids)}
        #: Read requests made (each costs one point).
        self.requests = 0

    def read(self, ids: Sequence[str], *, gone: Collection[str] = (), by_id: bool = False) -> dict[str, IntentState]:
        """The state of each of ``ids``.

        :param gone: IDs known to have left the pending listings since they were listed (sent, already notified).
        :param by_id: read every intent by ID (when alerts are re-sent, the listing cannot tell).
        """
        groups: dict[str, list[str]] = {}
        singles: list[str] = []
        for iid in ids:
            variant = None if by_id else self.variant_of.get(iid)
            (groups.setdefault(variant, []) if variant is not None else singles).append(iid)
        states: dict[str, IntentState] = {}
        for variant, group in groups.items():
            if len(group) <= READ_BY_ID_UP_TO:
                singles.extend(group)
            else:
                states.update(self._by_listing(variant, group, gone))
        states.update(self._by_id(singles))
        return states

    def _by_id(self, ids: Iterable[str]) -> dict[str, IntentState]:
        states: dict[str, IntentState] = {}
        for iid in ids:
            self.requests += 1
            try:
                intent = self.client.get_intent(iid)
            except StoqNotFoundError:
                states[iid] = IntentState(MISSING)
                continue
            states[iid] = IntentState(NOTIFIED if intent.get("notified_at") else PENDING, intent)
        return states

    def _by_listing(self, variant: str, group: list[str], gone: Collection[str]) -> dict[str, IntentState]:
        wanted = set(group)
        first, last = min(self.rank[i] for i in group), max(self.rank[i] for i in group)
        start = self._start_page(variant, first, gone)
        found: dict[str, Mapping[str, Any]] = {}
        passed = False
        while not passed:
            listing = Listing("list_intents", "intents", key=intent_key, asked=MAX_PER_PAGE, verify=False, start=start)
            restart = False
            while listing.next_page():
                body = self.client.send(
                    contract.list_intents({"shopify_variant_id": variant, "notified": False}, page=listing.page)
                )
                self.requests += 1
                items = listing.take(*parse_intents_page(body))
                if listing.page == start and start > 1 and not self._before(items, first):
                    restart = True  # the listing shifted since it was read: begin at page 1
                    break
                for item in items:
                    iid = str(item["id"])
                    if iid in wanted:
                        found[iid] = item
                    elif self.rank.get(iid, -1) > last:
                        passed = True
                passed = passed or len(found) == len(wanted)
                if passed:
                    break
            if not restart:
                break
            start = 1
        return {iid: IntentState(PENDING, found[iid]) if iid in found else IntentState(NOTIFIED) for iid in group}

    def _start_page(self, variant: str, first: int, gone: Collection[str]) -> int:
        """The page holding the last intent believed still pending before the batch (1 when unknown)."""
        size = self.client.served_per_page
        if not size:
            return 1
        before = sum(1 for iid in self.order[variant][:first] if iid not in gone)
        return (before - 1) // size + 1 if before else 1

    def _before(self, items: list[dict[str, Any]], first: int) -> bool:
        """Whether a start page begins with an intent listed before the batch."""
        if not items:
            return False
        rank = self.rank.get(str(items[0]["id"]))
        return rank is not None and rank < first

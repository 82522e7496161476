"""The in-memory intent store, kept ordered and indexed so that listing 1,000,000 intents stays fast.

A filtered listing is computed once and kept until the store changes, so that paging through it costs each
page its own size, not the whole variant's list again.

Intents are plain dictionaries holding exactly the contract's fields (so a page is serialised as is).
Every date-time is in the sandbox's fixed ISO format (see :mod:`.timeutil`), so ordering by
``created_at`` then ``id`` is a tuple-of-strings comparison.
"""

from __future__ import annotations

import bisect
import operator
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar, cast

from stoq_provider.sandbox.timeutil import local_day

_T = TypeVar("_T")
#: Listings (and other derived views) kept between changes of the store.
MEMO_SIZE = 32


class IntentRecord(TypedDict):
    """One intent, exactly as the API returns it."""

    id: str
    type: str
    channel: str
    email: str | None
    phone: str | None
    contact: str | None
    customer_name: str | None
    customer_id: str
    shop_id: str
    product_variant_id: str
    intent_trigger_id: str | None
    shopify_variant_id: int
    shopify_product_id: int
    shopify_inventory_item_id: int | None
    shopify_market_id: int | None
    quantity: int
    sent_notifications_count: int
    notifications_count: int
    optin_confirmed: bool
    accepts_marketing: bool
    notified_at: str | None
    blocked_at: str | None
    unsubscribed_at: str | None
    customer_unsubscribed_at: str | None
    created_at: str
    updated_at: str


#: Fields of the Intent object, in the contract's order (declared once, by :class:`IntentRecord`).
INTENT_FIELDS: tuple[str, ...] = tuple(IntentRecord.__annotations__)
#: Intent fields holding a date-time (or null).
INTENT_TIME_FIELDS: tuple[str, ...] = tuple(name for name in INTENT_FIELDS if name.endswith("_at"))

#: The listing order: ``created_at`` ascending, then ``id``.
sort_key: Callable[[IntentRecord], tuple[str, str]] = operator.itemgetter("created_at", "id")


def digits_only(value: str) -> str:
    """Keep the digits of a phone number."""
    return "".join(ch for ch in value if ch.isdigit())


@dataclass(frozen=True)
class IntentFilter:
    """The filters of ``GET /intents``; ``None`` means "not filtered"."""

    shopify_variant_id: int | None = None
    shopify_product_id: int | None = None
    email: str | None = None
    phone: str | None = None
    start_day: str | None = None  # YYYY-MM-DD, inclusive
    end_day: str | None = None  # YYYY-MM-DD, inclusive
    notified: bool | None = None
    day_offset_hours: int | None = None  # the days above are in UTC+N (the ``day_zone_hours`` reading)

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return all(value is None for value in vars(self).values())


class IntentStore:
    """Intents by id, plus lazily built ordered indexes (all, by variant, by product).

    The ordered list is built on first use (one sort) and then kept up to date: adding an intent is a
    sorted insert, removing one filters the list, moving one (transfer) only regroups the variant and
    product indexes.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, IntentRecord] = {}
        self._ordered: list[IntentRecord] | None = None
        self._by_variant: dict[int, list[IntentRecord]] = {}
        self._by_product: dict[int, list[IntentRecord]] = {}
        self._version = 0
        self._memo: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()

    # -- basic access -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, intent_id: object) -> bool:
        return intent_id in self._by_id

    def __iter__(self) -> Iterator[IntentRecord]:
        return iter(self.ordered())

    def get(self, intent_id: str) -> IntentRecord | None:
        """The intent with this id, if any."""
        return self._by_id.get(intent_id)

    # -- mutation -----------------------------------------------------------------------------

    def changed(self) -> None:
        """Note that an intent was changed in place (e.g. notified): derived listings are stale."""
        self._version += 1

    def memo(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """``compute()``, kept under ``key`` until the store changes."""
        hit = self._memo.get(key)
        if hit is not None and hit[0] == self._version:
            self._memo.move_to_end(key)
            return cast("_T", hit[1])
        value = compute()
        self._memo[key] = (self._version, value)
        self._memo.move_to_end(key)
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return value

    def replace_all(self, intents: Iterable[IntentRecord]) -> None:
        """Drop every intent and load ``intents`` instead."""
        self._by_id = {intent["id"]: intent for intent in intents}
        self._invalidate()

    def add(self, intent: IntentRecord) -> None:
        """Insert a new intent. Raises ``KeyError`` if its id is taken."""
        if intent["id"] in self._by_id:
            raise KeyError(intent["id"])
        self._by_id[intent["id"]] = intent
        self.changed()
        if self._ordered is None:
            return
        for bucket in (
            self._ordered,
            self._by_variant.setdefault(intent["shopify_variant_id"], []),
            self._by_product.setdefault(intent["shopify_product_id"], []),
        ):
            bisect.insort(bucket, intent, key=sort_key)

    def remove(self, intent_ids: Iterable[str]) -> int:
        """Delete the given intents (unknown ids are ignored); return how many were deleted."""
        removed = 0
        for intent_id in intent_ids:
            if self._by_id.pop(intent_id, None) is not None:
                removed += 1
        if removed:
            self.changed()
        if removed and self._ordered is not None:
            by_id = self._by_id
            self._ordered = [intent for intent in self._ordered if intent["id"] in by_id]
            self._rebuild_buckets()
        return removed

    def move(self, intents: Iterable[IntentRecord], *, variant_id: int, product_id: int, **fields: Any) -> int:
        """Point the given intents at another variant/product (setting ``fields`` too); return the count.

        The listing order does not change, only the variant and product indexes.
        """
        moved = 0
        for intent in intents:
            intent["shopify_variant_id"] = variant_id
            intent["shopify_product_id"] = product_id
            cast("dict[str, Any]", intent).update(fields)  # fields: IntentRecord keys, named by the caller
            moved += 1
        if moved:
            self.changed()
        if moved and self._ordered is not None:
            self._rebuild_buckets()
        return moved

    def _invalidate(self) -> None:
        self.changed()
        self._ordered = None
        self._by_variant = {}
        self._by_product = {}

    def _rebuild_buckets(self) -> None:
        by_variant: dict[int, list[IntentRecord]] = {}
        by_product: dict[int, list[IntentRecord]] = {}
        for intent in self._ordered or ():
            by_variant.setdefault(intent["shopify_variant_id"], []).append(intent)
            by_product.setdefault(intent["shopify_product_id"], []).append(intent)
        self._by_variant, self._by_product = by_variant, by_product

    # -- ordered views ------------------------------------------------------------------------

    def ordered(self) -> list[IntentRecord]:
        """Every intent in listing order (do not mutate the list)."""
        if self._ordered is None:
            self._ordered = sorted(self._by_id.values(), key=sort_key)
            self._rebuild_buckets()
        return self._ordered

    def for_variant(self, shopify_variant_id: int) -> list[IntentRecord]:
        """The intents of one variant in listing order (do not mutate the list)."""
        self.ordered()
        return self._by_variant.get(shopify_variant_id, [])

    def for_product(self, shopify_product_id: int) -> list[IntentRecord]:
        """The intents of one product in listing order (do not mutate the list)."""
        self.ordered()
        return self._by_product.get(shopify_product_id, [])

    # -- queries ------------------------------------------------------------------------------

    def query(self, flt: IntentFilter) -> list[IntentRecord]:
        """The intents matching ``flt``, in listing order (the unfiltered list itself if no filter).

        The result is kept until the store changes (do not mutate it).
        """
        return self.memo(("query", flt), lambda: self._query(flt))

    def _query(self, flt: IntentFilter) -> list[IntentRecord]:
        if flt.shopify_variant_id is not None:
            candidates = self.for_variant(flt.shopify_variant_id)
        elif flt.shopify_product_id is not None:
            candidates = self.for_product(flt.shopify_product_id)
        else:
            candidates = self.ordered()
        if flt.is_empty():
            return candidates
        email = flt.email.strip().lower() if flt.email is not None else None
        phones = {flt.phone.strip(), digits_only(flt.phone)} if flt.phone is not None else None
        product = flt.shopify_product_id
        start, end, notified = flt.start_day, flt.end_day, flt.notified
        result = []
        for intent in candidates:
            if product is not None and intent["shopify_product_id"] != product:
                continue
            if email is not None and (intent["email"] or "").lower() != email:
                continue
            if phones is not None and intent["phone"] not in phones:
                continue
            day = local_day(intent["created_at"], flt.day_offset_hours)
            if (start is not None and day < start) or (end is not None and day > end):
                continue
            if notified is not None and (intent["notified_at"] is not None) != notified:
                continue
            result.append(intent)
        return result

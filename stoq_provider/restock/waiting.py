"""Checking for waiting customers cheaply: the sensor's poke and the trigger's poll, one algorithm.

Counting every waiting customer of every watched variant costs a listing page per 500 signups, every poll. A
wait needs less: whether ``min_pending`` customers wait. So a check

1. asks first for a cheap upper bound: ``products_in_demand``'s ``pending`` per variant (one page of up to 500
   variants for the whole store; it counts opted-out and other-type signups too, so it can rule the threshold
   out, never in). If its answer has another shape than the documented one, the check lists instead;
2. lists only the watched variants (or products) the bound leaves open, most promising first, counting with
   :func:`~stoq_provider.api.contract.is_pending`, and stops as soon as ``min_pending`` is met.

What counts as waiting never changes: opted-out, blocked and other-type signups do not count.

The algorithm is written once, without I/O (:func:`check_waiting` is a generator that says what it needs);
:func:`run_check` and :func:`arun_check` feed it from the sync and the async client. The async one shares the
bound between the triggers of one store in one triggerer (:class:`SharedBounds`): one ``products_in_demand``
read per poll interval, however many triggers wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stoq_provider.api.contract import is_pending
from stoq_provider.restock.demand import pending_queries

if TYPE_CHECKING:
    from stoq_provider.api.client import BaseStoqClient
    from stoq_provider.api.client_async import BaseAsyncStoqClient

#: Per Shopify variant: its product and the signups not yet notified (opted-out and other types included).
Bounds = Mapping[int, tuple[int | None, int]]


@dataclass(frozen=True)
class NeedBounds:
    """The check needs the store's ``products_in_demand`` bounds (reply: :data:`Bounds`, or ``None``)."""


@dataclass(frozen=True)
class NeedIntent:
    """The check needs the next intent of one listing (reply: the intent, or ``None`` at its end).

    :param query: the ``list_intents`` filters, as sorted pairs (hashable).
    """

    query: tuple[tuple[str, Any], ...]


NEED_BOUNDS = NeedBounds()


def check_waiting(
    variant_ids: Sequence[int] | None,
    product_ids: Sequence[int] | None,
    min_pending: int,
    intent_types: Iterable[str],
) -> Generator[NeedBounds | NeedIntent, Any, dict[str, Any]]:
    """Whether ``min_pending`` customers wait on the variants (or products); returns the check's summary.

    The summary is ``{"pending": {variant: n}, "total": n, "met": bool, "exact": bool}``: on ``met`` the
    counts found until the threshold was met (at least ``min_pending`` in all); when the bound ruled the
    threshold out, the bounds themselves (``exact`` is false: at most that many wait); else the exact counts.
    """
    types = tuple(intent_types)
    queries = pending_queries(variant_ids, product_ids)
    bounds: Bounds | None = yield NEED_BOUNDS
    if bounds is not None and product_ids and any(owner is None for owner, _ in bounds.values()):
        bounds = None  # an item without its product: a product's bound would be too low, so none is used
    indices = list(range(len(queries)))
    if bounds is not None:
        limits = [_bound(query, bounds) for query in queries]
        if sum(limits) < min_pending:
            pending = {str(v): bounds.get(v, (None, 0))[1] for v in variant_ids or ()}
            pending.update(_variants_of(product_ids or (), bounds))
            return {"pending": pending, "total": sum(limits), "met": False, "exact": False}
        indices = sorted((i for i in indices if limits[i] > 0), key=lambda i: -limits[i])
    counts = {str(v): 0 for v in variant_ids or ()}
    total = 0
    for index in indices:
        query = tuple(sorted(queries[index].items()))
        while (intent := (yield NeedIntent(query))) is not None:
            if is_pending(intent, types):
                key = str(intent.get("shopify_variant_id"))
                counts[key] = counts.get(key, 0) + 1
                total += 1
                if total >= min_pending:
                    return {"pending": counts, "total": total, "met": True, "exact": False}
    return {"pending": counts, "total": total, "met": False, "exact": True}


def describe(result: Mapping[str, Any]) -> str:
    """A check's outcome in words: ``"at least 3 customers waiting"``, ``"at most 2 ..."``, ``"5 ..."``."""
    qualifier = "at least " if result["met"] else "" if result["exact"] or not result["total"] else "at most "
    return f"{qualifier}{result['total']} customers waiting"


def _bound(query: Mapping[str, Any], bounds: Bounds) -> int:
    if "shopify_variant_id" in query:
        return bounds.get(int(query["shopify_variant_id"]), (None, 0))[1]
    product = int(query["shopify_product_id"])
    return sum(pending for owner, pending in bounds.values() if owner == product)


def _variants_of(product_ids: Sequence[int], bounds: Bounds) -> dict[str, int]:
    wanted = set(product_ids)
    return {str(variant): pending for variant, (owner, pending) in bounds.items() if owner in wanted}


def bounds_from(items: Iterable[Mapping[str, Any]]) -> Bounds | None:
    """``products_in_demand`` items as :data:`Bounds`; ``None`` when one lacks a variant ID or a ``pending``
    count (the keys come from integrators, not the docs: the check then lists instead)."""
    bounds: dict[int, tuple[int | None, int]] = {}
    for item in items:
        variant, pending = _count(item.get("shopify_variant_id")), _count(item.get("pending"))
        if not variant or pending is None:
            return None
        owner = _count(item.get("shopify_product_id")) or None
        bounds[variant] = (owner, bounds.get(variant, (owner, 0))[1] + pending)
    return bounds


def _count(value: Any) -> int | None:
    """A whole number >= 0 given as an int or digits; ``None`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def read_bounds(client: BaseStoqClient) -> Bounds | None:
    """The store's bounds, read with the sync client (``None`` if ``products_in_demand`` is not as documented)."""
    from stoq_provider.exceptions import StoqProtocolError

    try:
        return bounds_from(client.products_in_demand())
    except StoqProtocolError as exc:
        client.log.info("STOQ: counting by listing, products_in_demand is not usable here (%s).", exc)
        return None


def run_check(client: BaseStoqClient, check: Generator[NeedBounds | NeedIntent, Any, dict[str, Any]]) -> dict[str, Any]:
    """Run a :func:`check_waiting` with the sync client (the sensor's poke)."""
    listings: dict[tuple[tuple[str, Any], ...], Iterator[dict[str, Any]]] = {}
    reply: Any = None
    try:
        while True:
            try:
                need = check.send(reply)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(need, NeedBounds):
                reply = read_bounds(client)
            else:
                listing = listings.get(need.query)
                if listing is None:
                    listing = listings[need.query] = iter(client.list_intents(**dict(need.query)))
                reply = next(listing, None)
    finally:
        for listing in listings.values():  # a listing left part way: no more pages are asked for
            getattr(listing, "close", lambda: None)()


class SharedBounds:
    """The bounds of one store, read once per poll interval for every trigger of this triggerer that waits on it.

    :param max_age: seconds a read serves the triggers that ask after it (half their poll interval).
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], tuple[float, Bounds | None]] = {}
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}

    async def get(self, client: BaseAsyncStoqClient, max_age: float) -> Bounds | None:
        """The store's bounds, read now or at most ``max_age`` seconds ago by another trigger."""
        settings = await client.get_settings()
        store = hashlib.sha256(f"{settings.base_url}\n{settings.api_key}".encode()).hexdigest()
        key = (store, id(asyncio.get_running_loop()))
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry[0] <= max_age:
                return entry[1]
            bounds = await aread_bounds(client)
            self._entries[key] = (time.monotonic(), bounds)
            return bounds

    def clear(self) -> None:
        """Forget every read (tests)."""
        self._entries.clear()
        self._locks.clear()


#: The bounds shared by the triggers of this process.
shared_bounds = SharedBounds()


async def aread_bounds(client: BaseAsyncStoqClient) -> Bounds | None:
    """The store's bounds, read with the async client."""
    from stoq_provider.exceptions import StoqProtocolError

    try:
        return bounds_from([item async for item in client.products_in_demand()])
    except StoqProtocolError as exc:
        client.log.info("STOQ: counting by listing, products_in_demand is not usable here (%s).", exc)
        return None


async def arun_check(
    client: BaseAsyncStoqClient,
    check: Generator[NeedBounds | NeedIntent, Any, dict[str, Any]],
    *,
    max_age: float = 0.0,
) -> dict[str, Any]:
    """Run a :func:`check_waiting` with the async client (the trigger's poll), the bound shared per store."""
    listings: dict[tuple[tuple[str, Any], ...], Any] = {}
    reply: Any = None
    try:
        while True:
            try:
                need = check.send(reply)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(need, NeedBounds):
                reply = await shared_bounds.get(client, max_age)
            else:
                listing = listings.get(need.query)
                if listing is None:
                    listing = listings[need.query] = client.list_intents(**dict(need.query)).__aiter__()
                reply = await anext(listing, None)
    finally:
        for listing in listings.values():  # a listing left part way: no more pages are asked for
            await listing.aclose()

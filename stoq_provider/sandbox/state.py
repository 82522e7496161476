"""The whole state of one sandbox: data, budget, faults, ledger and statistics.

One :class:`SandboxState` backs one server. Handlers run on a single event loop and never await
while mutating it, so no locking is needed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from stoq_provider.sandbox.budget import RateBudget
from stoq_provider.sandbox.catalog import Catalog
from stoq_provider.sandbox.constants import DEFAULT_API_KEY, DEFAULT_SHOP_DOMAIN
from stoq_provider.sandbox.faults import FaultPolicy, FaultSettings
from stoq_provider.sandbox.ledger import Ledger, Stats
from stoq_provider.sandbox.readings import DEFAULT_READING, Reading
from stoq_provider.sandbox.seeding import Customer, SeedOptions, generate, make_customer, seeded_uuid
from stoq_provider.sandbox.store import IntentStore


@dataclass(frozen=True)
class SandboxConfig:
    """How a sandbox starts, and what ``reset()`` without arguments returns to."""

    seed: int = 0
    intents: int = 200
    variants: int = 5
    pending_only: bool = False
    anchor: date | None = None
    budget: int = 360
    window: float = 60.0
    reading: Reading = DEFAULT_READING
    api_key: str = DEFAULT_API_KEY
    shop_domain: str = DEFAULT_SHOP_DOMAIN
    faults: FaultSettings = field(default_factory=FaultSettings)


class SandboxState:
    """Everything a running sandbox knows."""

    def __init__(self, config: SandboxConfig | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config or SandboxConfig()
        self.clock = clock
        self.api_key = self.config.api_key
        self.shop_domain = self.config.shop_domain
        self.reading = self.config.reading
        self.budget = RateBudget(
            self.config.budget, self.config.window, clock=clock, reset_reading=self.reading.reset_reading
        )
        self.faults = FaultPolicy()
        self.faults.configure(self.config.faults)
        self.ledger = Ledger()
        self.stats = Stats()
        self.store = IntentStore()
        self.catalog = Catalog()
        self.shop_id = ""
        self.seed_options = SeedOptions()
        self.rng = random.Random()
        self._next_customer = 0
        self._load(self._seed_options_from(self.config))

    @staticmethod
    def _seed_options_from(config: SandboxConfig) -> SeedOptions:
        return SeedOptions(
            seed=config.seed,
            intents=config.intents,
            variants=config.variants,
            pending_only=config.pending_only,
            anchor=config.anchor,
        )

    def _load(self, options: SeedOptions) -> None:
        result = generate(options)
        self.seed_options = options
        self.shop_id = result.shop_id
        self.catalog = result.catalog
        self.store.replace_all(result.intents)
        self.rng = random.Random(f"{options.seed}-runtime")
        self._next_customer = result.customers

    @property
    def max_bulk(self) -> int | None:
        """The most IDs a bulk notify takes (``None``: no cap)."""
        return self.reading.max_bulk

    def set_reading(self, reading: Reading) -> None:
        """Serve another reading of the undocumented behaviours (the budget's window is kept)."""
        self.reading = reading
        self.budget.reset_reading = reading.reset_reading

    def now(self) -> float:
        """The sandbox clock (Unix seconds)."""
        return self.clock()

    def reset(
        self,
        *,
        seed: int | None = None,
        intents: int | None = None,
        variants: int | None = None,
        pending_only: bool | None = None,
        anchor: date | None = None,
        budget: int | None = None,
        window: float | None = None,
        **reading: Any,
    ) -> None:
        """Reseed the data and clear the ledger, statistics, faults and budget window.

        Omitted options return to the startup configuration (so ``reset()`` alone restores the state
        the server started with, except that faults are always cleared). ``reading`` takes the options of
        :class:`~stoq_provider.sandbox.readings.Reading` (``page_cap=100``, ``reset_reading="fixed"``...).
        """
        self.set_reading(self.config.reading.with_options(**reading))
        config = self.config
        options = SeedOptions(
            seed=config.seed if seed is None else seed,
            intents=config.intents if intents is None else intents,
            variants=config.variants if variants is None else variants,
            pending_only=config.pending_only if pending_only is None else pending_only,
            anchor=config.anchor if anchor is None else anchor,
        )
        self.budget.configure(
            limit=budget if budget is not None else self.config.budget,
            window=window if window is not None else self.config.window,
        )
        self.faults.clear()
        self.ledger.clear()
        self.stats.clear()
        self._load(options)

    def new_customer(self) -> Customer:
        """A fresh fake customer, unique within this data set."""
        customer = make_customer(self.rng, self._next_customer)
        self._next_customer += 1
        return customer

    def new_id(self) -> str:
        """A fresh UUID-like intent id (reproducible for a given seed and call sequence)."""
        while True:
            candidate = seeded_uuid(self.rng)
            if candidate not in self.store:
                return candidate

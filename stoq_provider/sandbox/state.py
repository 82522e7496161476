"""The whole state of one sandbox: data, budget, faults, ledger and statistics.

One :class:`SandboxState` backs one server. Handlers run on a single event loop and never await
while mutating it, so no locking is needed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any

from stoq_provider.sandbox.budget import RateBudget
from stoq_provider.sandbox.catalog import Catalog
from stoq_provider.sandbox.constants import DEFAULT_API_KEY, DEFAULT_SHOP_DOMAIN
from stoq_provider.sandbox.faults import FaultPolicy, FaultSettings
from stoq_provider.sandbox.ledger import Ledger, Stats
from stoq_provider.sandbox.readings import DEFAULT_READING, OPTION_NAMES, Reading
from stoq_provider.sandbox.seeding import Customer, SeedOptions, generate, make_customer, seeded_uuid
from stoq_provider.sandbox.store import IntentStore


def _option(default: Any, help: str, **limits: Any) -> Any:
    """A configuration field with its help text (command line) and limits (admin API)."""
    return field(default=default, metadata={"help": help, **limits})


@dataclass(frozen=True)
class SandboxConfig:
    """How a sandbox starts, and what ``reset()`` without arguments returns to.

    Every option is declared here once: ``SandboxServer``'s keyword arguments, the command line
    (``python -m stoq_provider.sandbox``), the child process's arguments and the admin ``reset`` all come from
    these fields, and the reading's options from :class:`~stoq_provider.sandbox.readings.Reading`'s.
    """

    seed: int = _option(0, "seed of the generated data")
    intents: int = _option(200, "number of intents to generate", ge=0, le=2_000_000)
    variants: int = _option(5, "number of variants, 2 per product", ge=1, le=100_000)
    pending_only: bool = _option(False, "every generated intent pending, subscribed, restock")
    anchor: date | None = field(
        default=None, metadata={"help": "the day whose midnight UTC counts as now, YYYY-MM-DD (default: today)"}
    )
    budget: int = _option(360, "rate budget in points per window", ge=1)
    window: float = _option(60.0, "rate window in seconds", gt=0)
    api_key: str = _option(DEFAULT_API_KEY, "the accepted X-Auth-Token")
    shop_domain: str = _option(DEFAULT_SHOP_DOMAIN, "the accepted shop domain")
    reading: Reading = DEFAULT_READING
    faults: FaultSettings = field(default_factory=FaultSettings)

    def with_options(self, **options: Any) -> SandboxConfig:
        """A copy with some options changed; the reading's options (``page_cap=100``...) change the reading.

        Raises ``ValueError`` for an unknown option or a bad reading.
        """
        reading = {name: options.pop(name) for name in list(options) if name in OPTION_NAMES}
        unknown = sorted(set(options) - set(SETTINGS))
        if unknown:
            raise ValueError(f"unknown sandbox option(s) {unknown}; choose from {[*SETTINGS, *OPTION_NAMES]}")
        return replace(self, **options, reading=self.reading.with_options(**reading))

    def seed_options(self) -> SeedOptions:
        """What to generate."""
        return SeedOptions(**{option.name: getattr(self, option.name) for option in fields(SeedOptions)})


#: The configuration's own options (the reading's and the faults' have their own declarations).
SETTINGS: tuple[str, ...] = tuple(f.name for f in fields(SandboxConfig) if f.name not in ("reading", "faults"))


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
        self._load(self.config.seed_options())

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

    def reset(self, **options: Any) -> None:
        """Reseed the data and clear the ledger, statistics, faults and budget window.

        ``options`` are :class:`SandboxConfig`'s and the reading's (``intents=500``, ``page_cap=100``...); omitted
        ones return to the startup configuration (so ``reset()`` alone restores the state the server started
        with, except that faults are always cleared). Raises ``ValueError`` for an unknown or bad option.
        """
        config = self.config.with_options(**options)
        self.set_reading(config.reading)
        self.api_key, self.shop_domain = config.api_key, config.shop_domain
        self.budget.configure(limit=config.budget, window=config.window)
        self.faults.clear()
        self.ledger.clear()
        self.stats.clear()
        self._load(config.seed_options())

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

"""Fault injection policy: which API request fails, and how.

Kinds (see :mod:`.fault_layer` for how each is carried out):

``error500``  JSON ``500 {"error": "Internal server error"}``; the request is not applied.
``html502``   an HTML ``502`` page, as a proxy would send; not applied.
``drop``      the connection is closed with no response; not applied.
``slow``      the server waits ``slow_seconds`` first, then applies and answers normally.
``lost``      the request IS applied, then the connection is closed so the answer never arrives.

Malformed answers (never drawn unless named in ``kinds`` or a script):

``garbage``       ``200`` with a body that claims to be JSON but is not; the request is not applied.
``wrong_shape``   ``200`` with valid JSON of the wrong shape for the endpoint (a field of the wrong type, or
                  a missing one); the request is not applied.
``oversize``      the request is applied; a page (``list_intents``, ``products_in_demand``) carries one more
                  item than ``per_page`` asked for. Other endpoints answer normally.
``extra_fields``  the request is applied; every JSON object in the answer carries unknown extra fields
                  (a client must tolerate them).

Precedence: an active outage, then the script (kinds applied in order to the next matching
requests; ``"none"`` lets one through), then random faults at ``rate`` from a seeded RNG.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stoq_provider.sandbox.constants import (
    ALL_FAULT_KINDS,
    ENDPOINT_ALIASES,
    ENDPOINT_NAMES,
    FAULT_HTML502,
    FAULT_KINDS,
    FAULT_NONE,
)


def check_kind(kind: str, *, allow_none: bool = False) -> str:
    """Validate one fault kind name (any of ``ALL_FAULT_KINDS``). Raises ``ValueError`` for an unknown one."""
    if kind in ALL_FAULT_KINDS or (allow_none and kind == FAULT_NONE):
        return kind
    allowed = ", ".join(ALL_FAULT_KINDS + ((FAULT_NONE,) if allow_none else ()))
    raise ValueError(f"unknown fault kind {kind!r} (expected one of: {allowed})")


def check_endpoint(name: str) -> str:
    """Validate (and un-alias) one endpoint name. Raises ``ValueError`` for an unknown one."""
    name = ENDPOINT_ALIASES.get(name, name)
    if name not in ENDPOINT_NAMES:
        raise ValueError(f"unknown endpoint {name!r} (expected one of: {', '.join(ENDPOINT_NAMES)})")
    return name


@dataclass(frozen=True)
class FaultSettings:
    """What to inject. The defaults inject nothing.

    ``kinds`` (what random draws pick from) defaults to the transport faults ``FAULT_KINDS``; the malformed
    answers are drawn only when named.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    endpoints: frozenset[str] | None = None  # None: every endpoint
    slow_seconds: float = 5.0
    seed: int = 0
    script: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        rate: float = 0.0,
        kinds: Iterable[str] | None = None,
        endpoints: Iterable[str] | None = None,
        slow_seconds: float = 5.0,
        seed: int = 0,
        script: Iterable[str] = (),
    ) -> FaultSettings:
        """Validated settings. Raises ``ValueError`` on a bad value."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if slow_seconds < 0:
            raise ValueError("slow_seconds must not be negative")
        chosen = tuple(check_kind(kind) for kind in kinds) if kinds is not None else FAULT_KINDS
        if not chosen:
            raise ValueError("kinds must not be empty")
        targets = frozenset(check_endpoint(name) for name in endpoints) if endpoints is not None else None
        steps = tuple(check_kind(kind, allow_none=True) for kind in script)
        return cls(rate=rate, kinds=chosen, endpoints=targets, slow_seconds=slow_seconds, seed=seed, script=steps)


@dataclass
class Outage:
    """Every API request fails with ``kind`` until ``until`` (monotonic clock)."""

    until: float
    kind: str = FAULT_HTML502


@dataclass
class FaultPolicy:
    """Decides, per API request, which fault (if any) to inject."""

    clock: Callable[[], float] = time.monotonic
    settings: FaultSettings = field(default_factory=FaultSettings)
    outage: Outage | None = None
    _script: deque[str] = field(default_factory=deque)
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.configure(self.settings)

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings (restarting the script and the random stream)."""
        self.settings = settings
        self._script = deque(settings.script)
        # Seeded through a string: the bare integer streams start unevenly (seed 0 draws no fault in its first
        # 25 requests at rate 0.2); these give each seed a stream that looks like its rate from the start.
        self._rng = random.Random(f"stoq-sandbox-faults:{settings.seed}")

    def clear(self) -> None:
        """No faults and no outage."""
        self.configure(FaultSettings())
        self.outage = None

    def start_outage(self, seconds: float, kind: str = FAULT_HTML502) -> None:
        """Fail every API request with ``kind`` for ``seconds`` (0 ends an outage)."""
        check_kind(kind)
        self.outage = Outage(until=self.clock() + seconds, kind=kind) if seconds > 0 else None

    def targets(self, endpoint: str) -> bool:
        """True when scripted and random faults apply to ``endpoint``."""
        return self.settings.endpoints is None or endpoint in self.settings.endpoints

    def pick(self, endpoint: str) -> str | None:
        """The fault kind for one request to ``endpoint``, or ``None`` to let it through."""
        if self.outage is not None:
            if self.clock() < self.outage.until:
                return self.outage.kind
            self.outage = None
        if not self.targets(endpoint):
            return None
        if self._script:
            kind = self._script.popleft()
            return None if kind == FAULT_NONE else kind
        settings = self.settings
        if settings.rate > 0 and self._rng.random() < settings.rate:
            return self._rng.choice(settings.kinds)
        return None

    def describe(self) -> dict[str, Any]:
        """JSON form of the current configuration."""
        settings = self.settings
        remaining = max(0.0, self.outage.until - self.clock()) if self.outage else 0.0
        return {
            "rate": settings.rate,
            "kinds": list(settings.kinds),
            "endpoints": sorted(settings.endpoints) if settings.endpoints is not None else None,
            "slow_seconds": settings.slow_seconds,
            "seed": settings.seed,
            "script_remaining": list(self._script),
            "outage": {"kind": self.outage.kind, "seconds_left": round(remaining, 3)} if self.outage else None,
        }

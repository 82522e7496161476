"""Readings of STOQ's documentation: the behaviours the docs leave open, each a switch of the sandbox.

STOQ documents neither the largest page it serves, nor whether it honours ``per_page``, nor the largest bulk
notify, nor what ``X-RateLimit-Reset`` means in a rolling window, nor the wording of its refusals, nor the body
of a ``201`` from the signup endpoint. A client must be right under every reading the docs allow, so the
sandbox can serve each of them; :data:`DEFAULT_READING` is the sandbox's historical one.

Example::

    Reading(page_cap=100, reset_reading="fixed", refusals="alternative")
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

#: ``X-RateLimit-Reset`` readings: the end of a fixed window; in a rolling window, the moment the oldest charge
#: leaves it; or the moment the newest does (the whole window is free again).
RESET_FIXED = "fixed"
RESET_ROLLING_OLDEST = "rolling-oldest"
RESET_ROLLING_NEWEST = "rolling-newest"
RESET_READINGS: tuple[str, ...] = (RESET_FIXED, RESET_ROLLING_OLDEST, RESET_ROLLING_NEWEST)

#: Refusal wordings: the sandbox's own, or another that a client cannot recognise by its text.
REFUSALS_DEFAULT = "default"
REFUSALS_ALTERNATIVE = "alternative"
REFUSAL_WORDINGS: tuple[str, ...] = (REFUSALS_DEFAULT, REFUSALS_ALTERNATIVE)

#: The ``201`` body of the public signup endpoint: ``{"intent": {...}}`` or the bare Intent.
CREATE_WRAPPED = "wrapped"
CREATE_BARE = "bare"
CREATE_SHAPES: tuple[str, ...] = (CREATE_WRAPPED, CREATE_BARE)

#: The ``products_in_demand`` page: as documented (a ``product_variants_in_demand`` list whose items carry
#: ``pending``), the list under another key, or items that carry no ``pending`` count.
DEMAND_DOCUMENTED = "documented"
DEMAND_OTHER_KEY = "other-key"
DEMAND_NO_PENDING = "no-pending"
DEMAND_SHAPES: tuple[str, ...] = (DEMAND_DOCUMENTED, DEMAND_OTHER_KEY, DEMAND_NO_PENDING)

#: Statuses a bulk notify over the cap may meet: STOQ's own ``400``, or a proxy's ``413``.
MAX_BULK_STATUSES: tuple[int, ...] = (400, 413)


@dataclass(frozen=True)
class Reading:
    """One reading of the undocumented behaviours.

    :param page_cap: the most items a page holds, whatever ``per_page`` asks (1 to 500; v2 documents 200).
    :param ignore_per_page: serve pages of ``page_cap`` items whatever ``per_page`` asks.
    :param max_bulk: the most IDs a bulk notify takes (``None``: no cap); more are refused and nothing is applied.
    :param max_bulk_status: the status of that refusal: ``400`` (STOQ) or ``413`` (a proxy, HTML body).
    :param reset_reading: what ``X-RateLimit-Reset`` means (see :data:`RESET_READINGS`).
    :param refusals: the wording of per-intent refusals (see :data:`REFUSAL_WORDINGS`).
    :param create_shape: the ``201`` body of the signup endpoint (see :data:`CREATE_SHAPES`).
    :param count_extra: ``meta.total_count`` of every listing claims this many more items than it can serve
        (a server whose listing falls short of its own count).
    :param demand_shape: the ``products_in_demand`` page (see :data:`DEMAND_SHAPES`).
    :param day_zone_hours: the time zone, UTC+N (-12 to 14), of the creation day that ``start_date`` and
        ``end_date`` filter on (the docs name none; a store's own zone is a likely reading).
    """

    page_cap: int = field(default=500, metadata={"help": "most items a page holds, whatever per_page asks (1 to 500)"})
    ignore_per_page: bool = field(default=False, metadata={"help": "serve --page-cap items whatever is asked"})
    max_bulk: int | None = field(default=None, metadata={"help": "most intent_ids per bulk notify (default: none)"})
    max_bulk_status: int = field(
        default=400,
        metadata={"help": "status over --max-bulk: 400 (JSON) or 413 (a proxy's HTML page)", "choices": (400, 413)},
    )
    reset_reading: str = field(
        default=RESET_ROLLING_NEWEST,
        metadata={"help": "what X-RateLimit-Reset means", "choices": ("fixed", "rolling-oldest", "rolling-newest")},
    )
    refusals: str = field(
        default=REFUSALS_DEFAULT, metadata={"help": "refusal wording", "choices": ("default", "alternative")}
    )
    create_shape: str = field(
        default=CREATE_WRAPPED,
        metadata={"help": 'the signup 201 body: {"intent": ...} or the bare intent', "choices": ("wrapped", "bare")},
    )
    count_extra: int = field(
        default=0, metadata={"help": "meta.total_count claims this many items more than a listing serves"}
    )
    demand_shape: str = field(
        default=DEMAND_DOCUMENTED,
        metadata={
            "help": "the products_in_demand page: as documented, its list under another key, or no pending counts",
            "choices": ("documented", "other-key", "no-pending"),
        },
    )
    day_zone_hours: int = field(
        default=0, metadata={"help": "start_date/end_date filter on the creation day in UTC+N (-12 to 14)"}
    )

    def __post_init__(self) -> None:
        checks = (
            (1 <= self.page_cap <= 500, "page_cap must be between 1 and 500"),
            (self.max_bulk is None or self.max_bulk >= 1, "max_bulk must be at least 1 (or None: no cap)"),
            (self.max_bulk_status in MAX_BULK_STATUSES, f"max_bulk_status must be one of {MAX_BULK_STATUSES}"),
            (self.reset_reading in RESET_READINGS, f"reset_reading must be one of {RESET_READINGS}"),
            (self.refusals in REFUSAL_WORDINGS, f"refusals must be one of {REFUSAL_WORDINGS}"),
            (self.create_shape in CREATE_SHAPES, f"create_shape must be one of {CREATE_SHAPES}"),
            (self.count_extra >= 0, "count_extra must not be negative"),
            (self.demand_shape in DEMAND_SHAPES, f"demand_shape must be one of {DEMAND_SHAPES}"),
            (-12 <= self.day_zone_hours <= 14, "day_zone_hours must be between -12 and 14"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def with_options(self, **options: Any) -> Reading:
        """A copy with some options changed (unknown names raise ``ValueError``)."""
        unknown = set(options) - set(OPTION_NAMES)
        if unknown:
            raise ValueError(f"unknown reading option(s) {sorted(unknown)}; choose from {list(OPTION_NAMES)}")
        return replace(self, **options)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)

    def cli_args(self) -> list[str]:
        """The ``python -m stoq_provider.sandbox`` options that select this reading (defaults left out)."""
        args: list[str] = []
        for name in OPTION_NAMES:
            value, default = getattr(self, name), getattr(DEFAULT_READING, name)
            if value == default:
                continue
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                args.append(flag)
            else:
                args += [flag, str(value)]
        return args


DEFAULT_READING = Reading()
#: The option names, in declaration order (command line, admin API and ``SandboxServer`` use them all).
OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Reading))

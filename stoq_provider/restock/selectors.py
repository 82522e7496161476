"""Parse what DAG authors hand to operators, sensors and notifiers: ID lists and inventory mappings.

Values arrive as Python lists, as the output of an upstream task (an ``XComArg`` resolved at run time), or as
the rendered text of a Jinja template (``"[1, 2]"`` or ``"1,2"``). Every error names the parameter and is
raised before any request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from stoq_provider.api import validation
from stoq_provider.exceptions import StoqConfigError


def is_template(value: Any) -> bool:
    """True for text holding Jinja (``{{ ... }}`` or ``{% ... %}``): a value known only once rendered."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


#: What a template renders when its value was nothing.
_NOTHING = {"", "none", "null"}


def nothing_error(name: str, source: str, what: str) -> StoqConfigError:
    """The error for an option whose upstream task or template produced nothing."""
    return StoqConfigError(
        f"{name} came from {source}, which produced {what}: there is nothing to select. Make it return "
        "the IDs to alert (e.g. [40000000001]), or skip the alert when it has none (e.g. an upstream "
        "@task.short_circuit)."
    )


def _as_items(value: Any, name: str, source: str | None = None) -> list[Any]:
    if value is None:
        if source:
            raise nothing_error(name, source, "None")
        raise StoqConfigError(f"{name} is missing: give a list of IDs.")
    if isinstance(value, (bytes, bytearray)):
        value = value.decode()
    if isinstance(value, str):
        text = value.strip()
        if source and text.lower() in _NOTHING:
            raise nothing_error(name, source, f"{text!r} once rendered")
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise StoqConfigError(f"{name} is not a valid JSON list: {text[:80]!r}.") from None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()] if text else []
    elif isinstance(value, (int,)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, Mapping) or not isinstance(value, Iterable) or isinstance(value, str):
        raise StoqConfigError(f"{name} must be a list of IDs, got {type(value).__name__}.")
    items = list(value)
    if not items:
        if source:
            raise nothing_error(name, source, "an empty list")
        raise StoqConfigError(f"{name} is empty: give at least one ID.")
    return items


def shopify_ids(value: Any, name: str, source: str | None = None) -> list[int]:
    """Shopify variant or product IDs, de-duplicated in order."""
    return list(dict.fromkeys(validation.shopify_id(item, name) for item in _as_items(value, name, source)))


def intent_ids(value: Any, name: str = "intent_ids", source: str | None = None) -> list[str]:
    """STOQ intent IDs, de-duplicated in order."""
    return validation.intent_ids(_as_items(value, name, source), name)


def intent_types(value: Any, name: str = "intent_types") -> tuple[str, ...]:
    """Intent types: a list, one type, or rendered text (``"['restock', 'wishlist_reminder']"``, ``"a,b"``)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text.replace("'", '"'))
            except ValueError:
                raise StoqConfigError(f"{name} is not a valid list: {text[:80]!r}.") from None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    types = tuple(value or ()) if isinstance(value, Iterable) and not isinstance(value, Mapping) else ()
    if not types or not all(isinstance(t, str) and t for t in types):
        raise StoqConfigError(f"{name} must be a non-empty list of intent types, e.g. ['restock'].")
    return tuple(dict.fromkeys(types))


def batch_size(value: Any, name: str = "batch_size") -> int | None:
    """A batch size (1 to the largest bulk call), also from rendered text; ``None`` (or nothing) for the default."""
    from stoq_provider.api.contract import MAX_BATCH_SIZE

    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _NOTHING:
            return None
        if not text.isdigit():
            raise StoqConfigError(f"{name} must be a positive integer, got {value!r}.")
        value = int(text)
    if value is None:
        return None
    return validation.positive_int(value, name, maximum=MAX_BATCH_SIZE)


def inventory(value: Any, name: str = "inventory", source: str | None = None) -> dict[int, int]:
    """``{shopify_variant_id: units_available}`` from a mapping or its JSON text (string keys, as JSON has them,
    or integers); units must be whole and >= 0."""
    if value is None and source:
        raise nothing_error(name, source, "None")
    if isinstance(value, str):
        if source and value.strip().lower() in _NOTHING:
            raise nothing_error(name, source, f"{value.strip()!r} once rendered")
        try:
            value = json.loads(value)
        except ValueError:
            raise StoqConfigError(f"{name} is not valid JSON: {value[:80]!r}.") from None
    if not isinstance(value, Mapping):
        raise StoqConfigError(f"{name} must be a mapping of Shopify variant ID to units available.")
    if not value:
        if source:
            raise nothing_error(name, source, "an empty mapping")
        raise StoqConfigError(f"{name} is empty: give at least one variant.")
    result: dict[int, int] = {}
    for key, units in value.items():
        variant = validation.shopify_id(key, f"{name} key")
        if isinstance(units, bool) or not isinstance(units, (int, float, str)):
            raise StoqConfigError(f"{name}[{variant}] must be a whole number of units, got {units!r}.")
        try:
            number = float(units)
        except ValueError:
            raise StoqConfigError(f"{name}[{variant}] must be a whole number of units, got {units!r}.") from None
        if number < 0 or number != int(number):
            raise StoqConfigError(f"{name}[{variant}] must be a whole number of units >= 0, got {units!r}.")
        result[variant] = int(number)
    return result


def exactly_one(owner: str, sources: Mapping[str, str] | None = None, **selectors: Any) -> str:
    """The name of the one selector that is set; errors name the selectors when none or several are.

    A selector fed by an upstream task or a template (in ``sources``) counts as given even if it produced
    nothing: the error for that is the selector's own, naming where it came from.
    """
    sources = sources or {}
    given = [name for name, value in selectors.items() if value is not None or name in sources]
    if len(given) == 1:
        return given[0]
    options = ", ".join(selectors)
    if not given:
        raise StoqConfigError(f"{owner} needs exactly one of {options}; none was given.")
    raise StoqConfigError(f"{owner} needs exactly one of {options}; got {len(given)}: {', '.join(given)}.")

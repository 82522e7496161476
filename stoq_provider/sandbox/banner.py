"""What the sandbox says about itself: the lines it prints when it starts, and Airflow connections to it.

The connection lines work as printed: pasted into a shell, they make ``airflow connections test stoq_default``
succeed (``tests/sandbox/test_banner.py`` runs them).
"""

from __future__ import annotations

import json
import shlex
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from stoq_provider.sandbox.constants import ADMIN_PREFIX, AUTH_HEADER, OPENAPI_PATH
from stoq_provider.sandbox.readings import DEFAULT_READING, OPTION_NAMES
from stoq_provider.sandbox.state import SandboxConfig


def connection_json(base_url: str, api_key: str, **extra: Any) -> str:
    """An Airflow connection to the sandbox, JSON form (the whole base URL in ``host``; ``extra`` as given)."""
    return json.dumps({"conn_type": "stoq", "host": base_url, "password": api_key, "extra": extra})


def connection_uri(base_url: str, api_key: str, **extra: Any) -> str:
    """The same connection in Airflow's URI form, ``stoq://http://:KEY@HOST:PORT/PATH?extras``.

    Airflow reads a URI with two ``://`` as one whose host carries its protocol; the URI's path becomes the
    connection's schema, which the provider reads as the base URL's path.
    """
    parts = urlsplit(base_url)
    query = urlencode(extra)
    return f"stoq://{parts.scheme}://:{quote(api_key, safe='')}@{parts.netloc}{parts.path}?{query}"


def _faults(config: SandboxConfig) -> str:
    faults = config.faults
    if faults.rate <= 0 and not faults.script:
        return "none (python -m stoq_provider.sandbox --fault-rate 0.2 injects some)"
    where = ", ".join(sorted(faults.endpoints)) if faults.endpoints else "every endpoint"
    return f"{faults.rate:.0%} of API requests on {where}: {','.join(faults.kinds)} (seed {faults.seed})"


def _reading(config: SandboxConfig) -> str:
    changed = {
        name: getattr(config.reading, name)
        for name in OPTION_NAMES
        if getattr(config.reading, name) != getattr(DEFAULT_READING, name)
    }
    if not changed:
        return "the sandbox's own (pages of up to 500, no bulk cap)"
    return ", ".join(f"{name}={value}" for name, value in changed.items())


def start_lines(config: SandboxConfig, origin: str, base_url: str) -> list[str]:
    """What ``python -m stoq_provider.sandbox`` prints after its first line (the ``listening on`` line)."""
    json_form = connection_json(base_url, config.api_key, shop_domain=config.shop_domain)
    uri_form = connection_uri(base_url, config.api_key, shop_domain=config.shop_domain)
    return [
        f"  API key     {config.api_key}  (send it as {AUTH_HEADER}; in Airflow, the connection's password)",
        f"  budget      {config.budget} points per {config.window:g} s (GET 1, other calls 2)",
        f"  data        {config.intents} intents on {config.variants} variants (seed {config.seed})",
        f"  faults      {_faults(config)}",
        f"  reading     {_reading(config)}",
        f"  admin       {origin}{ADMIN_PREFIX}  (lists its routes: ledger, stats, intents, reset, faults...)",
        f"  OpenAPI     {origin}{OPENAPI_PATH}",
        "Airflow connection to it, either form:",
        f"  export AIRFLOW_CONN_STOQ_DEFAULT={shlex.quote(json_form)}",
        f"  export AIRFLOW_CONN_STOQ_DEFAULT={shlex.quote(uri_form)}",
    ]

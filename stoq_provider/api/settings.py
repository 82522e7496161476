"""Connection settings: everything the transport needs, read once from an Airflow Connection and validated.

Validation happens here, before any request, so a bad connection fails with a message that names the field.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from stoq_provider.api.contract import MAX_BATCH_SIZE
from stoq_provider.exceptions import StoqConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_BASE_URL = "https://app.stoqapp.com/api/v1/external"
DEFAULT_PATH = "/api/v1/external"
SHOP_DOMAIN_SUFFIX = ".myshopify.com"

#: Extras a connection may carry, with their defaults. Documented in the README ("Connection extras").
EXTRA_DEFAULTS: dict[str, Any] = {
    "shop_domain": None,
    "timeout": 30.0,
    "connect_timeout": 10.0,
    "max_retries": 5,
    "retry_max_time": 120.0,
    "retry_wait_initial": 0.5,
    "retry_wait_max": 20.0,
    "batch_size": 1000,
    "max_rate_limit_retries": 10,
    "max_rate_limit_wait": 90.0,
    "ca_bundle": None,
}


@dataclass(frozen=True)
class StoqSettings:
    """Validated settings of one STOQ connection.

    :param api_key: the store's API key (never shown by ``repr``).
    :param base_url: the v1 external API, e.g. ``https://app.stoqapp.com/api/v1/external``.
    :param conn_id: the Airflow connection id, used in messages.
    :param shop_domain: ``<shop>.myshopify.com``, needed only by ``create_intent``.
    :param timeout: read timeout of every request, in seconds.
    :param connect_timeout: connect timeout of every request, in seconds.
    :param max_retries: attempts for one read that meets a transient failure.
    :param retry_max_time: upper bound, in seconds, on the time spent retrying one read.
    :param retry_wait_initial: first backoff wait, in seconds (it doubles, with jitter).
    :param retry_wait_max: longest single backoff wait, in seconds.
    :param batch_size: intent IDs per bulk notify call.
    :param max_rate_limit_retries: 429 answers tolerated for one request before giving up.
    :param max_rate_limit_wait: longest single wait for the rate budget, in seconds.
    :param ca_bundle: path of a CA bundle to verify STOQ's certificate with (verification is never off).
    """

    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    conn_id: str = "stoq_default"
    shop_domain: str | None = None
    timeout: float = EXTRA_DEFAULTS["timeout"]
    connect_timeout: float = EXTRA_DEFAULTS["connect_timeout"]
    max_retries: int = EXTRA_DEFAULTS["max_retries"]
    retry_max_time: float = EXTRA_DEFAULTS["retry_max_time"]
    retry_wait_initial: float = EXTRA_DEFAULTS["retry_wait_initial"]
    retry_wait_max: float = EXTRA_DEFAULTS["retry_wait_max"]
    batch_size: int = EXTRA_DEFAULTS["batch_size"]
    max_rate_limit_retries: int = EXTRA_DEFAULTS["max_rate_limit_retries"]
    max_rate_limit_wait: float = EXTRA_DEFAULTS["max_rate_limit_wait"]
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        # Settings built directly (a StoqClient outside Airflow) get the same two guards as a connection's.
        if not self.api_key or not self.api_key.strip():
            raise StoqConfigError(f"Connection {self.conn_id!r} has no API key.")
        check_url_security(self.base_url, conn_id=self.conn_id)

    @property
    def public_intents_url(self) -> str:
        """The public storefront endpoint that creates intents (outside ``/external``, no API key)."""
        parts = urlsplit(self.base_url)
        path = parts.path.rstrip("/")
        prefix = path[: -len("/external")] if path.endswith("/external") else "/api/v1"
        return urlunsplit((parts.scheme, parts.netloc, f"{prefix}/intents.json", "", ""))

    @property
    def verify(self) -> bool | str:
        """What to hand to the HTTP client as TLS verification: always on, optionally with a CA bundle."""
        return self.ca_bundle or True

    @classmethod
    def from_connection(cls, conn: Any) -> StoqSettings:
        """Build settings from an Airflow ``Connection``; raises :class:`StoqConfigError` on bad input."""
        conn_id = getattr(conn, "conn_id", None) or "stoq_default"
        api_key = (conn.password or "").strip()
        if not api_key:
            raise StoqConfigError(
                f"Connection {conn_id!r} has no API key. Put the store's STOQ API key in the connection's "
                "password field (STOQ app in Shopify Admin: Settings > Integrations > API Key)."
            )
        extra = _extra_dict(conn, conn_id)
        check_tls_extras(extra, conn_id=conn_id)
        options = {name: extra.get(name, default) for name, default in EXTRA_DEFAULTS.items()}
        base_url = build_base_url(conn.host, conn.schema, conn.port, conn_id=conn_id)
        check_url_security(base_url, conn_id=conn_id)
        check_extra_names(extra, conn_id=conn_id)
        shop_domain = options.pop("shop_domain")
        shop_domain = validate_shop_domain(shop_domain, conn_id=conn_id) if shop_domain not in (None, "") else None
        numbers = {
            name: _as_number(options[name], name, conn_id, integer=name in _INTEGER_EXTRAS) for name in _NUMERIC_EXTRAS
        }
        ca_bundle = options.get("ca_bundle") or None
        return cls(
            api_key=api_key,
            base_url=base_url,
            conn_id=conn_id,
            shop_domain=shop_domain,
            ca_bundle=str(ca_bundle) if ca_bundle else None,
            **numbers,
        )


#: Extras other tools use to switch TLS verification off; this provider refuses them rather than ignore them.
_TLS_OFF_EXTRAS = ("verify", "verify_ssl", "ssl_verify", "tls_verify", "insecure", "insecure_skip_verify", "no_verify")
_TRUE = {"true", "1", "yes", "on"}


def check_tls_extras(extra: Mapping[str, Any], *, conn_id: str) -> None:
    """Refuse an extra that would switch TLS verification off (or swap the CA), instead of silently ignoring it."""
    for name in _TLS_OFF_EXTRAS:
        if name not in extra:
            continue
        value = extra[name]
        asks_off = (
            str(value).strip().lower() in _TRUE
            if name.startswith(("insecure", "no_"))
            else (value is False or str(value).strip().lower() not in _TRUE)
        )
        if asks_off:
            raise StoqConfigError(
                f"Connection {conn_id!r}: extra {name!r}={value!r} is refused: this provider never switches TLS "
                "certificate verification off (the API key travels with every request). Remove it; behind a "
                "proxy that re-signs TLS, set the extra 'ca_bundle' to its CA certificate file instead."
            )


def check_extra_names(extra: Mapping[str, Any], *, conn_id: str) -> None:
    """Refuse an extra this provider does not read (a misspelling would otherwise be silently ignored)."""
    import difflib

    for name in extra:
        if name in EXTRA_DEFAULTS or name in _TLS_OFF_EXTRAS:
            continue
        close = difflib.get_close_matches(name, EXTRA_DEFAULTS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise StoqConfigError(
            f"Connection {conn_id!r}: extra {name!r} is not one this provider reads; {hint}The extras are: "
            f"{', '.join(EXTRA_DEFAULTS)}."
        )


_NUMERIC_EXTRAS = (
    "timeout",
    "connect_timeout",
    "max_retries",
    "retry_max_time",
    "retry_wait_initial",
    "retry_wait_max",
    "batch_size",
    "max_rate_limit_retries",
    "max_rate_limit_wait",
)
_INTEGER_EXTRAS = {"max_retries", "batch_size", "max_rate_limit_retries"}
#: Upper bounds of numeric extras that have one.
_MAXIMA: dict[str, int] = {"batch_size": MAX_BATCH_SIZE}


def _extra_dict(conn: Any, conn_id: str) -> Mapping[str, Any]:
    extra = getattr(conn, "extra_dejson", None)
    if extra is None:
        raw = getattr(conn, "extra", None) or "{}"
        try:
            extra = json.loads(raw)
        except ValueError:
            raise StoqConfigError(f"Connection {conn_id!r}: the extra field is not valid JSON.") from None
    if not isinstance(extra, dict):
        raise StoqConfigError(f"Connection {conn_id!r}: the extra field must be a JSON object.")
    # Airflow's UI may store form fields with the ``extra__stoq__`` prefix.
    return {key.removeprefix("extra__stoq__"): value for key, value in extra.items() if value not in ("", None)}


def _as_number(value: Any, name: str, conn_id: str, *, integer: bool) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StoqConfigError(f"Connection {conn_id!r}: extra {name!r} must be a number, got {value!r}.") from None
    if (number <= 0 and name not in {"max_rate_limit_retries"}) or number < 0:
        raise StoqConfigError(f"Connection {conn_id!r}: extra {name!r} must be positive, got {value!r}.")
    if integer:
        if number != int(number):
            raise StoqConfigError(f"Connection {conn_id!r}: extra {name!r} must be a whole number, got {value!r}.")
        number = int(number)
    maximum = _MAXIMA.get(name)
    if maximum is not None and number > maximum:
        raise StoqConfigError(
            f"Connection {conn_id!r}: extra {name!r} must be at most {maximum}, got {value!r}; "
            f"the default is {EXTRA_DEFAULTS[name]}."
        )
    return number


def build_base_url(host: str | None, schema: str | None, port: int | None, *, conn_id: str) -> str:
    """Turn the connection's host, schema and port into the API base URL.

    ``host`` is a full URL (``http://127.0.0.1:8765/api/v1/external``) or a bare host name (``https`` is then
    assumed). ``schema`` is either the scheme (``http``/``https``, as Airflow's HTTP connections use it) or the
    path: Airflow's URI form puts a URI's path there, so ``stoq://http://:KEY@127.0.0.1:8765/api/v1/external``
    is understood. A path given twice (in the host URL and in the schema) is refused, showing the right form.
    """
    host = (host or "").strip()
    schema = (schema or "").strip()
    if not host:
        if schema:
            raise StoqConfigError(
                f"Connection {conn_id!r}: schema {schema!r} is set but host is empty; put the whole base URL in "
                f"host, e.g. {DEFAULT_BASE_URL!r}."
            )
        return DEFAULT_BASE_URL
    scheme_in_schema = schema.lower() in {"http", "https"}
    if "://" not in host:
        host = f"{schema.lower() if scheme_in_schema else 'https'}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise StoqConfigError(f"Connection {conn_id!r}: host must be an http(s) URL such as {DEFAULT_BASE_URL!r}.")
    if parts.username or parts.password:
        raise StoqConfigError(
            f"Connection {conn_id!r}: do not put credentials in the host URL; the API key goes in the password."
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    if schema and not scheme_in_schema:
        if path:
            whole = urlunsplit((parts.scheme, netloc, path, "", ""))
            raise StoqConfigError(
                f"Connection {conn_id!r}: the host URL has a path ({path!r}) and the schema holds another "
                f"({schema!r}); part of the base URL would be lost. Put the whole base URL in host (e.g. "
                f"{whole!r}) and leave schema empty."
            )
        path = "/" + schema.strip("/")
    return urlunsplit((parts.scheme, netloc, path or DEFAULT_PATH, "", ""))


def is_loopback(hostname: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url_security(url: str, *, conn_id: str) -> None:
    """Refuse plain ``http://`` to anything but loopback (the sandbox): the API key must never travel in clear."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if not is_loopback(parts.hostname or ""):
        raise StoqConfigError(
            f"Connection {conn_id!r}: refusing plain http:// to {parts.hostname!r}; the API key would travel "
            "unencrypted. Use https:// (plain http:// is only for a sandbox on loopback)."
        )


def validate_shop_domain(value: Any, *, conn_id: str = "stoq_default") -> str:
    """Return the shop domain lower-cased, or raise if it is not ``<shop>.myshopify.com``."""
    text = str(value).strip().lower()
    name = text.removesuffix(SHOP_DOMAIN_SUFFIX)
    if not text.endswith(SHOP_DOMAIN_SUFFIX) or not name or "/" in name or ":" in name:
        raise StoqConfigError(
            f"Connection {conn_id!r}: extra 'shop_domain' must look like 'my-store{SHOP_DOMAIN_SUFFIX}' "
            f"(the store's myshopify.com domain), got {value!r}."
        )
    return text

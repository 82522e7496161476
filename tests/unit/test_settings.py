"""Connection settings (``api/settings.py``): base URL, extras, TLS rules, the shop domain."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from stoq_provider.api.settings import DEFAULT_BASE_URL, StoqSettings, validate_shop_domain
from stoq_provider.exceptions import (
    StoqConfigError,
)


def _conn(**kwargs):
    base = {"conn_id": "stoq_default", "password": "stoq_api_key_x", "host": None, "schema": None, "port": None}
    base.update(kwargs)
    extra = base.pop("extra", {})
    return SimpleNamespace(extra_dejson=extra, **base)


def test_settings_defaults_and_repr_hides_key():
    settings = StoqSettings.from_connection(_conn())
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.public_intents_url == "https://app.stoqapp.com/api/v1/intents.json"
    assert "stoq_api_key_x" not in repr(settings)
    assert settings.verify is True


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        ("app.restockrocket.io", None, None, "https://app.restockrocket.io/api/v1/external"),
        ("http://127.0.0.1:8765/api/v1/external/", None, None, "http://127.0.0.1:8765/api/v1/external"),
        ("localhost", "http", 8765, "http://localhost:8765/api/v1/external"),
        ("https://proxy.example.com/stoq", None, None, "https://proxy.example.com/stoq"),
        # Airflow's URI form puts the path in the schema: stoq://http://:KEY@127.0.0.1:8765/api/v1/external
        ("http://127.0.0.1", "api/v1/external", 8765, "http://127.0.0.1:8765/api/v1/external"),
        ("127.0.0.1", "/api/v1/external/", 8765, "https://127.0.0.1:8765/api/v1/external"),
        ("https://proxy.example.com", "stoq/v1", None, "https://proxy.example.com/stoq/v1"),
        ("proxy.example.com", "HTTPS", 8443, "https://proxy.example.com:8443/api/v1/external"),
    ],
)
def test_settings_base_url(host, schema, port, expected):
    assert StoqSettings.from_connection(_conn(host=host, schema=schema, port=port)).base_url == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"password": None}, "no API key"),
        ({"host": "http://10.1.2.3/api"}, "http://"),
        ({"host": "ftp://x"}, "host"),
        ({"host": "https://user:pw@app.stoqapp.com"}, "credentials"),
        ({"extra": {"timeout": "soon"}}, "timeout"),
        ({"extra": {"timeout": 0}}, "timeout"),
        ({"extra": {"batch_size": 2.5}}, "batch_size"),
        ({"extra": {"shop_domain": "mystore.com"}}, "shop_domain"),
        ({"host": "http://stoq-proxy.internal/api/v1/external"}, "refusing plain http://"),
        ({"host": "https://proxy.example.com/stoq", "schema": "api/v1/external"}, "would be lost.*'https://proxy"),
        ({"host": None, "schema": "api/v1/external"}, "host is empty"),
        ({"extra": {"batchsize": 500}}, "extra 'batchsize' is not one this provider reads; did you mean 'batch_size'"),
        ({"extra": {"shopdomain": "a.myshopify.com"}}, "did you mean 'shop_domain'"),
        ({"extra": {"colour": "blue"}}, "extra 'colour' is not one this provider reads; The extras are: shop_domain"),
    ],
)
def test_settings_refuse_bad_connections(kwargs, match):
    with pytest.raises(StoqConfigError, match=match):
        StoqSettings.from_connection(_conn(**kwargs))


@pytest.mark.parametrize(
    "extra",
    [
        {"verify": False},
        {"verify": "false"},
        {"verify_ssl": "0"},
        {"ssl_verify": "no"},
        {"insecure": True},
        {"insecure_skip_verify": "true"},
        {"verify": "/etc/ssl/custom.pem"},
    ],
)
def test_settings_refuse_extras_that_would_switch_tls_verification_off(extra):
    with pytest.raises(StoqConfigError, match=r"never switches TLS certificate verification off.*ca_bundle"):
        StoqSettings.from_connection(_conn(extra=extra))


@pytest.mark.parametrize("extra", [{"verify": True}, {"verify": "true"}, {"insecure": "false"}])
def test_settings_accept_extras_that_keep_tls_verification_on(extra):
    assert StoqSettings.from_connection(_conn(extra=extra)).verify is True


def test_settings_plain_http_has_no_opt_in():
    conn = _conn(host="http://stoq-proxy.internal/api/v1/external", extra={"allow_insecure_http": "true"})
    with pytest.raises(StoqConfigError, match="https://"):
        StoqSettings.from_connection(conn)


def test_settings_ui_prefixed_extras_and_ca_bundle():
    conn = _conn(extra={"extra__stoq__shop_domain": "My-Store.myshopify.com", "ca_bundle": "/etc/ca.pem"})
    settings = StoqSettings.from_connection(conn)
    assert settings.shop_domain == "my-store.myshopify.com"
    assert settings.verify == "/etc/ca.pem"


@pytest.mark.parametrize(
    "domain", [".myshopify.com", "shop.myshopify.com/x", "shop.myshopify.co", "https://a.myshopify.com"]
)
def test_shop_domain_validation(domain):
    with pytest.raises(StoqConfigError, match=r"myshopify\.com"):
        validate_shop_domain(domain)


@pytest.mark.parametrize(
    ("conn_id", "hint"),
    [
        ("stoq_eu", """AIRFLOW_CONN_STOQ_EU='{"conn_type": "stoq", "password": "stoq_api_key_..."}'"""),
        ("stoq-eu", "airflow connections add 'stoq-eu' --conn-type stoq --conn-password 'stoq_api_key_...'"),
    ],
)
def test_the_missing_connection_hint_names_that_connection(conn_id, hint):
    from stoq_provider.hooks.connection import missing_connection

    message = str(missing_connection(conn_id))
    assert hint in message and "STOQ_DEFAULT" not in message

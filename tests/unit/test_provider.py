"""The package as Airflow sees it: entry point, provider info, connection form declared twice and in agreement."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import stoq_provider
from stoq_provider.hooks.stoq import StoqHook


def _stoq_conn_config():
    (config,) = stoq_provider.get_provider_info()["connection-types"]
    return config


def test_entry_point_points_at_get_provider_info():
    (entry,) = [
        ep
        for ep in importlib.metadata.entry_points(group="apache_airflow_provider")
        if ep.dist is not None and ep.dist.name == "airflow-provider-stoq"
    ]
    assert entry.load() is stoq_provider.get_provider_info
    assert importlib.metadata.version("airflow-provider-stoq") == stoq_provider.__version__


def test_provider_info_names_the_hook():
    info = stoq_provider.get_provider_info()
    assert info["package-name"] == "airflow-provider-stoq"
    config = _stoq_conn_config()
    assert config["connection-type"] == StoqHook.conn_type == "stoq"
    assert config["hook-name"] == StoqHook.hook_name == "STOQ"
    assert config["hook-class-name"] == f"{StoqHook.__module__}.{StoqHook.__qualname__}"
    assert StoqHook.default_conn_name == "stoq_default"


def test_ui_field_behaviour_agrees_with_provider_info():
    declared = _stoq_conn_config()["ui-field-behaviour"]
    hook = StoqHook.get_ui_field_behaviour()
    assert hook["hidden_fields"] == declared["hidden-fields"]
    assert hook["relabeling"] == declared["relabeling"]
    assert hook["placeholders"] == declared["placeholders"]
    assert hook["relabeling"]["password"] == "API Key"


def test_form_widgets_agree_with_conn_fields():
    from wtforms import Form

    fields = _stoq_conn_config()["conn-fields"]
    widgets = StoqHook.get_connection_form_widgets()
    assert set(widgets) == set(fields)
    form = type("StoqForm", (Form,), dict(widgets))()
    # Airflow 3.1 accepts only String, Integer, Password and Boolean fields: a number is a text field there.
    kinds = {"StringField": {"string", "number"}, "IntegerField": {"integer"}}
    for name, spec in fields.items():
        field = form[name]
        assert field.label.text == spec["label"], name
        assert field.description == spec["description"], name
        assert kinds[type(field).__name__] & set(spec["schema"]["type"]), name
        default = spec["schema"].get("default")
        assert field.default == (f"{default:g}" if "number" in spec["schema"]["type"] and default else default), name


def test_providers_manager_lists_the_stoq_connection_type():
    code = (
        "from airflow.providers_manager import ProvidersManager as P; p = P(); "
        "print('airflow-provider-stoq' in p.providers, p.hooks['stoq'].connection_type, "
        "p.hooks['stoq'].hook_name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split()[-3:] == ["True", "stoq", "STOQ"]


def test_importing_the_hook_module_stays_light():
    code = (
        "import sys, stoq_provider.hooks.stoq; "
        "print(*(m in sys.modules for m in\n"
        "  ('requests', 'stoq_provider.api.transport.sync', 'stoq_provider.api.delivery')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split()[-3:] == ["False", "False", "False"]


def test_the_form_offers_every_extra_the_settings_read_with_their_defaults():
    from stoq_provider.api.settings import EXTRA_DEFAULTS

    fields = _stoq_conn_config()["conn-fields"]
    assert sorted(fields) == sorted(EXTRA_DEFAULTS)
    for name, default in EXTRA_DEFAULTS.items():
        assert fields[name]["schema"].get("default") == default, name

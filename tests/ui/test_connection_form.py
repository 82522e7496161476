"""The STOQ connection form as a user meets it: Airflow's own UI in Chromium (``make test-ui``).

Admin > Connections > Add Connection, type STOQ: the password field reads "API Key", the host field "Base URL",
the extras (shop domain, timeouts, retries, batch size) are there with their defaults, the fields the hook hides
(login, schema, port) are not. The connection is saved and listed, stored with conn type ``stoq`` and its
extras, and the key is stored as typed but never shown: not by the page, the REST API or the server's log.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import requests

import stoq_provider
from tests.support.secret_guard import leaks_in

pytestmark = pytest.mark.ui

CONN_ID = "stoq_ui_test"
#: Obviously fake; the secret guard watches it (it reaches ``StoqSettings.from_connection`` below).
FAKE_KEY = "stoq_api_key_FAKE_ui_test_not_a_real_key"
BASE_URL = "https://app.stoqapp.com/api/v1/external"
SHOP_DOMAIN = "my-store.myshopify.com"
DESCRIPTION = "Production store (my-store)"
#: The generic connection fields get_ui_field_behaviour hides, and the generic labels it replaces.
HIDDEN_INPUTS = ("login", "schema", "port")
REPLACED_LABELS = ("Login", "Schema", "Port", "Host", "Password")

#: Read the connection back the way Airflow itself does, in the server's home; print no secret.
READ_BACK = """
import json, os, sys
from airflow.models.connection import Connection
from stoq_provider.api.settings import StoqSettings
conn = Connection.get_connection_from_secrets(sys.argv[1])
settings = StoqSettings.from_connection(conn)
print(json.dumps({
    "conn_type": conn.conn_type,
    "extra": conn.extra_dejson,
    "key_as_typed": conn.password == os.environ["STOQ_UI_EXPECTED_KEY"],
    "base_url": settings.base_url,
    "shop_domain": settings.shop_domain,
    "batch_size": settings.batch_size,
}))
"""


def _stoq_form() -> tuple[dict, dict]:
    (config,) = stoq_provider.get_provider_info()["connection-types"]
    return config["conn-fields"], config["ui-field-behaviour"]


def test_add_a_stoq_connection_in_the_ui(airflow_ui, browser, screenshot_dir: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # two cores, and the first page load compiles nothing but is slow
    conn_fields, behaviour = _stoq_form()
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{airflow_ui.url}/connections")
        page.get_by_role("button", name="Add Connection").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_role("heading", name="Add Connection")).to_be_visible()

        # The connection type list offers STOQ (hook_name), among the types of the installed providers.
        dialog.get_by_role("combobox").click()
        options = page.get_by_role("option")
        expect(options.first).to_be_visible()
        assert "STOQ" in options.all_inner_texts()
        page.get_by_role("option", name="STOQ", exact=True).click()

        # Standard fields: relabelled, with placeholders, the key masked; hidden ones absent.
        expect(dialog.get_by_role("button", name="Standard Fields")).to_have_attribute("aria-expanded", "true")
        base_url = dialog.get_by_label("Base URL", exact=True)
        api_key = dialog.get_by_label("API Key", exact=True)
        expect(base_url).to_be_visible()
        expect(base_url).to_have_attribute("placeholder", behaviour["placeholders"]["host"])
        expect(api_key).to_be_visible()
        expect(api_key).to_have_attribute("type", "password")
        expect(api_key).to_have_attribute("placeholder", behaviour["placeholders"]["password"])
        for name in HIDDEN_INPUTS:
            expect(dialog.locator(f"input[name='{name}']")).to_have_count(0)
        for label in REPLACED_LABELS:
            expect(dialog.locator("label").filter(has_text=re.compile(rf"^\s*{label}\s*$"))).to_have_count(0)

        dialog.get_by_label("Connection ID").fill(CONN_ID)
        dialog.get_by_label("Description").fill(DESCRIPTION)
        base_url.fill(BASE_URL)
        expect(api_key).to_be_editable()
        api_key.fill(FAKE_KEY)
        expect(api_key).to_have_attribute("type", "password")  # still masked once typed
        dialog.get_by_label("Connection ID").click()  # focus away from the key for the screenshot
        dialog.screenshot(path=str(screenshot_dir / "connection_form.png"), animations="disabled")

        # Extra fields: exactly the provider's, labelled, described, with their defaults.
        dialog.get_by_role("button", name="Extra Fields", exact=True).click()
        # The section's region is unnamed in Airflow 3.3 (aria-labelledby holds an id with a space): find it
        # through its accordion item.
        extras = (
            dialog.locator("[data-part=item]")
            .filter(has=page.get_by_role("button", name="Extra Fields", exact=True))
            .get_by_role("region")
        )
        expect(extras).to_be_visible()

        def extra(label: str):
            # Airflow 3.3 renders the label of a text extra without a `for` matching its input, so find the
            # input through the field group that holds the label.
            return extras.get_by_role("group").filter(
                has=page.locator("label").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
            )

        shown = [text.strip() for text in extras.locator("label").all_inner_texts()]
        assert shown == [spec["label"] for spec in conn_fields.values()]
        shop = extra("Shop domain")
        expect(shop).to_contain_text(conn_fields["shop_domain"]["description"])
        for spec in conn_fields.values():
            default = spec["schema"].get("default")
            if default is not None:
                expect(extra(spec["label"]).locator("input")).to_have_value(str(default))
        shop.locator("input").fill(SHOP_DOMAIN)
        dialog.get_by_role("heading", name="Add Connection").click()
        dialog.screenshot(path=str(screenshot_dir / "connection_form_extras.png"), animations="disabled")

        # Save: the dialog closes, Airflow confirms, and the connection is listed.
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_text("Connection has been successfully created")).to_be_visible()
        row = page.get_by_role("row").filter(has_text=CONN_ID)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("stoq")
        expect(row).to_contain_text(BASE_URL)
        page.screenshot(
            path=str(screenshot_dir / "connection_list.png"),
            clip={"x": 0, "y": 0, "width": 1280, "height": 300},
            animations="disabled",
        )
        page.reload()
        expect(page.get_by_role("row").filter(has_text=CONN_ID)).to_have_count(1)
        page_html = page.content()
    finally:
        context.close()

    # The REST API: conn type and extras as the form built them; the key masked.
    answer = requests.get(f"{airflow_ui.url}/api/v2/connections/{CONN_ID}", timeout=30)
    assert answer.status_code == 200, answer.status_code
    saved = answer.json()
    assert saved["conn_type"] == "stoq"
    assert saved["host"] == BASE_URL
    assert saved["description"] == DESCRIPTION
    assert (saved["login"], saved["schema"], saved["port"]) == (None, None, None)
    assert saved["password"] == "***"
    extra_saved = json.loads(saved["extra"])
    assert extra_saved["shop_domain"] == SHOP_DOMAIN
    assert {k: v for k, v in extra_saved.items() if k != "shop_domain" and v is not None} == {
        name: spec["schema"]["default"] for name, spec in conn_fields.items() if "default" in spec["schema"]
    }
    # A field left empty is saved as null (the provider reads it as not given): here, only the CA bundle.
    assert [k for k, v in extra_saved.items() if v is None] == ["ca_bundle"]

    # What the form saved is what the provider accepts (this also puts the key under the secret guard's watch).
    from airflow.sdk import Connection

    from stoq_provider.api.settings import StoqSettings

    settings = StoqSettings.from_connection(
        Connection(
            conn_id=CONN_ID, conn_type=saved["conn_type"], host=saved["host"], password=FAKE_KEY, extra=saved["extra"]
        )
    )
    assert (settings.base_url, settings.shop_domain, settings.batch_size) == (BASE_URL, SHOP_DOMAIN, 1000)

    # The metadata database, read by Airflow in the server's home: the key stored exactly as typed.
    done = airflow_ui.run(sys.executable, "-c", READ_BACK, CONN_ID, env={"STOQ_UI_EXPECTED_KEY": FAKE_KEY})
    assert done.returncode == 0, "reading the connection back failed:\n" + _scrubbed(done.stderr[-3000:])
    stored = json.loads(done.stdout.strip().splitlines()[-1])
    assert stored == {
        "conn_type": "stoq",
        "extra": extra_saved,
        "key_as_typed": True,
        "base_url": BASE_URL,
        "shop_domain": SHOP_DOMAIN,
        "batch_size": 1000,
    }

    # Nothing showed the key: the page, the REST answer, the server's log.
    for where, text in {
        "the connections page": page_html,
        "the REST API": answer.text,
        "the API server's log": airflow_ui.log.read_text(errors="replace"),
        "the read-back output": done.stdout + done.stderr,
    }.items():
        assert not leaks_in(text, keys={FAKE_KEY}, emails=set(), phones=set()), f"the API key reached {where}"


def _scrubbed(text: str) -> str:
    return text.replace(FAKE_KEY, "***")

"""Event-driven scheduling in a real deployment (``make test-deploy``; deselected from ``make test``).

Airflow's API server, scheduler, DAG processor and triggerer run as separate processes (see ``deployment.py``)
with ``example_stoq_demand_watcher``, whose asset has a ``StoqDemandEventTrigger`` watcher polling the sandbox
every 2 s. Customers sign up through the sandbox's public storefront endpoint (``POST /api/v1/intents.json``,
no API key), as they would on a shop. Checked, from Airflow's REST API and the sandbox's ledger:

* each burst of signups starts exactly one DAG run (run type ``asset_triggered``, from an asset event whose
  extra says ``from_trigger``), and the run alerts exactly the new signups on variants in stock;
* no new signups, no new run, for at least 5 poll rounds (counted in the triggerer's log);
* the triggerer restarted: on Airflow 3.3+ its watermark is in the asset state store, so nothing is re-fired
  and a signup made while it was down starts one run; on 3.1/3.2 the first round after the restart is a new
  baseline (documented), and nothing is re-fired either.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stoq_provider.api.client import StoqClient
from stoq_provider.api.settings import StoqSettings
from tests.support.deployment import Deployment
from tests.support.paths import ROOT

pytestmark = pytest.mark.deploy

DAG_ID = "example_stoq_demand_watcher"
IN_STOCK, SOLD_OUT = 40000000000, 40000000001  # the example's in_stock param: 25 units and 0
ROUND_LINE = re.compile(r"STOQ signups: (\d+) new")


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stoq_sandbox) -> Deployment:
    deploy = Deployment(
        tmp_path / "airflow",
        dags=[ROOT / "example_dags" / f"{DAG_ID}.py"],
        extra_env={
            "AIRFLOW_CONN_STOQ_DEFAULT": stoq_sandbox.connection_json(),
            "STOQ_EXAMPLE_POLL_SECONDS": "2",
        },
    )
    monkeypatch.setenv("AIRFLOW_HOME", str(deploy.home))  # the secret guard reads this home afterwards
    yield deploy
    leftovers = deploy.stop()
    assert not leftovers, f"processes outlived a graceful stop and were killed: {leftovers}"
    assert deploy.stray_pids() == [], "a process of the deployment is still running"


def test_signups_start_one_run_per_burst(deployment: Deployment, stoq_sandbox) -> None:
    try:
        _run_scenario(deployment, stoq_sandbox)
    except BaseException:
        pii = stoq_sandbox.pii()
        print(deployment.log_tails(redact=[pii["api_key"], *pii["emails"], *pii["phones"]]))
        raise


class Watcher:
    """The watcher's poll rounds, read from the triggerer's log."""

    def __init__(self, deploy: Deployment) -> None:
        self.log = deploy.logs / "triggerer.log"

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def rounds(self) -> int:
        return len(ROUND_LINE.findall(self.text())) + self.text().count("baseline set")


def _run_scenario(deploy: Deployment, sandbox) -> None:
    from airflow import __version__ as airflow_version

    shared_state = tuple(int(p) for p in airflow_version.split(".")[:2]) >= (3, 3)
    api = deploy.bring_up(DAG_ID)
    watcher = Watcher(deploy)
    deploy.wait_for("the watcher's first round (its baseline)", lambda: "baseline set" in watcher.text(), 120)

    products = {v["shopify_variant_id"]: v["shopify_product_id"] for v in sandbox.catalog()}
    storefront = StoqClient(
        StoqSettings(api_key=sandbox.api_key, base_url=sandbox.base_url, shop_domain=sandbox.shop_domain)
    )

    def sign_up(variant: int) -> str:
        """A customer signs up on the storefront (the public endpoint, no API key)."""
        created = storefront.create_intent(
            shopify_variant_id=variant,
            shopify_product_id=products[variant],
            email=f"watcher-{len(sandbox.intents())}@example.com",
        )
        return str(created["id"])

    def runs() -> list[dict]:
        return api.get(f"/dags/{DAG_ID}/dagRuns", params={"order_by": "logical_date"})["dag_runs"]

    def settled(count: int) -> list[dict]:
        found = runs()
        done = len(found) == count and all(r["state"] in ("success", "failed") for r in found)
        return found if done else []

    def quiet(rounds: int, expected_runs: int) -> None:
        """At least ``rounds`` more poll rounds pass, and no run starts meanwhile."""
        target = watcher.rounds() + rounds
        deploy.wait_for(f"{rounds} poll rounds", lambda: watcher.rounds() >= target, 60)
        assert len(runs()) == expected_runs, runs()

    audit: list[str] = []

    # Burst 1: two customers on a variant in stock, one on a sold-out variant.
    burst1 = [sign_up(IN_STOCK), sign_up(IN_STOCK)]
    sign_up(SOLD_OUT)
    first = deploy.wait_for("one run for the first burst", lambda: settled(1), 180)
    quiet(5, 1)
    audit.append(f"burst 1 (3 signups): {len(runs())} run(s)")
    assert set(sandbox.ledger()["sends"]) == set(burst1), "the new signups in stock, nobody else"

    # Burst 2: one more customer.
    burst2 = [sign_up(IN_STOCK)]
    deploy.wait_for("one run for the second burst", lambda: settled(2), 180)
    quiet(5, 2)
    audit.append(f"burst 2 (1 signup): {len(runs()) - 1} new run(s)")

    # The triggerer restarts; on 3.3+ a signup made while it is down is reported once it is back.
    deploy.stop_component("triggerer")
    offset = len(watcher.text())
    while_down = [sign_up(IN_STOCK)] if shared_state else []
    deploy.start("triggerer")
    back = "resuming from the watermark" if shared_state else "baseline set"
    deploy.wait_for("the restarted triggerer's first round", lambda: back in watcher.text()[offset:], 180)
    expected = 3 if shared_state else 2
    deploy.wait_for("the runs after the restart", lambda: settled(expected), 180)
    quiet(5, expected)
    audit.append(f"triggerer restarted: {expected - 2} new run(s) (signups while down: {len(while_down)})")

    all_runs = runs()
    assert [r["state"] for r in all_runs] == ["success"] * expected, all_runs
    assert {r["run_type"] for r in all_runs} == {"asset_triggered"}, all_runs
    ledger = sandbox.ledger()
    assert set(ledger["sends"]) == set(burst1 + burst2 + while_down) and ledger["duplicates"] == []
    assert all(count == 1 for count in ledger["sends"].values())
    events = api.get("/assets/events", params={"order_by": "timestamp"})["asset_events"]
    from_trigger = [e for e in events if (e.get("extra") or {}).get("from_trigger")]
    assert [e["extra"]["payload"]["new_total"] for e in from_trigger] == [3, 1, *([1] if shared_state else [])]
    audit.append(
        f"asset events from the trigger: {[e['extra']['payload']['new'] for e in from_trigger]}; "
        f"runs: {[(r['dag_run_id'], r['run_type'], r['state']) for r in all_runs]}; "
        f"ledger: {ledger['total_sends']} sends, {len(ledger['duplicates'])} duplicates; "
        f"poll rounds seen: {watcher.rounds()}; first run {first[0]['dag_run_id']}"
    )
    print("\n" + "\n".join(audit))

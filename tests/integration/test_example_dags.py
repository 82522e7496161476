"""Every example DAG parses and runs green with real Airflow (`airflow dags test`) against the sandbox."""

from __future__ import annotations

from tests.support.intents import new_intents
from tests.support.paths import EXAMPLE_DAGS


def _eligible(server, variants):
    return {
        i["id"]
        for i in server.intents()
        if i["shopify_variant_id"] in variants
        and i["notified_at"] is None
        and i["type"] == "restock"
        and not (i["unsubscribed_at"] or i["customer_unsubscribed_at"] or i["blocked_at"])
    }


def test_every_example_parses_without_import_errors(airflow_db):
    from tests.support.airflow_compat import dagbag_class

    bag = dagbag_class()(dag_folder=str(EXAMPLE_DAGS))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {
        "example_stoq_restock",
        "example_stoq_nightly",
        "example_stoq_mapped",
        "example_stoq_asset_inventory",
        "example_stoq_asset_alerts",
        "example_stoq_callback",
        "example_stoq_inventory",
        "example_stoq_demand_watcher",
    }
    for path in EXAMPLE_DAGS.glob("example_*.py"):
        assert (compile(path.read_text(), str(path), "exec").co_consts[0] or "").strip(), (
            f"{path.name} needs a docstring"
        )


def test_core_example_twice_alerts_each_waiting_customer_exactly_once(stoq_sandbox, dags_test):
    variants = [40000000000, 40000000001]
    expected = _eligible(stoq_sandbox, set(variants))
    first = dags_test("example_stoq_restock", {"restocked_variant_ids": variants})
    after_first = stoq_sandbox.ledger()
    second = dags_test("example_stoq_restock", {"restocked_variant_ids": variants})
    ledger = stoq_sandbox.ledger()
    assert set(after_first["sends"]) == expected and after_first["total_sends"] == len(expected) > 0
    assert ledger["total_sends"] == after_first["total_sends"], "the second run must send nothing"
    assert ledger["duplicates"] == []
    output = first.stdout + first.stderr
    assert "customers waiting (need 1)" in output, "the sensor must have checked the waiting demand"
    again = second.stdout + second.stderr
    assert "Skipping due to soft_fail" in again, "nobody waits any more: the deferred wait ends and skips"


def test_nightly_example_dry_run_then_real(stoq_sandbox, dags_test):
    dags_test("example_stoq_nightly", {"dry_run": True, "in_stock_variant_ids": [40000000002]})
    assert stoq_sandbox.ledger()["total_sends"] == 0
    expected = _eligible(stoq_sandbox, {40000000002})
    dags_test("example_stoq_nightly", {"dry_run": False, "in_stock_variant_ids": [40000000002]})
    assert set(stoq_sandbox.ledger()["sends"]) == expected


def test_mapped_example(stoq_sandbox, dags_test):
    variants = [40000000001, 40000000002, 40000000003]
    expected = _eligible(stoq_sandbox, set(variants))
    dags_test("example_stoq_mapped", {"restocked_variant_ids": variants})
    assert set(stoq_sandbox.ledger()["sends"]) == expected and stoq_sandbox.ledger()["duplicates"] == []


def test_asset_examples(stoq_sandbox, dags_test):
    expected = _eligible(stoq_sandbox, {40000000003})
    dags_test("example_stoq_asset_inventory", {"restocked_variant_ids": [40000000003]})
    assert stoq_sandbox.ledger()["total_sends"] == 0
    dags_test("example_stoq_asset_alerts", {"fallback_variant_ids": [40000000003]})
    assert set(stoq_sandbox.ledger()["sends"]) == expected


def test_callback_example(stoq_sandbox, dags_test):
    expected = _eligible(stoq_sandbox, {40000000004})
    dags_test("example_stoq_callback", {"restocked_variant_ids": [40000000004]})
    assert set(stoq_sandbox.ledger()["sends"]) == expected and expected


def test_inventory_example(stoq_sandbox, dags_test):
    done = dags_test("example_stoq_inventory", {"inventory": {"40000000000": 3}})
    sends = stoq_sandbox.ledger()["sends"]
    assert 1 <= len(sends) <= 3
    assert "held back" in done.stdout + done.stderr


def test_demand_watcher_example_alerts_the_new_signups_on_variants_in_stock(stoq_sandbox, dags_test):
    """Run by hand with the event's ``new_intent_ids_by_variant`` as a param (the deployment test runs it from
    the watcher's asset events): variant 40000000000 has units, 40000000001 has none."""

    def signups(n: int, variant: int) -> list[str]:
        fresh = [{k: v for k, v in i.items() if k != "shopify_product_id"} for i in new_intents(n, variant=variant)]
        return [i["id"] for i in stoq_sandbox.add_intents(fresh)]

    in_stock, sold_out = signups(2, 40000000000), signups(1, 40000000001)
    conf = {"new_intent_ids_by_variant": {"40000000000": in_stock, "40000000001": sold_out}}
    done = dags_test("example_stoq_demand_watcher", conf)
    assert set(stoq_sandbox.ledger()["sends"]) == set(in_stock)
    assert "3 new signups, 2 on variants in stock" in done.stdout + done.stderr
    stoq_sandbox.reset()
    done = dags_test("example_stoq_demand_watcher", {"new_intent_ids_by_variant": {"40000000001": sold_out}})
    assert stoq_sandbox.ledger()["total_sends"] == 0, "nothing in stock: the alert task is skipped"


def test_core_example_at_a_page_cap_of_100_alerts_every_waiting_customer_once(stoq_sandbox, dags_test):
    """Another reading of the docs: STOQ serves at most 100 intents a page, whatever per_page asks."""
    stoq_sandbox.reset(seed=3, intents=1500, variants=5, page_cap=100)
    variants = [40000000000, 40000000001]
    expected = _eligible(stoq_sandbox, set(variants))
    assert len(expected) > 2 * 100, "more waiting customers per variant than one page holds"
    dags_test("example_stoq_restock", {"restocked_variant_ids": variants})
    ledger = stoq_sandbox.ledger()
    assert set(ledger["sends"]) == expected and ledger["total_sends"] == len(expected) and ledger["duplicates"] == []


def test_core_example_fails_clearly_on_a_listing_short_of_its_count(stoq_sandbox, dags_test, monkeypatch):
    # The sensor stops counting at its threshold, before the end of the listing; the alert task lists it all,
    # meets the shortfall and fails on every try (its retries, 1 s apart here, meet it again).
    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY", "1")
    stoq_sandbox.reset(seed=3, intents=300, variants=2, count_extra=5)
    done = dags_test("example_stoq_restock", {"restocked_variant_ids": [40000000000]}, check=False)
    output = done.stdout + done.stderr
    lines = [line for line in output.splitlines() if "listing is incomplete" in line]
    assert lines, output[-3000:]
    # The sensor's bound (products_in_demand, short too) is set aside for a listing; the alert task refuses.
    assert any("list_intents" in line and "meta.total_count" in line for line in lines), lines
    assert done.returncode != 0 and "new_state=failed" in output, "the task fails; soft_fail does not hide it"
    assert stoq_sandbox.ledger()["total_sends"] == 0, "nothing is sent from a listing known to be short"

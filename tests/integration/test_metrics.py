"""Metrics through Airflow's own ``Stats``: a real UDP StatsD listener, counts checked against the sandbox's.

``airflow dags test`` runs the DAGs with ``[metrics] statsd_on`` pointing at the listener. What the provider
reports must equal what the sandbox counted (requests, points) and what its ledger shows (intents alerted). A
metrics system that is off, unreachable or broken never fails a task.
"""

from __future__ import annotations

import time

import pytest

from stoq_provider import metrics
from stoq_provider.api.client import StoqClient
from stoq_provider.api.settings import StoqSettings
from tests.support.statsd import StatsdListener

PREFIX = "airflow."


def statsd_env(port: int, host: str = "127.0.0.1") -> dict[str, str]:
    return {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": host,
        "AIRFLOW__METRICS__STATSD_PORT": str(port),
    }


def settle(listener: StatsdListener, name: str, expected: float, timeout: float = 5.0) -> float:
    """UDP is asynchronous: wait briefly for the last packets."""
    deadline = time.monotonic() + timeout
    while listener.counter(name) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return listener.counter(name)


def test_a_restock_run_reports_what_the_sandbox_counted(stoq_sandbox, dags_test):
    with StatsdListener() as listener:
        before = stoq_sandbox.stats()
        dags_test("example_stoq_inventory", {"inventory": {"40000000000": 3}}, environment=statsd_env(listener.port))
        after = stoq_sandbox.stats()
        sent = stoq_sandbox.ledger()["total_sends"]
        requests = after["total_requests"] - before["total_requests"]
        points = after["points_charged"] - before["points_charged"]
        assert settle(listener, PREFIX + "stoq.intents.notified", sent) == sent > 0
        assert settle(listener, PREFIX + "stoq.requests", requests) == requests > 0
        assert settle(listener, PREFIX + "stoq.points", points) == points > 0
        assert listener.counter(PREFIX + "stoq.intents.held_back") > 0, "3 units for more waiting customers"
        assert listener.counter(PREFIX + "stoq.rate_limited") == after["rate_limited"] - before["rate_limited"]


def test_the_sensor_and_its_trigger_report_their_checks(stoq_sandbox, dags_test):
    with StatsdListener() as listener:
        dags_test(
            "example_stoq_restock", {"restocked_variant_ids": [40000000000]}, environment=statsd_env(listener.port)
        )
        assert settle(listener, PREFIX + "stoq.sensor.pokes", 1) >= 1
        assert settle(listener, PREFIX + "stoq.intents.notified", 1) == stoq_sandbox.ledger()["total_sends"] > 0


def test_an_unreachable_metrics_host_never_fails_a_task(stoq_sandbox, dags_test):
    env = statsd_env(9, host="metrics.invalid")  # does not resolve: Airflow falls back to no metrics
    dags_test("example_stoq_inventory", {"inventory": {"40000000000": 3}}, environment=env)
    assert stoq_sandbox.ledger()["total_sends"] > 0


def test_a_broken_metrics_backend_never_fails_a_request(stoq_sandbox, monkeypatch):
    class Broken:
        def incr(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("metrics backend down")

        timing = incr

    monkeypatch.setattr(metrics, "_stats", Broken)
    metrics.incr("stoq.requests")
    metrics.timing("stoq.budget_wait.paced", 1.5)
    metrics.restock_outcome({"notified": 3, "failed": 0})

    class Observed(StoqClient):
        def usage_observer(self):
            return metrics.transport_usage

    settings = StoqSettings(api_key=stoq_sandbox.api_key, base_url=stoq_sandbox.base_url)
    listed = list(Observed(settings).list_intents(notified=False))
    assert len(listed) == sum(1 for i in stoq_sandbox.intents() if i["notified_at"] is None)


@pytest.mark.parametrize("failure", [RuntimeError("observer bug"), ValueError("bad metric")])
def test_an_observer_that_raises_is_ignored(stoq_sandbox, failure):
    def observer(name: str, amount: float) -> None:
        raise failure

    class Observed(StoqClient):
        def usage_observer(self):
            return observer

    client = Observed(StoqSettings(api_key=stoq_sandbox.api_key, base_url=stoq_sandbox.base_url))
    assert client.get_intent(stoq_sandbox.intents()[0]["id"])["id"]
    assert client.usage.requests == 1 and client.usage.points == 1

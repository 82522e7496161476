"""Literal mistakes fail when the DAG file is parsed; templates and upstream results are checked when they run.

A literal ``batch_size=0`` or ``on_partial_failure="ignore"`` is known when the DAG is written: it fails the
DAG's import, so ``airflow dags list-import-errors`` shows it, instead of a task failing at 3 a.m.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stoq_provider.exceptions import StoqConfigError
from stoq_provider.notifications.stoq import StoqNotifier
from stoq_provider.operators.notify import StoqNotifyOperator

VARIANT = 40000000001

LITERAL_MISTAKES = [
    ({}, "needs exactly one of intent_ids, shopify_variant_ids"),
    ({"shopify_variant_ids": [VARIANT], "intent_ids": ["a"]}, "got 2: intent_ids, shopify_variant_ids"),
    ({"shopify_variant_ids": [VARIANT], "batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"shopify_variant_ids": [VARIANT], "batch_size": 5000}, "batch_size must be at most 1000"),
    ({"shopify_variant_ids": [VARIANT], "on_partial_failure": "ignore"}, "on_partial_failure must be one of"),
    ({"shopify_variant_ids": ["abc"]}, "shopify_variant_ids must be a positive integer Shopify ID"),
    ({"shopify_variant_ids": []}, "shopify_variant_ids is empty"),
    ({"inventory": {"x": 1}}, "inventory key"),
    ({"inventory": {str(VARIANT): -1}}, "must be a whole number of units >= 0"),
    ({"intent_ids": ["a", " "]}, "intent_ids"),
    ({"shopify_variant_ids": [VARIANT], "intent_types": []}, "intent_types must be a non-empty list"),
    ({"shopify_variant_ids": [VARIANT], "dry_run": "maybe"}, "dry_run must be true or false"),
    ({"shopify_variant_ids": [VARIANT], "allow_resend": "perhaps"}, "allow_resend must be true or false"),
]


@pytest.mark.parametrize(("kwargs", "match"), LITERAL_MISTAKES)
@pytest.mark.parametrize("owner", ["operator", "notifier"])
def test_a_literal_mistake_fails_when_constructed(owner, kwargs, match):
    with pytest.raises(StoqConfigError, match=match) as caught:
        if owner == "operator":
            StoqNotifyOperator(task_id="alert", **kwargs)
        else:
            StoqNotifier(**kwargs)
    prefix = "StoqNotifyOperator 'alert'" if owner == "operator" else "StoqNotifier"
    assert str(caught.value).startswith(prefix), str(caught.value)


def test_templates_and_upstream_results_wait_until_they_run():
    from airflow.sdk import DAG, task

    with DAG("parse_time_deferred", schedule=None):

        @task
        def sync() -> list[int]:
            return [VARIANT]

        operator = StoqNotifyOperator(
            task_id="alert",
            shopify_variant_ids=sync(),
            batch_size="{{ params.batch }}",
            allow_resend="{{ params.resend }}",
            intent_types="{{ params.types }}",
            dry_run="{{ params.dry }}",
        )
    assert operator.restock_sources == {
        "shopify_variant_ids": "the upstream task 'sync'",
        "allow_resend": "the template '{{ params.resend }}'",
        "intent_types": "the template '{{ params.types }}'",
        "batch_size": "the template '{{ params.batch }}'",
        "dry_run": "the template '{{ params.dry }}'",
    }
    assert {"allow_resend", "intent_types", "batch_size", "dry_run"} <= set(operator.template_fields)


def test_rendered_templates_are_read_like_literals():
    operator = StoqNotifyOperator(
        task_id="alert",
        shopify_variant_ids="{{ params.variants }}",
        batch_size="{{ params.batch }}",
        allow_resend="{{ params.resend }}",
        intent_types="{{ params.types }}",
    )
    # As Airflow leaves them once rendered (text):
    operator.shopify_variant_ids = f"[{VARIANT}]"
    operator.batch_size, operator.allow_resend = "250", "False"
    operator.intent_types = "['restock', 'wishlist_reminder']"
    request = operator.restock_request("StoqNotifyOperator 'alert'")
    assert request.variant_ids == (VARIANT,) and request.batch_size == 250 and request.allow_resend is False
    assert request.intent_types == ("restock", "wishlist_reminder")
    operator.batch_size = "0"
    with pytest.raises(StoqConfigError, match="batch_size must be a positive integer"):
        operator.restock_request("StoqNotifyOperator 'alert'")


def test_airflow_lists_the_dag_with_a_literal_mistake_among_its_import_errors(tmp_path: Path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "restock_bad_batch.py").write_text(
        "import pendulum\n"
        "from airflow.sdk import DAG\n"
        "from stoq_provider.operators.notify import StoqNotifyOperator\n"
        "with DAG('restock_bad_batch', start_date=pendulum.datetime(2026, 1, 1), schedule=None):\n"
        f"    StoqNotifyOperator(task_id='alert', shopify_variant_ids=[{VARIANT}], batch_size=0)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "home"),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    script = (
        "airflow db migrate >/dev/null && airflow dags reserialize >/dev/null 2>&1; airflow dags list-import-errors"
    )
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert "restock_bad_batch.py" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    assert "StoqNotifyOperator 'alert': batch_size must be a positive integer, got 0." in done.stdout

"""Nightly: report what customers are waiting for, and alert the ones whose variants are back.

Every night the DAG lists the variants in demand over the last 30 days (``StoqHook.products_in_demand``),
logs the top of that list for the merchandising team, asks the inventory system which of those variants have
stock again, and alerts the waiting customers. Set the ``dry_run`` param to see, per variant, who would be
alerted without sending anything.

    airflow dags test example_stoq_nightly -c '{"dry_run": true}'
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from stoq_provider.operators.notify import StoqNotifyOperator


@dag(
    schedule="0 3 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stoq", "example"],
    params={
        "dry_run": Param(False, type="boolean", description="Report what would be sent; send nothing."),
        "in_stock_variant_ids": Param([40000000000, 40000000002], type="array"),
    },
    render_template_as_native_obj=True,
)
def example_stoq_nightly():
    @task
    def report_demand(data_interval_end=None) -> list[int]:
        """Log the most wanted variants of the last 30 days; return every variant with pending signups."""
        import logging

        from stoq_provider.hooks.stoq import StoqHook

        end = data_interval_end or pendulum.now("UTC")
        demand = list(StoqHook().products_in_demand(start_date=end.subtract(days=30), end_date=end))
        demand.sort(key=lambda item: item.get("pending", 0), reverse=True)
        for item in demand[:10]:
            title = (item.get("product_data") or {}).get("title", "?")
            logging.getLogger(__name__).info(
                "In demand: variant %s (%s): %s waiting, %s signups in all.",
                item["shopify_variant_id"],
                title,
                item.get("pending"),
                item.get("total"),
            )
        return [int(item["shopify_variant_id"]) for item in demand if item.get("pending")]

    @task
    def back_in_stock(wanted: list[int], params=None) -> list[int]:
        """Stand-in for an inventory lookup: the wanted variants that have stock again."""
        in_stock = {int(variant) for variant in params["in_stock_variant_ids"]}
        return [variant for variant in wanted if variant in in_stock] or sorted(in_stock)

    StoqNotifyOperator(
        task_id="alert_restocked",
        shopify_variant_ids=back_in_stock(report_demand()),
        dry_run="{{ params.dry_run }}",
    )


example_stoq_nightly()

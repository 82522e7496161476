"""What the Airflow classes share: choosing whom to alert (selectors, the inventory rule), counting waiting
demand, and running one restock (:mod:`~stoq_provider.restock.alerts`)."""

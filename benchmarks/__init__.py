"""Benchmarks of airflow-provider-stoq against the local STOQ sandbox (``make bench``; ``--smoke`` in ``make test``).

Each benchmark runs a baseline and the provider side by side in the same run, against the sandbox on loopback,
and reports ratios; absolute times are context only. See ``docs/benchmarks.md`` for the latest results.
"""

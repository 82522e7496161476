"""The sandbox itself: its contract, its readings of the docs, its admin API."""

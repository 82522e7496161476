"""The logger type the provider's helpers accept."""

from __future__ import annotations

from typing import Any, Protocol


class Logger(Protocol):
    """What the transports, retry policies and restock runs call on a logger: printf-style level methods.

    A ``logging.Logger`` fits, and so does the structlog-backed ``self.log`` that Airflow's Task SDK gives
    hooks, operators and notifiers (``airflow.sdk``'s ``Logger`` protocol), which is not a ``logging.Logger``.
    """

    def debug(self, msg: str, /, *args: Any) -> object: ...

    def info(self, msg: str, /, *args: Any) -> object: ...

    def warning(self, msg: str, /, *args: Any) -> object: ...

    def error(self, msg: str, /, *args: Any) -> object: ...

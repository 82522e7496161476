"""What the delivery algorithm needs of a STOQ client: a typed protocol, so that delivery and read-back depend
on no concrete client (:class:`~stoq_provider.api.client.StoqClient` and the hook built on it satisfy it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from stoq_provider.api.contract import ApiRequest
    from stoq_provider.api.logs import Logger
    from stoq_provider.api.settings import StoqSettings


class ClientInterface(Protocol):
    """A synchronous STOQ client: :class:`~stoq_provider.api.client.StoqClient` is one."""

    @property
    def settings(self) -> StoqSettings:
        """The validated connection settings."""

    @property
    def log(self) -> Logger:
        """Where progress goes (IDs and counts only)."""

    #: The page size STOQ says it serves (``meta.per_page`` of the latest intents page), once seen.
    served_per_page: int | None

    def send(self, request: ApiRequest) -> Any:
        """Send one request of :mod:`stoq_provider.api.contract`; return its parsed JSON body."""

    def get_intent(self, intent_id: str) -> dict[str, Any]:
        """One intent by its ID."""

"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stoq_provider.sandbox.state import SandboxState


def get_state(request: Request) -> SandboxState:
    """The sandbox state of the application serving ``request``."""
    state: SandboxState = request.app.state.sandbox
    return state


#: Handler parameter type giving the sandbox state.
State = Annotated[SandboxState, Depends(get_state)]

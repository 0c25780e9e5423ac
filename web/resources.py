"""What the web process holds for its lifetime: built once in the app's lifespan, handed to
routes through a typed dependency (``Annotated[WebResources, Depends(get_resources)]``)."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis
from fastapi import Request

from core.config import Settings
from core.db.session import Database
from core.storage import Storage


@dataclass(frozen=True)
class WebResources:
    settings: Settings
    db: Database
    storage: Storage
    queue: ArqRedis


def get_resources(request: Request) -> WebResources:
    res = request.app.state.resources
    assert isinstance(res, WebResources)
    return res

"""The worker's engines: one per slot, built (models loaded) once at start-up and kept warm."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.config import Settings
from gpu_worker.engines import Engine, build_engine


@dataclass(frozen=True)
class EngineInfo:
    name: str
    device: str
    model: str  # the models it runs, comma-separated (recorded on every job)


class EnginePool:
    def __init__(self, engines: list[Engine]) -> None:
        if not engines:
            raise ValueError("an engine pool needs at least one engine")
        self._engines = engines
        self._free: asyncio.Queue[Engine] = asyncio.Queue()
        for engine in engines:
            self._free.put_nowait(engine)
        first = engines[0]
        self.info = EngineInfo(
            name=first.name,
            device=first.device,
            model=",".join(m.name for m in first.models)[:100] or first.name,
        )

    @classmethod
    def build(cls, settings: Settings) -> EnginePool:
        return cls([build_engine(settings.engine, settings) for _ in range(settings.worker.slots)])

    @asynccontextmanager
    async def engine(self) -> AsyncIterator[Engine]:
        engine = await self._free.get()
        try:
            yield engine
        finally:
            self._free.put_nowait(engine)

    def close(self) -> None:
        for engine in self._engines:
            engine.close()

"""The worker's engines: one per slot, built (models loaded) once at start-up and kept warm.

With a GPU engine configured (``facefusion``, ``comfyui``) each slot also keeps a warm
``classic`` engine as the fallback (``engine_fallback``); a GPU engine that cannot be built at
start-up (a model missing offline, its server down) leaves the worker running on the fallback.
Each job gets a ``JobEngine`` that chooses between them (``engines/choice.py``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.config import Settings
from core.errors import SwapzyError
from gpu_worker.engines import Engine, build_engine
from gpu_worker.engines.choice import EngineInfo, JobEngine, Policy
from gpu_worker.media.encoder_process import EncoderProcess

log = logging.getLogger(__name__)

FALLBACK = "classic"

__all__ = ["EngineInfo", "EnginePool", "Slot"]


@dataclass(frozen=True)
class Slot:
    primary: Engine | None  # None: it could not be built (``primary_error`` says why)
    fallback: Engine | None = None
    primary_error: str | None = None
    # The slot's clips are encoded in this process beside the engine (7-14% less time a
    # job than an encoder thread, bench/README); None: in a thread.
    encoder: EncoderProcess | None = None


class EnginePool:
    def __init__(
        self,
        engines: list[Engine] | list[Slot],
        *,
        primary_name: str = "",
        policy: Policy | None = None,
    ) -> None:
        if not engines:
            raise ValueError("an engine pool needs at least one engine")
        self._slots = [e if isinstance(e, Slot) else Slot(primary=e) for e in engines]
        self.policy = policy or Policy(fallback=False)
        self._free: asyncio.Queue[Slot] = asyncio.Queue()
        for slot in self._slots:
            self._free.put_nowait(slot)
        first = self._slots[0]
        running = first.primary or first.fallback
        if running is None:
            raise ValueError("a slot needs an engine")
        self.primary_name = primary_name or running.name
        self.info = EngineInfo.of(running)

    @classmethod
    def build(cls, settings: Settings) -> EnginePool:
        policy = Policy(
            fallback=settings.engine != FALLBACK and settings.engine_fallback == FALLBACK,
            allow_noncommercial=settings.allow_noncommercial_models,
            min_identity=settings.engine_min_identity,
        )
        slots = [_build_slot(settings, policy) for _ in range(settings.worker.slots)]
        return cls(slots, primary_name=settings.engine, policy=policy)

    @asynccontextmanager
    async def engine(
        self, *, commercial: bool = False, requested: str | None = None
    ) -> AsyncIterator[JobEngine]:
        """A slot's engines for one job: ``commercial`` (a paid job) applies the licence rule;
        ``requested`` (the job's engine, when set) picks the fallback engine by name."""
        slot = await self._free.get()
        try:
            if requested == FALLBACK and slot.fallback is not None:
                yield JobEngine(
                    slot.fallback,
                    None,
                    self.policy,
                    commercial=commercial,
                    primary_name=FALLBACK,
                    encoder=slot.encoder,
                )
            else:
                yield JobEngine(
                    slot.primary,
                    slot.fallback,
                    self.policy,
                    commercial=commercial,
                    primary_name=self.primary_name,
                    primary_error=slot.primary_error,
                    encoder=slot.encoder,
                )
        finally:
            self._free.put_nowait(slot)

    def close(self) -> None:
        for slot in self._slots:
            for engine in (slot.primary, slot.fallback):
                if engine is not None:
                    engine.close()
            if slot.encoder is not None:
                slot.encoder.close()


def _build_slot(settings: Settings, policy: Policy) -> Slot:
    encoder = EncoderProcess()  # starts now and loads while the models do
    try:
        if not policy.fallback:
            return Slot(primary=build_engine(settings.engine, settings), encoder=encoder)
        fallback = build_engine(FALLBACK, settings)
    except BaseException:
        encoder.close()
        raise
    try:
        primary = build_engine(settings.engine, settings)
        return Slot(primary=primary, fallback=fallback, encoder=encoder)
    except SwapzyError as exc:
        log.warning(
            "engine %s not loaded (%s); jobs run on %s", settings.engine, exc.message, FALLBACK
        )
        return Slot(primary=None, fallback=fallback, primary_error=exc.message, encoder=encoder)
    except BaseException:
        fallback.close()
        encoder.close()
        raise

"""Which engine runs a job, and the fallback to ``classic``.

Per job: the user's request (when the worker has that engine) else the worker's engine; a paid
job on an engine whose models forbid commercial use goes to the fallback unless the operator
allowed it. A GPU engine that is unavailable (not built at warm start, its server or a model
gone) or that fails its quality gate (identity of the swapped face vs the source on a few
sample frames) hands the job to the fallback. A failure after frames were already handed to
the encoder is not hidden: it fails the attempt (the worker retries it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from core.errors import EngineError, FaceNotFound, NoFaceInTarget, SwapzyError
from gpu_worker.engines.base import (
    Engine,
    FaceSelection,
    Frame,
    FrameSink,
    ModelInfo,
    Progress,
    SwapOutput,
)
from gpu_worker.engines.comfyui.client import ComfyFailed
from gpu_worker.engines.registry import (
    LicenceRefused,
    ModelMissing,
    ModelUnavailable,
    licence_refusal,
)
from gpu_worker.media.encoder_process import EncoderProcess

log = logging.getLogger(__name__)

GATE_SAMPLES = 4


@dataclass(frozen=True)
class EngineInfo:
    name: str
    device: str
    model: str  # the models it runs, comma-separated (recorded on every job)

    @classmethod
    def of(cls, engine: Engine) -> EngineInfo:
        return cls(
            name=engine.name,
            device=engine.device,
            model=",".join(m.name for m in engine.models)[:100] or engine.name,
        )


class EngineUnavailable(EngineError):
    """The engine cannot run now (not loaded, its server or a model is gone)."""

    code = "engine_unavailable"


@runtime_checkable
class IdentityCheck(Protocol):
    """Engines that can measure how much a swapped face looks like the source."""

    def source_identity(self, photo: Frame) -> tuple[NDArray[np.float32], int]: ...

    def identity(
        self, embedding: NDArray[np.float32], output: SwapOutput, samples: int = ...
    ) -> float | None: ...


@dataclass(frozen=True)
class Policy:
    fallback: bool = True  # classic takes over when the chosen engine cannot
    allow_noncommercial: bool = False
    min_identity: float = 0.3


class QualityGateFailed(EngineError):
    code = "quality_gate"


# Engine failures that end the job with their message (not retried as "internal").
JOB_FAILURES: tuple[type[SwapzyError], ...] = (
    LicenceRefused,
    ComfyFailed,
    QualityGateFailed,
    EngineUnavailable,
)


def lets_fallback_run(error: SwapzyError) -> bool:
    """Whether the fallback engine may take over after this failure of the chosen one."""
    return isinstance(error, ModelMissing | ModelUnavailable) or error.code == "engine_unavailable"


class JobEngine:
    """One job's view of a worker slot: chooses, runs, falls back; says what really ran."""

    def __init__(
        self,
        primary: Engine | None,
        fallback: Engine | None,
        policy: Policy,
        *,
        commercial: bool,
        primary_name: str,
        primary_error: str | None = None,
        encoder: EncoderProcess | None = None,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.policy = policy
        self.commercial = commercial
        self.primary_name = primary_name
        self.primary_error = primary_error
        self.encoder = encoder  # the slot's encoder process, if it keeps one
        chosen = primary or fallback
        assert chosen is not None
        self.name, self.device = chosen.name, chosen.device
        self.models: tuple[ModelInfo, ...] = chosen.models
        self.used: EngineInfo | None = None
        self.fallback_reason: str | None = None
        self.identity: float | None = None

    def close(self) -> None:
        return None  # the slot owns the engines

    def refusal(self) -> SwapzyError | None:
        """Why the primary may not take this job (licence, not loaded), or None."""
        if self.primary is None:
            return EngineUnavailable(
                self.primary_error or f"The {self.primary_name} engine is not loaded."
            )
        return licence_refusal(
            self.primary.models,
            commercial=self.commercial,
            allowed=self.policy.allow_noncommercial,
        )

    def swap(
        self,
        source: Frame,
        frames: Sequence[Frame],
        *,
        faces: FaceSelection = "largest",
        on_progress: Progress | None = None,
        durations_ms: Sequence[float] | None = None,
        on_frame: FrameSink | None = None,
    ) -> SwapOutput:
        problem = self.refusal()
        if problem is None and self.primary is not None:
            problem = self._gate(self.primary, source, frames, faces, durations_ms)
        if problem is None and self.primary is not None:
            handed = [0]

            def counted(i: int, frame: Frame) -> None:
                handed[0] += 1
                if on_frame is not None:
                    on_frame(i, frame)

            try:
                out = self.primary.swap(
                    source,
                    frames,
                    faces=faces,
                    on_progress=on_progress,
                    durations_ms=durations_ms,
                    on_frame=counted,
                )
            except SwapzyError as exc:
                if not lets_fallback_run(exc) or handed[0] or not self._can_fall_back():
                    raise
                problem = exc
            else:
                self.used = EngineInfo.of(self.primary)
                return out
        assert problem is not None
        return self._run_fallback(
            problem, source, frames, faces, on_progress, durations_ms, on_frame
        )

    def _can_fall_back(self) -> bool:
        return self.policy.fallback and self.fallback is not None

    def _run_fallback(
        self,
        problem: SwapzyError,
        source: Frame,
        frames: Sequence[Frame],
        faces: FaceSelection,
        on_progress: Progress | None,
        durations_ms: Sequence[float] | None,
        on_frame: FrameSink | None,
    ) -> SwapOutput:
        if not self._can_fall_back() or self.fallback is None:
            raise problem
        log.warning(
            "engine %s not used (%s); falling back to %s",
            self.primary_name,
            problem.message,
            self.fallback.name,
        )
        self.fallback_reason = problem.message
        out = self.fallback.swap(
            source,
            frames,
            faces=faces,
            on_progress=on_progress,
            durations_ms=durations_ms,
            on_frame=on_frame,
        )
        self.used = EngineInfo.of(self.fallback)
        return out

    def _gate(
        self,
        engine: Engine,
        source: Frame,
        frames: Sequence[Frame],
        faces: FaceSelection,
        durations_ms: Sequence[float] | None,
    ) -> SwapzyError | None:
        """Swap a few evenly spread frames and compare the faces with the source's identity."""
        if not isinstance(engine, IdentityCheck) or not self._can_fall_back():
            return None
        step = max(1, len(frames) // GATE_SAMPLES)
        picks = list(range(0, len(frames), step))[:GATE_SAMPLES]
        try:
            sample = engine.swap(
                source,
                [frames[i] for i in picks],
                faces=faces,
                durations_ms=[durations_ms[i] for i in picks] if durations_ms else None,
            )
            embedding, _ = engine.source_identity(source)
        except (NoFaceInTarget, FaceNotFound):
            return None  # the samples missed the faces: the whole clip decides
        except SwapzyError as exc:
            if lets_fallback_run(exc):
                return exc
            raise
        self.identity = engine.identity(embedding, sample)
        if self.identity is not None and self.identity < self.policy.min_identity:
            return QualityGateFailed(
                f"The {engine.name} engine failed its identity check on sample frames "
                f"({self.identity:.2f} < {self.policy.min_identity:.2f})."
            )
        return None

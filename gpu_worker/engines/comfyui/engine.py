"""The ``comfyui`` engine: each frame goes through a ComfyUI workflow (a JSON template in
``workflows/`` with named parameters), the source face uploaded once per clip. Stylized output
is not tracked or smoothed here: the workflow owns what happens to each frame."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

from core.config import Settings
from core.errors import FaceNotFound, SwapzyError
from gpu_worker.engines.base import (
    FaceSelection,
    Frame,
    FrameFace,
    FrameSink,
    ModelInfo,
    Progress,
    SwapOutput,
)
from gpu_worker.engines.comfyui.client import ComfyClient, ComfyFailed

WORKFLOWS = Path(__file__).parent / "workflows"


@dataclass(frozen=True)
class Workflow:
    name: str
    prompt: dict[str, Any]
    parameters: dict[str, dict[str, Any]]  # name -> {"node", "input", "default"?}
    output_node: str
    models: tuple[ModelInfo, ...]

    @classmethod
    def load(cls, name: str, folder: Path = WORKFLOWS) -> Workflow:
        path = folder / f"{name}.json"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in folder.glob("*.json")))
            raise SwapzyError(f"No ComfyUI workflow called {name!r}; there are: {known}.")
        data = json.loads(path.read_text())
        for param, where in data["parameters"].items():
            if where["node"] not in data["prompt"]:
                raise SwapzyError(f"Workflow {name}: parameter {param} names a missing node.")
        return cls(
            name=name,
            prompt=data["prompt"],
            parameters=data["parameters"],
            output_node=str(data["output_node"]),
            models=tuple(ModelInfo(**m) for m in data.get("models", [])),
        )

    def fill(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The API prompt with every named parameter set (given values, else defaults)."""
        unknown = set(values) - set(self.parameters)
        if unknown:
            raise SwapzyError(f"Workflow {self.name} has no parameter {sorted(unknown)[0]!r}.")
        prompt = copy.deepcopy(self.prompt)
        for name, where in self.parameters.items():
            if name in values:
                value = values[name]
            elif "default" in where:
                value = where["default"]
            else:
                raise SwapzyError(f"Workflow {self.name} needs a value for {name!r}.")
            prompt[where["node"]]["inputs"][where["input"]] = value
        return prompt


class ComfyUIEngine:
    name = "comfyui"
    device = "remote"

    def __init__(
        self,
        url: str,
        workflow: Workflow,
        *,
        timeout_s: float = 300.0,
        transport: httpx.BaseTransport | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        self.workflow = workflow
        self.models: tuple[ModelInfo, ...] = workflow.models
        self.values = dict(values or {})
        self.client = ComfyClient(url, timeout_s=timeout_s, transport=transport)
        self.client.system_stats()  # warm start: the server must be there before jobs come

    @classmethod
    def from_settings(cls, settings: Settings) -> ComfyUIEngine:
        return cls(
            settings.comfyui_url,
            Workflow.load(settings.comfyui_workflow),
            timeout_s=settings.comfyui_timeout_s,
        )

    def close(self) -> None:
        self.client.close()

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
        values = dict(self.values)
        notes = [f"Stylized by the ComfyUI workflow {self.workflow.name!r}."]
        if isinstance(faces, int):
            if "face_index" not in self.workflow.parameters:
                raise FaceNotFound("This style cannot pick one face; use --faces largest.")
            values["face_index"] = str(faces - 1)
        elif faces == "all":
            notes.append("The ComfyUI workflow swaps the faces it chooses; --faces all is a hint.")
        tag = self.client.client_id[:12]
        values["source_image"] = self.client.upload_image(f"swapzy-{tag}-source.png", _png(source))
        out: list[Frame] = []
        per_frame: list[list[FrameFace]] = []
        ws = self.client.connect()
        try:
            for i, frame in enumerate(frames):
                name = f"swapzy-{tag}-target-{i:04d}.png"
                values["target_image"] = self.client.upload_image(name, _png(frame))
                prompt_id = self.client.queue(self.workflow.fill(values))
                self.client.wait(ws, prompt_id)
                refs = self.client.outputs(prompt_id, self.workflow.output_node)
                result = _decode(self.client.view(refs[0]), frame.shape[:2])
                out.append(result)
                per_frame.append([])  # where the workflow put faces is not reported
                if on_frame is not None:
                    on_frame(i, result)
                if on_progress is not None:
                    on_progress(i + 1, len(frames))
        finally:
            ws.close()
        return SwapOutput(frames=out, faces=per_frame, tracks=[], source_faces_found=1, notes=notes)


def _png(frame: Frame) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(frame[..., ::-1]))
    if not ok:
        raise ComfyFailed("Could not encode a frame for ComfyUI.")
    return data.tobytes()


def _decode(data: bytes, shape: tuple[int, ...]) -> Frame:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ComfyFailed("ComfyUI returned an output that is not an image.")
    rgb = np.ascontiguousarray(image[..., ::-1])
    h, w = int(shape[0]), int(shape[1])
    if rgb.shape[:2] != (h, w):
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    return np.asarray(rgb, dtype=np.uint8)

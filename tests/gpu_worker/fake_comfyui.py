"""A small local server speaking ComfyUI's API (aiohttp, as ComfyUI itself): ``/system_stats``,
``/upload/image`` (multipart), ``POST /prompt`` with ComfyUI's validation errors, the ``/ws``
websocket with ``status``/``execution_start``/``executing``/``progress``/``executed`` events
(``executing`` with ``node: null`` when a prompt is done) and ``execution_error``,
``/history/{id}`` and ``/view``.

"Running" a workflow: the image of the LoadImage node whose input is ``target_node`` is taken,
tinted, and the source photo's mean colour painted in its centre — enough for a test to see
that the right target and source went through. Faults can be injected per test."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web
from PIL import Image

KNOWN_NODES = {
    "LoadImage",
    "CheckpointLoaderSimple",
    "CLIPTextEncode",
    "VAEEncode",
    "KSampler",
    "VAEDecode",
    "ReActorFaceSwap",
    "SaveImage",
}


@dataclass
class Faults:
    error_in_node: str | None = None  # execution_error from this node
    hang: bool = False  # never report the prompt done
    prompt_status: int | None = None  # answer POST /prompt with this HTTP status
    half_size_output: bool = False


@dataclass
class FakeComfyUI:
    target_node: str = "1"
    source_node: str = "2"
    faults: Faults = field(default_factory=Faults)
    inputs: dict[str, bytes] = field(default_factory=dict)
    outputs: dict[str, bytes] = field(default_factory=dict)
    history: dict[str, dict[str, Any]] = field(default_factory=dict)
    prompts: list[dict[str, Any]] = field(default_factory=list)
    sockets: dict[str, web.WebSocketResponse] = field(default_factory=dict)
    url: str = ""

    # --- routes --------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/system_stats", self.system_stats)
        app.router.add_post("/upload/image", self.upload)
        app.router.add_post("/prompt", self.prompt)
        app.router.add_get("/history/{prompt_id}", self.get_history)
        app.router.add_get("/view", self.view)
        app.router.add_get("/ws", self.websocket)
        return app

    async def system_stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"system": {"os": "posix", "comfyui_version": "fake"}, "devices": []}
        )

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        image = form["image"]
        assert isinstance(image, web.FileField)
        self.inputs[image.filename] = image.file.read()
        return web.json_response({"name": image.filename, "subfolder": "", "type": "input"})

    async def prompt(self, request: web.Request) -> web.Response:
        if self.faults.prompt_status is not None:
            return web.Response(status=self.faults.prompt_status, text="server error")
        body = await request.json()
        prompt, client_id = body["prompt"], body.get("client_id", "")
        refusal = self._validate(prompt)
        if refusal is not None:
            return web.json_response(refusal, status=400)
        prompt_id = uuid.uuid4().hex
        self.prompts.append(prompt)
        asyncio.get_running_loop().create_task(self._execute(prompt_id, prompt, client_id))
        return web.json_response(
            {"prompt_id": prompt_id, "number": len(self.prompts), "node_errors": {}}
        )

    async def get_history(self, request: web.Request) -> web.Response:
        prompt_id = request.match_info["prompt_id"]
        entry = self.history.get(prompt_id)
        return web.json_response({prompt_id: entry} if entry else {})

    async def view(self, request: web.Request) -> web.Response:
        data = self.outputs.get(request.query.get("filename", ""))
        if data is None or request.query.get("type") != "output":
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/png")

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        client_id = request.query.get("clientId", uuid.uuid4().hex)
        self.sockets[client_id] = ws
        await ws.send_json(
            {
                "type": "status",
                "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id},
            }
        )
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
        self.sockets.pop(client_id, None)
        return ws

    # --- ComfyUI's behaviour -------------------------------------------------------------------

    def _validate(self, prompt: dict[str, Any]) -> dict[str, Any] | None:
        for node_id, node in prompt.items():
            if node.get("class_type") not in KNOWN_NODES:
                return {
                    "error": {
                        "type": "invalid_prompt",
                        "message": (
                            f"Cannot execute because node {node.get('class_type')} does not exist."
                        ),
                        "details": f"Node ID '#{node_id}'",
                        "extra_info": {},
                    },
                    "node_errors": {},
                }
        errors = {}
        for node_id, node in prompt.items():
            name = node["inputs"].get("image")
            if node["class_type"] == "LoadImage" and name not in self.inputs:
                errors[node_id] = {
                    "errors": [
                        {
                            "type": "custom_validation_failed",
                            "message": "Invalid image file",
                            "details": f"image - {name}",
                            "extra_info": {},
                        }
                    ],
                    "dependent_outputs": ["9"],
                    "class_type": "LoadImage",
                }
        if errors:
            return {
                "error": {
                    "type": "prompt_outputs_failed_validation",
                    "message": "Prompt outputs failed validation",
                    "details": "",
                    "extra_info": {},
                },
                "node_errors": errors,
            }
        return None

    async def _send(self, client_id: str, kind: str, data: dict[str, Any]) -> None:
        ws = self.sockets.get(client_id)
        if ws is not None and not ws.closed:
            await ws.send_str(json.dumps({"type": kind, "data": data}))

    async def _execute(self, prompt_id: str, prompt: dict[str, Any], client_id: str) -> None:
        send = self._send
        await send(client_id, "execution_start", {"prompt_id": prompt_id})
        for node_id, node in prompt.items():
            await send(client_id, "executing", {"node": node_id, "prompt_id": prompt_id})
            if node_id == self.faults.error_in_node:
                await send(
                    client_id,
                    "execution_error",
                    {
                        "prompt_id": prompt_id,
                        "node_id": node_id,
                        "node_type": node["class_type"],
                        "exception_message": "CUDA out of memory. Tried to allocate 2.00 GiB\n",
                        "exception_type": "torch.OutOfMemoryError",
                        "traceback": [],
                    },
                )
                return
            if node["class_type"] == "KSampler":
                for step in range(1, 4):
                    await send(
                        client_id,
                        "progress",
                        {"value": step, "max": 3, "prompt_id": prompt_id, "node": node_id},
                    )
                ws = self.sockets.get(client_id)
                if ws is not None and not ws.closed:
                    await ws.send_bytes(b"\x00\x00\x00\x01preview")  # a preview image frame
        outputs: dict[str, Any] = {}
        for node_id, node in prompt.items():
            if node["class_type"] == "SaveImage":
                filename = f"swapzy_{len(self.outputs) + 1:05d}_.png"
                self.outputs[filename] = self._render(prompt)
                image = {"filename": filename, "subfolder": "", "type": "output"}
                outputs[node_id] = {"images": [image]}
                await send(
                    client_id,
                    "executed",
                    {"node": node_id, "output": outputs[node_id], "prompt_id": prompt_id},
                )
        self.history[prompt_id] = {
            "prompt": [len(self.prompts), prompt_id, prompt, {}, list(outputs)],
            "outputs": outputs,
            "status": {"status_str": "success", "completed": True, "messages": []},
        }
        if not self.faults.hang:
            await send(client_id, "executing", {"node": None, "prompt_id": prompt_id})

    def _render(self, prompt: dict[str, Any]) -> bytes:
        target = _rgb(self.inputs[prompt[self.target_node]["inputs"]["image"]])
        source = _rgb(self.inputs[prompt[self.source_node]["inputs"]["image"]])
        out = (
            (target.astype(np.float32) * 0.5 + np.array([0, 40, 90])).clip(0, 255).astype(np.uint8)
        )
        h, w = out.shape[:2]
        out[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3] = (
            source.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        )
        image = Image.fromarray(out)
        if self.faults.half_size_output:
            image = image.resize((max(1, w // 2), max(1, h // 2)))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()


def _rgb(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


class RunningServer:
    """The fake on 127.0.0.1 (a free port), on its own event loop in a thread."""

    def __init__(self, fake: FakeComfyUI) -> None:
        self.fake = fake
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._runner: web.AppRunner | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.fake.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.fake.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> FakeComfyUI:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the fake ComfyUI server did not start")
        return self.fake

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for ws in list(self.fake.sockets.values()):
                await ws.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()

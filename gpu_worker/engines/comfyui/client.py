"""A client for a ComfyUI server's HTTP + websocket API: upload inputs (``/upload/image``), queue
a workflow (``POST /prompt`` with our client id), follow it over ``/ws?clientId=`` until
``executing`` reports no node for our prompt, then read ``/history/{id}`` and fetch the images
from ``/view``. Every failure becomes an ``EngineError`` with one clear sentence.

The HTTP side goes through an ``httpx`` transport the caller may inject; the websocket through
``websockets``' synchronous client (engines run in a worker thread)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from core.errors import EngineError

Progress = Callable[[int, int], None]


class ComfyUnavailable(EngineError):
    """The ComfyUI server cannot be reached (a fallback engine may take the job)."""

    code = "engine_unavailable"


class ComfyFailed(EngineError):
    """ComfyUI refused or failed the workflow."""

    code = "engine_failed"


@dataclass(frozen=True)
class ImageRef:
    filename: str
    subfolder: str
    type: str


class ComfyClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.client_id = uuid.uuid4().hex
        self._http = httpx.Client(base_url=self.base_url, transport=transport, timeout=30.0)

    def close(self) -> None:
        self._http.close()

    # --- HTTP ----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ComfyUnavailable(
                f"The ComfyUI server at {self.base_url} cannot be reached ({type(exc).__name__})."
            ) from exc
        if response.status_code >= 500:
            raise ComfyFailed(f"The ComfyUI server answered HTTP {response.status_code} on {path}.")
        return response

    def system_stats(self) -> dict[str, Any]:
        response = self._call("GET", "/system_stats")
        response.raise_for_status()
        return dict(response.json())

    def upload_image(self, name: str, png: bytes) -> str:
        response = self._call(
            "POST",
            "/upload/image",
            files={"image": (name, png, "image/png")},
            data={"overwrite": "true", "type": "input"},
        )
        if response.status_code != 200:
            raise ComfyFailed(
                f"ComfyUI refused the upload of {name} (HTTP {response.status_code})."
            )
        body = response.json()
        sub = body.get("subfolder") or ""
        return f"{sub}/{body['name']}" if sub else str(body["name"])

    def queue(self, prompt: dict[str, Any]) -> str:
        response = self._call(
            "POST", "/prompt", json={"prompt": prompt, "client_id": self.client_id}
        )
        if response.status_code == 400:
            raise ComfyFailed(_refusal(response))
        if response.status_code != 200:
            raise ComfyFailed(f"ComfyUI did not queue the workflow (HTTP {response.status_code}).")
        return str(response.json()["prompt_id"])

    def outputs(self, prompt_id: str, node: str) -> list[ImageRef]:
        response = self._call("GET", f"/history/{prompt_id}")
        entry = response.json().get(prompt_id) if response.status_code == 200 else None
        if not entry:
            raise ComfyFailed(f"ComfyUI has no record of workflow run {prompt_id}.")
        images = entry.get("outputs", {}).get(node, {}).get("images", [])
        if not images:
            raise ComfyFailed(f"The ComfyUI workflow finished without an image from node {node}.")
        return [
            ImageRef(i["filename"], i.get("subfolder", ""), i.get("type", "output")) for i in images
        ]

    def view(self, ref: ImageRef) -> bytes:
        params = {"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type}
        response = self._call("GET", "/view", params=params)
        if response.status_code != 200:
            raise ComfyFailed(
                f"ComfyUI could not serve output {ref.filename} (HTTP {response.status_code})."
            )
        return response.content

    # --- websocket -----------------------------------------------------------------------------

    def connect(self) -> ClientConnection:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = urlunsplit(
            (scheme, parts.netloc, f"{parts.path}/ws", f"clientId={self.client_id}", "")
        )
        try:
            return connect(url, open_timeout=30, max_size=None)
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise ComfyUnavailable(
                f"The ComfyUI server at {self.base_url} refused its websocket "
                f"({type(exc).__name__})."
            ) from exc

    def wait(
        self, ws: ClientConnection, prompt_id: str, on_progress: Progress | None = None
    ) -> None:
        """Follow ``prompt_id`` until ComfyUI reports it done (``executing`` with no node)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ComfyFailed(
                    f"The ComfyUI workflow did not finish within {self.timeout_s:g} s."
                )
            try:
                message = ws.recv(timeout=left)
            except TimeoutError:
                continue  # the deadline check above ends it
            except WebSocketException as exc:
                raise ComfyUnavailable("The ComfyUI server closed its websocket mid-run.") from exc
            if isinstance(message, bytes):
                continue  # preview images
            event = json.loads(message)
            data = event.get("data") or {}
            if data.get("prompt_id") != prompt_id:
                continue
            kind = event.get("type")
            if kind == "execution_error":
                raise ComfyFailed(
                    f"The ComfyUI workflow failed in node {data.get('node_id')} "
                    f"({data.get('node_type')}): {data.get('exception_message', '').strip()}"
                )
            if kind == "execution_interrupted":
                raise ComfyFailed("The ComfyUI workflow was interrupted on the server.")
            if kind == "progress" and on_progress is not None:
                on_progress(int(data.get("value", 0)), int(data.get("max", 0)))
            if kind == "executing" and data.get("node") is None:
                return


def _refusal(response: httpx.Response) -> str:
    """ComfyUI's 400: ``{"error": {"type", "message", "details"}, "node_errors": {...}}``."""
    try:
        body = response.json()
    except ValueError:
        return "ComfyUI refused the workflow (HTTP 400)."
    error = body.get("error") or {}
    text = f"ComfyUI refused the workflow ({error.get('type', 'invalid_prompt')}): "
    text += str(error.get("message", "")).strip().rstrip(".")
    if error.get("details"):
        text += f": {error['details']}"
    for node, info in (body.get("node_errors") or {}).items():
        reasons = "; ".join(
            f"{e.get('message', '')} ({e.get('details', '')})".replace(" ()", "")
            for e in info.get("errors", [])
        )
        text += f"; node {node} ({info.get('class_type', '?')}): {reasons}"
    return text + "."

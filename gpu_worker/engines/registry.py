"""The model registry: every ONNX model a GPU engine may run, declared as data, fetched on first
use into a cache folder, verified, and refused for paid work when its licence forbids it.

FaceFusion publishes its models as GitHub release assets with a CRC32 ``.hash`` file beside each
one. A model is verified against its declared ``sha256`` when the registry has one, else against
FaceFusion's published CRC32; the sha256 of a verified download is then pinned in a
``<file>.sha256`` note in the cache, so a later corruption (or a swapped file) is caught on load
and the model fetched again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from core.config import Settings
from core.errors import SwapzyError
from gpu_worker.engines.base import ModelInfo

Role = Literal["detector", "landmarker", "embedder", "swapper", "enhancer", "mask"]
Status = Literal["ok", "missing", "mismatch", "unpinned"]

FF_RELEASES = "https://github.com/facefusion/facefusion-assets/releases/download"
FF_300 = f"{FF_RELEASES}/models-3.0.0"
FF_330 = f"{FF_RELEASES}/models-3.3.0"
INSIGHTFACE_NC = "InsightFace model licence: non-commercial research use only"


class ModelMissing(SwapzyError):
    """A model is not in the cache and may not be downloaded now."""

    code = "model_missing"


class ModelUnavailable(SwapzyError):
    """A model could not be downloaded or does not match its published hash."""

    code = "model_unavailable"


class LicenceRefused(SwapzyError):
    """A paid job would run a model whose licence forbids commercial use."""

    code = "model_licence"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    role: Role
    file: str
    url: str
    input_size: int  # the square side the model takes (detectors: 640, swappers: 128/256 ...)
    licence: str
    commercial_use: bool
    size: int | None = None  # bytes, when known; checked before hashing
    sha256: str | None = None  # pinned hash; None: FaceFusion's CRC32 (``hash_url``) decides
    hash_url: str | None = None  # FaceFusion's ``.hash`` file (CRC32, 8 hex digits)

    def info(self) -> ModelInfo:
        return ModelInfo(
            name=self.name,
            role=self.role,
            file=self.file,
            licence=self.licence,
            commercial_use=self.commercial_use,
            source=self.url,
        )


def _ff(
    name: str, role: Role, size: int, licence: str, commercial: bool, base: str = FF_300
) -> ModelSpec:
    return ModelSpec(
        name=name,
        role=role,
        file=f"{name}.onnx",
        url=f"{base}/{name}.onnx",
        input_size=size,
        licence=licence,
        commercial_use=commercial,
        hash_url=f"{base}/{name}.hash",
    )


# FaceFusion's model family. Licences as FaceFusion and the model authors state them; where a
# model's training data or weights carry a non-commercial term, commercial_use is False.
MODELS: tuple[ModelSpec, ...] = (
    _ff("yoloface_8n", "detector", 640, "GPL-3.0 (yolov8-face, Ultralytics AGPL-3.0 base)", False),
    _ff("retinaface_10g", "detector", 640, INSIGHTFACE_NC, False),
    _ff("scrfd_2.5g", "detector", 640, INSIGHTFACE_NC, False),
    _ff("2dfan4", "landmarker", 256, "BSD-3-Clause (face-alignment, 300W-LP data)", False),
    _ff("arcface_w600k_r50", "embedder", 112, INSIGHTFACE_NC, False),
    _ff("inswapper_128", "swapper", 128, INSIGHTFACE_NC, False),
    _ff("inswapper_128_fp16", "swapper", 128, INSIGHTFACE_NC, False),
    _ff("hyperswap_1a_256", "swapper", 256, "FaceFusion HyperSwap: research only", False, FF_330),
    _ff("gfpgan_1.4", "enhancer", 512, "Apache-2.0 code; weights trained on FFHQ (NC)", False),
)


def licence_refusal(
    models: Iterable[ModelInfo], *, commercial: bool, allowed: bool
) -> LicenceRefused | None:
    """The refusal of a paid job on models whose licence forbids commercial use (None: fine)."""
    barred = [m for m in models if not m.commercial_use]
    if not commercial or allowed or not barred:
        return None
    which = "; ".join(f"{m.name} ({m.licence})" for m in barred)
    return LicenceRefused(
        f"Paid jobs may not run models whose licence forbids commercial use: {which}. "
        "An operator can allow it with SWAPZY_ALLOW_NONCOMMERCIAL_MODELS=true."
    )


def registry_from_settings(settings: Settings, client: httpx.Client | None = None) -> ModelRegistry:
    return ModelRegistry(
        settings.models_dir or settings.data_dir / "models",
        offline=settings.models_offline,
        client=client,
        mirror=settings.models_mirror,
    )


class ModelRegistry:
    """Finds, fetches and verifies models in ``cache_dir``. ``offline``: never download.

    ``client`` is the HTTP client downloads go through; ``mirror`` replaces FaceFusion's GitHub
    releases address (an internal mirror or bucket with the same ``models-x.y.z/file`` layout;
    a local server in tests)."""

    def __init__(
        self,
        cache_dir: Path,
        specs: Iterable[ModelSpec] = MODELS,
        *,
        offline: bool = False,
        client: httpx.Client | None = None,
        mirror: str = "",
    ) -> None:
        self.cache_dir = cache_dir
        self.specs = {s.name: _mirrored(s, mirror) for s in specs}
        self.offline = offline
        self._client = client

    def spec(self, name: str) -> ModelSpec:
        try:
            return self.specs[name]
        except KeyError:
            known = ", ".join(sorted(self.specs))
            raise SwapzyError(f"No model called {name!r}; known models: {known}.") from None

    def local_path(self, name: str) -> Path:
        return self.cache_dir / self.spec(name).file

    def status(self, name: str) -> Status:
        path = self.local_path(name)
        if not path.is_file():
            return "missing"
        expected = self._expected_sha256(name)
        if expected is None:
            return "unpinned"
        return "ok" if _sha256(path) == expected else "mismatch"

    def path(self, name: str) -> Path:
        """The verified local file of ``name``, fetched first when missing or damaged."""
        state = self.status(name)
        if state == "ok":
            return self.local_path(name)
        if self.offline:
            why = {
                "missing": "is not in",
                "mismatch": "does not match its hash in",
                "unpinned": "cannot be verified (no recorded hash) in",
            }[state]
            raise ModelMissing(
                f"Model {name!r} {why} {self.cache_dir}; fetch it with `swapzy models fetch "
                f"{name}` (or set SWAPZY_MODELS_DIR to where it is)."
            )
        if state == "unpinned" and self._adopt(name):
            return self.local_path(name)
        return self.fetch(name, force=True)

    def _adopt(self, name: str) -> bool:
        """A file put in the cache by hand: keep it when it matches the published hash."""
        spec, path = self.spec(name), self.local_path(name)
        try:
            with self._http() as client:
                crc = self._published_crc(client, spec)
        except httpx.HTTPError:
            return False
        if crc is None or _crc32(path) != crc:
            return False
        _pin_path(path).write_text(_sha256(path) + "\n")
        return True

    def fetch(self, name: str, *, force: bool = False) -> Path:
        """Download ``name`` (unless present and verified), check it, pin its sha256."""
        spec = self.spec(name)
        path = self.local_path(name)
        if not force and self.status(name) == "ok":
            return path
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with self._http() as client:
            self._fetch_with(client, spec, path)
        _pin_path(path).write_text(_sha256(path) + "\n")
        return path

    def _http(self) -> contextlib.AbstractContextManager[httpx.Client]:
        if self._client is not None:
            return contextlib.nullcontext(self._client)
        return httpx.Client(follow_redirects=True, timeout=60.0)

    def _fetch_with(self, client: httpx.Client, spec: ModelSpec, path: Path) -> None:
        try:
            crc = self._published_crc(client, spec)
            tmp = path.with_name(f".{path.name}.partial")
            try:
                self._download(client, spec, tmp)
                self._verify(spec, tmp, crc)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        except httpx.HTTPStatusError as exc:
            raise ModelUnavailable(
                f"Could not download model {spec.name!r}: {exc.request.url} answered "
                f"HTTP {exc.response.status_code}."
            ) from exc
        except httpx.HTTPError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelUnavailable(
                f"Could not download model {spec.name!r} from {spec.url} ({reason})."
            ) from exc

    def check_licence(self, names: Iterable[str], *, commercial: bool, allowed: bool) -> None:
        """Refuse a commercial (paid) job on a model whose licence forbids it, unless the
        operator allowed it (``SWAPZY_ALLOW_NONCOMMERCIAL_MODELS``)."""
        refusal = licence_refusal(
            [self.spec(n).info() for n in names], commercial=commercial, allowed=allowed
        )
        if refusal is not None:
            raise refusal

    def _expected_sha256(self, name: str) -> str | None:
        spec = self.spec(name)
        if spec.sha256:
            return spec.sha256
        pin = _pin_path(self.local_path(name))
        return pin.read_text().strip() if pin.is_file() else None

    @staticmethod
    def _published_crc(client: httpx.Client, spec: ModelSpec) -> str | None:
        if spec.sha256 or not spec.hash_url:
            return None
        response = client.get(spec.hash_url)
        response.raise_for_status()
        return response.text.strip().lower()

    @staticmethod
    def _download(client: httpx.Client, spec: ModelSpec, tmp: Path) -> None:
        with client.stream("GET", spec.url) as response, tmp.open("wb") as out:
            response.raise_for_status()
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)

    @staticmethod
    def _verify(spec: ModelSpec, tmp: Path, crc: str | None) -> None:
        got_size = tmp.stat().st_size
        if spec.size is not None and got_size != spec.size:
            raise ModelUnavailable(
                f"Model {spec.name!r} downloaded from {spec.url} has {got_size} bytes, "
                f"not {spec.size}: refusing it."
            )
        if spec.sha256 and _sha256(tmp) != spec.sha256:
            raise ModelUnavailable(
                f"Model {spec.name!r} downloaded from {spec.url} does not match its sha256: "
                "refusing it."
            )
        if crc is not None and _crc32(tmp) != crc:
            raise ModelUnavailable(
                f"Model {spec.name!r} downloaded from {spec.url} does not match the published "
                f"hash ({crc}): refusing it."
            )
        if spec.sha256 is None and crc is None:
            raise ModelUnavailable(f"Model {spec.name!r} has no hash to verify it against.")


def _mirrored(spec: ModelSpec, mirror: str) -> ModelSpec:
    if not mirror:
        return spec
    base = mirror.rstrip("/")
    hash_url = spec.hash_url.replace(FF_RELEASES, base) if spec.hash_url else None
    return dataclasses.replace(spec, url=spec.url.replace(FF_RELEASES, base), hash_url=hash_url)


def _pin_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _crc32(path: Path) -> str:
    crc = 0
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            crc = zlib.crc32(chunk, crc)
    return format(crc, "08x")

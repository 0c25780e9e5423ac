"""The model registry against a local HTTP server laid out like FaceFusion's release assets
(``models-3.0.0/<name>.onnx`` + ``<name>.hash``, CRC32): first use downloads and verifies, a
damaged cache file is fetched again, a bad download is refused, offline a missing model names
the command that fetches it, and paid jobs are refused on non-commercial models.
`swapzy models list|fetch` are run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from core.config import Settings
from gpu_worker.engines.registry import (
    FF_RELEASES,
    MODELS,
    LicenceRefused,
    ModelMissing,
    ModelRegistry,
    ModelSpec,
    ModelUnavailable,
    registry_from_settings,
)
from tests.gpu_worker.onnx_standins import arcface


@dataclass
class Assets:
    """What the local server serves (path -> bytes) and which paths were asked for."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def publish(self, release: str, name: str, data: bytes, crc: str | None = None) -> None:
        self.files[f"/{release}/{name}.onnx"] = data
        self.files[f"/{release}/{name}.hash"] = (crc or format(zlib.crc32(data), "08x")).encode()

    def downloads(self, name: str) -> int:
        return sum(1 for r in self.requests if r.endswith(f"/{name}.onnx"))


@pytest.fixture
def assets() -> Iterator[Assets]:
    state = Assets()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            body = state.files.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def model_bytes(tmp_path: Path) -> bytes:
    """A real (tiny) ONNX model file: the ArcFace stand-in."""
    return arcface(tmp_path / "built" / "arcface.onnx").read_bytes()


def registry(cache: Path, assets: Assets, *, offline: bool = False) -> ModelRegistry:
    return ModelRegistry(cache, MODELS, offline=offline, mirror=assets.url)


def test_first_use_downloads_verifies_and_pins(
    tmp_path: Path, assets: Assets, model_bytes: bytes
) -> None:
    assets.publish("models-3.0.0", "arcface_w600k_r50", model_bytes)
    reg = registry(tmp_path / "cache", assets)
    assert reg.status("arcface_w600k_r50") == "missing"

    path = reg.path("arcface_w600k_r50")

    assert path == tmp_path / "cache" / "arcface_w600k_r50.onnx"
    assert path.read_bytes() == model_bytes
    assert reg.status("arcface_w600k_r50") == "ok"
    assert assets.downloads("arcface_w600k_r50") == 1
    reg.path("arcface_w600k_r50")  # verified from the pinned hash: no second download
    assert assets.downloads("arcface_w600k_r50") == 1
    assert not list((tmp_path / "cache").glob(".*partial"))


def test_damaged_cache_file_is_fetched_again(
    tmp_path: Path, assets: Assets, model_bytes: bytes
) -> None:
    assets.publish("models-3.0.0", "arcface_w600k_r50", model_bytes)
    reg = registry(tmp_path / "cache", assets)
    path = reg.path("arcface_w600k_r50")
    damaged = bytearray(model_bytes)
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    assert reg.status("arcface_w600k_r50") == "mismatch"

    assert reg.path("arcface_w600k_r50").read_bytes() == model_bytes
    assert assets.downloads("arcface_w600k_r50") == 2


def test_download_not_matching_the_published_hash_is_refused(
    tmp_path: Path, assets: Assets, model_bytes: bytes
) -> None:
    assets.publish("models-3.3.0", "hyperswap_1a_256", model_bytes, crc="0badc0de")
    reg = registry(tmp_path / "cache", assets)

    with pytest.raises(ModelUnavailable) as err:
        reg.path("hyperswap_1a_256")

    assert "hyperswap_1a_256" in err.value.message
    assert "does not match the published hash (0badc0de)" in err.value.message
    assert reg.status("hyperswap_1a_256") == "missing"
    assert list((tmp_path / "cache").iterdir()) == []


def test_declared_sha256_is_enforced(tmp_path: Path, assets: Assets, model_bytes: bytes) -> None:
    assets.publish("models-3.0.0", "tiny", model_bytes)
    spec = ModelSpec(
        name="tiny",
        role="embedder",
        file="tiny.onnx",
        url=f"{FF_RELEASES}/models-3.0.0/tiny.onnx",
        input_size=112,
        licence="MIT",
        commercial_use=True,
        sha256="0" * 64,
    )
    reg = ModelRegistry(tmp_path / "cache", [spec], mirror=assets.url)

    with pytest.raises(ModelUnavailable, match="does not match its sha256"):
        reg.fetch("tiny")


def test_offline_missing_model_names_the_fetch_command(tmp_path: Path, assets: Assets) -> None:
    reg = registry(tmp_path / "cache", assets, offline=True)

    with pytest.raises(ModelMissing) as err:
        reg.path("inswapper_128")

    assert err.value.message == (
        f"Model 'inswapper_128' is not in {tmp_path / 'cache'}; fetch it with "
        "`swapzy models fetch inswapper_128` (or set SWAPZY_MODELS_DIR to where it is)."
    )
    assert assets.requests == []


def test_paid_jobs_refuse_noncommercial_models_unless_allowed(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path, MODELS, offline=True)
    names = ["yoloface_8n", "arcface_w600k_r50", "inswapper_128"]

    with pytest.raises(LicenceRefused) as err:
        reg.check_licence(names, commercial=True, allowed=False)
    assert "inswapper_128 (InsightFace model licence: non-commercial" in err.value.message
    assert "SWAPZY_ALLOW_NONCOMMERCIAL_MODELS=true" in err.value.message

    reg.check_licence(names, commercial=True, allowed=True)  # the operator's explicit choice
    reg.check_licence(names, commercial=False, allowed=False)  # free jobs are not sold


def test_registry_data_mirrors_facefusion() -> None:
    by_name = {m.name: m for m in MODELS}
    for spec in MODELS:
        assert spec.url.startswith(FF_RELEASES) and spec.url.endswith(f"/{spec.file}")
        assert spec.hash_url == spec.url.removesuffix(".onnx") + ".hash"
    assert by_name["inswapper_128"].input_size == 128
    assert by_name["hyperswap_1a_256"].input_size == 256
    assert by_name["arcface_w600k_r50"].input_size == 112
    assert by_name["2dfan4"].input_size == 256
    assert {by_name[n].input_size for n in ("yoloface_8n", "retinaface_10g", "scrfd_2.5g")} == {640}
    for name in ("inswapper_128", "retinaface_10g", "scrfd_2.5g", "arcface_w600k_r50"):
        assert not by_name[name].commercial_use
        assert "non-commercial" in by_name[name].licence
    assert "research only" in by_name["hyperswap_1a_256"].licence


def _swapzy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_models_cli_fetch_and_list(
    tmp_path: Path, assets: Assets, model_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assets.publish("models-3.0.0", "arcface_w600k_r50", model_bytes)
    env = {
        "PATH": "/usr/bin:/bin",
        "SWAPZY_DATA_DIR": str(tmp_path / "var"),
        "SWAPZY_MODELS_MIRROR": assets.url,
    }

    fetched = _swapzy("models", "fetch", "arcface_w600k_r50", env=env)
    assert fetched.returncode == 0, fetched.stderr
    cached = tmp_path / "var" / "models" / "arcface_w600k_r50.onnx"
    assert (
        fetched.stdout.strip()
        == f"arcface_w600k_r50: {cached} ({len(model_bytes)} bytes, verified)"
    )

    listed = _swapzy("models", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert " ok " in rows["arcface_w600k_r50"]
    assert " missing " in rows["inswapper_128"]
    assert "NO commercial use" in rows["inswapper_128"]

    missing = _swapzy("models", "fetch", "inswapper_128", env=env)  # not on the server
    assert missing.returncode == 1
    assert missing.stderr == (
        f"swapzy: Could not download model 'inswapper_128': "
        f"{assets.url}/models-3.0.0/inswapper_128.hash answered HTTP 404.\n"
    )

    unknown = _swapzy("models", "fetch", "nope", env=env)
    assert unknown.returncode == 1
    assert "No model called 'nope'" in unknown.stderr


def test_settings_build_the_registry(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, models_offline=True, _env_file=None)  # type: ignore[call-arg]
    reg = registry_from_settings(settings)
    assert reg.cache_dir == tmp_path / "models"
    assert reg.offline
    with httpx.Client() as client:
        assert registry_from_settings(settings, client).specs["inswapper_128"].url == (
            f"{FF_RELEASES}/models-3.0.0/inswapper_128.onnx"
        )


def test_bot_web_and_models_cli_never_load_onnxruntime(tmp_path: Path) -> None:
    """The bot and web processes (and `swapzy models`) import none of the inference stack."""
    probe = (
        "import sys\n"
        "import web.main, bots.telegram.app, bots.discord.app, cli.main\n"
        "from gpu_worker.engines.registry import registry_from_settings\n"
        "from core.config import Settings\n"
        f"registry_from_settings(Settings(data_dir={str(tmp_path)!r})).status('inswapper_128')\n"
        "print(sorted(m for m in ('onnxruntime', 'onnx', 'websockets', 'mediapipe')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

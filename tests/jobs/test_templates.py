"""The template gallery: built-in GIFs made from public-domain portraits, or a configured folder."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageSequence

from core.config import Settings
from core.errors import ConfigError, InputError
from core.links import LinkSigner
from core.storage import LocalStorage
from jobs.templates import TemplateGallery

BUILTINS = ["astronaut-pan", "astronaut-zoom", "hopper-sway"]


def _storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", LinkSigner(b"s3cret", "http://swapzy.test"))


def _frames(data: bytes) -> list[NDArray[np.uint8]]:
    with Image.open(io.BytesIO(data)) as im:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(im)]


def test_builtin_templates_are_looping_gifs_with_a_face_in_every_frame(tmp_path: Path) -> None:
    from gpu_worker.engines.classic.landmarks import FaceDetector

    gallery = TemplateGallery(Settings(data_dir=tmp_path), _storage(tmp_path))
    templates = gallery.list()
    assert [t.name for t in templates] == BUILTINS
    assert [t.title for t in templates] == ["Astronaut pan", "Astronaut zoom", "Hopper sway"]
    detector = FaceDetector(full_range=False)
    try:
        for template in templates:
            assert (template.width, template.height, template.frames) == (256, 256, 20)
            data = gallery.data(template.name)
            with Image.open(io.BytesIO(data)) as im:
                assert im.format == "GIF"
                assert im.info["loop"] == 0
                assert im.info["duration"] == 120
            frames = _frames(data)
            assert len(frames) == 20
            # It moves: no two consecutive frames are the same picture.
            assert all(
                np.abs(a.astype(int) - b).mean() > 0.5 for a, b in itertools.pairwise(frames)
            )
            for frame in frames[::4]:
                boxes = detector.detect(frame)
                assert len(boxes) == 1, template.name
                x0, _, x1, _ = boxes[0]
                assert x1 - x0 > 50, f"{template.name}: the face is too small"
    finally:
        detector.close()
    # Generated once, then read from data_dir/templates.
    cached = tmp_path / "templates" / "hopper-sway.gif"
    before = cached.stat().st_mtime_ns
    again = TemplateGallery(Settings(data_dir=tmp_path), _storage(tmp_path))
    assert again.get("hopper-sway").frames == 20
    assert cached.stat().st_mtime_ns == before


def test_an_unknown_template_is_one_clear_sentence(tmp_path: Path) -> None:
    gallery = TemplateGallery(Settings(data_dir=tmp_path), _storage(tmp_path))
    with pytest.raises(InputError) as caught:
        gallery.get("dancing-cat")
    assert caught.value.message == (
        "There is no template called “dancing-cat”; the templates are: "
        "astronaut-pan, astronaut-zoom, hopper-sway."
    )
    with pytest.raises(InputError):
        gallery.data("../swapzy.db")


def _gif(path: Path, size: tuple[int, int], frames: int) -> None:
    images = [Image.new("RGB", size, (i * 40, 90, 200)) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)


def test_a_configured_folder_replaces_the_builtins(tmp_path: Path) -> None:
    folder = tmp_path / "gallery"
    folder.mkdir()
    _gif(folder / "party-time.gif", (320, 240), 5)
    _gif(folder / "Not A Name.gif", (64, 64), 2)  # not a template name: ignored
    (folder / "notes.txt").write_text("not a gif")
    settings = Settings(data_dir=tmp_path / "data", templates_dir=folder)
    gallery = TemplateGallery(settings, _storage(tmp_path))
    [template] = gallery.list()
    assert (template.name, template.title) == ("party-time", "Party time")
    assert (template.width, template.height, template.frames) == (320, 240, 5)
    assert gallery.data("party-time") == (folder / "party-time.gif").read_bytes()
    assert not (tmp_path / "data" / "templates").exists()  # no built-ins were made

    (folder / "broken.gif").write_bytes(b"GIF89a\x01")
    with pytest.raises(ConfigError, match=r"broken\.gif cannot be used: The animation is damaged"):
        gallery.list()


def test_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, templates_dir=tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"SWAPZY_TEMPLATES_DIR: .* is not a folder"):
        TemplateGallery(settings, _storage(tmp_path)).list()


def test_url_stores_the_template_once_and_signs_a_link(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    gallery = TemplateGallery(Settings(data_dir=tmp_path), storage)
    link = gallery.url("astronaut-zoom", expires_s=600)
    assert link.startswith("http://swapzy.test/m/templates/astronaut-zoom.gif?")
    assert storage.get_bytes("templates/astronaut-zoom.gif") == gallery.data("astronaut-zoom")

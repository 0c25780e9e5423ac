"""The template gallery: ready-made GIFs a user can swap a face into (``/swap-template``, the web
page's gallery).

Templates come from ``settings.templates_dir`` (every ``*.gif`` in it; the name is the file's stem,
lower-case letters, digits and dashes) or, when none is configured, from a few built-in clips made
on first use from public-domain images our dependencies ship and cached under
``data_dir/templates``:

- ``astronaut-zoom`` / ``astronaut-pan``: NASA's portrait of astronaut Eileen Collins
  (``skimage.data.astronaut``, public domain), slowly zoomed / panned;
- ``hopper-sway``: Grace Hopper's official US Navy portrait (matplotlib's ``grace_hopper.jpg``,
  public domain), gently rotating.

``url(name)`` copies a template into storage once (``templates/<name>.gif``) and returns a signed
link to it, for previews.
"""

from __future__ import annotations

import builtins
import io
import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from core.errors import ConfigError, InputError
from core.media import scan_gif

if TYPE_CHECKING:
    from core.config import Settings
    from core.storage import Storage

NAME_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
FRAME_MS = 120  # GIF counts in centiseconds
FRAMES = 20  # 2.4 s
SIZE = (256, 256)


@dataclass(frozen=True)
class Template:
    name: str  # stable id: "astronaut-zoom"
    title: str  # shown to users: "Astronaut zoom"
    width: int
    height: int
    frames: int


def _title(name: str) -> str:
    return name.replace("-", " ").capitalize()


class TemplateGallery:
    """The templates on offer. Cheap to build; files are read (or generated) on first use."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self._settings = settings
        self._storage = storage

    @property
    def folder(self) -> Path:
        return self._settings.templates_dir or self._settings.data_dir / "templates"

    def list(self) -> list[Template]:
        """Every template, sorted by name."""
        return [self._describe(path) for path in self._paths()]

    def get(self, name: str) -> Template:
        """The template called ``name``; ``InputError`` when there is none."""
        return self._describe(self._path(name))

    def data(self, name: str) -> bytes:
        """The GIF bytes of template ``name``."""
        return self._path(name).read_bytes()

    def url(self, name: str, expires_s: int | None = None) -> str:
        """A signed link to template ``name`` (stored under ``templates/<name>.gif`` once)."""
        key = f"templates/{self.get(name).name}.gif"
        if not self._storage.exists(key):
            self._storage.put_bytes(key, self.data(name), "image/gif")
        return self._storage.url(key, expires_s)

    def _paths(self) -> builtins.list[Path]:
        if self._settings.templates_dir is None:
            _ensure_builtins(self.folder)
        elif not self.folder.is_dir():
            raise ConfigError(
                f"Invalid setting SWAPZY_TEMPLATES_DIR: {self.folder} is not a folder."
            )
        return sorted(p for p in self.folder.glob("*.gif") if NAME_RE.fullmatch(p.stem))

    def _path(self, name: str) -> Path:
        for path in self._paths():
            if path.stem == name:
                return path
        names = ", ".join(p.stem for p in self._paths()) or "none"
        shown = name if len(name) <= 40 else name[:37] + "..."
        raise InputError(f"There is no template called “{shown}”; the templates are: {names}.")

    def _describe(self, path: Path) -> Template:
        limits = self._settings.limits
        with path.open("rb") as f:
            head = f.read(limits.max_file_bytes + 1)
        try:
            if len(head) > limits.max_file_bytes:
                raise ConfigError("it is larger than the upload limit")
            width, height, frames = scan_gif(head, limits.max_frames)
        except (InputError, ConfigError) as exc:
            raise ConfigError(f"The template {path} cannot be used: {exc.message}") from None
        return Template(path.stem, _title(path.stem), width, height, frames)


# --- Built-in templates -------------------------------------------------------------------------


def _astronaut() -> Image.Image:
    import skimage.data

    return Image.fromarray(skimage.data.astronaut())  # type: ignore[no-untyped-call]


def _hopper() -> Image.Image:
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as im:
        return im.convert("RGB")


def _crop(image: Image.Image, cx: float, cy: float, half: float) -> Image.Image:
    half = min(half, image.width / 2, image.height / 2)
    cx = min(max(cx, half), image.width - half)  # keep the square inside the picture
    cy = min(max(cy, half), image.height - half)
    box = (cx - half, cy - half, cx + half, cy + half)
    return image.resize(SIZE, Image.Resampling.BICUBIC, box=box)


def _zoom(image: Image.Image, t: float) -> Image.Image:
    # Eileen Collins' face is around (220, 150) in the 512x512 portrait.
    ease = (1 - math.cos(2 * math.pi * t)) / 2  # in and back out: it loops
    return _crop(image, 220, 170 - 10 * ease, 200 - 80 * ease)


def _pan(image: Image.Image, t: float) -> Image.Image:
    return _crop(image, 190 + 35 * math.sin(2 * math.pi * t), 170, 140)


def _sway(image: Image.Image, t: float) -> Image.Image:
    # Grace Hopper's face is around (255, 200) in the 512x600 portrait.
    angle = 6.0 * math.sin(2 * math.pi * t)
    turned = image.rotate(angle, Image.Resampling.BICUBIC, center=(255, 200))
    return _crop(turned, 255, 230, 190)


_BUILTINS: dict[
    str, tuple[Callable[[], Image.Image], Callable[[Image.Image, float], Image.Image]]
] = {
    "astronaut-zoom": (_astronaut, _zoom),
    "astronaut-pan": (_astronaut, _pan),
    "hopper-sway": (_hopper, _sway),
}


def builtin_gif(name: str) -> bytes:
    """Render built-in template ``name`` as a looping GIF."""
    load, move = _BUILTINS[name]
    base = load()
    frames = [
        move(base, i / FRAMES).quantize(256, Image.Quantize.FASTOCTREE) for i in range(FRAMES)
    ]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=FRAME_MS, loop=0)
    return out.getvalue()


def _ensure_builtins(folder: Path) -> None:
    for name in _BUILTINS:
        path = folder / f"{name}.gif"
        if path.is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp~")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(builtin_gif(name))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

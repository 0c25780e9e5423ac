"""Settings, built once per entry point and passed down (never a module-level singleton)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MediaLimits(BaseModel):
    """What an upload may be. Checked before anything is decoded in full."""

    max_file_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_frames: int = Field(default=300, gt=0)
    max_frame_pixels: int = Field(default=40_000_000, gt=0)
    # Frames x pixels per frame: what decoding holds in memory (~4 bytes a pixel). A few KB of
    # GIF can declare 300 frames of 36 Mpx each; this refuses it before anything is decoded.
    max_total_pixels: int = Field(default=400_000_000, gt=0)
    max_duration_s: float = Field(default=60.0, gt=0)


class Settings(BaseSettings):
    """Every knob of Swapzy. Environment variables use the ``SWAPZY_`` prefix; ``.env`` is read.

    Nested values use ``__``: ``SWAPZY_LIMITS__MAX_FRAMES=120``.
    """

    model_config = SettingsConfigDict(
        env_prefix="SWAPZY_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    env: Literal["dev", "test", "production"] = "dev"
    data_dir: Path = Path("var")
    engine: Literal["classic"] = "classic"
    limits: MediaLimits = MediaLimits()
    max_faces_per_frame: int = Field(default=4, ge=1, le=16)


def load_settings(**overrides: object) -> Settings:
    """Build the settings for one entry point (environment, ``.env``, then explicit overrides)."""
    return Settings(**overrides)  # type: ignore[arg-type]

"""The bench times a clip read from a file twice: at 320 px (the engine's goal) and at the
file's own size (what a user sends)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.config import MediaLimits
from gpu_worker.bench import BenchClip, bench_clip, resized, summary
from gpu_worker.engines.classic.engine import ClassicEngine
from gpu_worker.media import Clip, load_clip, save_clip
from gpu_worker.media.encoder_process import EncoderProcess
from tests.media_files import U8


def test_a_clip_from_a_file_is_also_timed_at_its_own_size(
    tmp_path: Path, sample_clip: Clip, sample_face: U8
) -> None:
    frames = [np.asarray(cv2.resize(f, (480, 360)), np.uint8) for f in sample_clip.frames[:8]]
    original = tmp_path / "big.gif"
    save_clip(Clip(frames=frames, durations_ms=[80.0] * 8, loop=0), original)
    item = BenchClip("big.gif", resized(load_clip(original, MediaLimits())), sample_face, original)
    engine, encoder = ClassicEngine(), EncoderProcess()
    try:
        row = bench_clip(engine, item, 1, encoder)
    finally:
        encoder.close()
        engine.close()
    assert (row.frames, row.size, row.full_size) == (8, (320, 240), (480, 360))
    assert row.full_floor_s is not None and row.full_whole_s is not None
    assert row.full_whole_s > row.full_floor_s > 0
    assert row.full_whole_over_floor == pytest.approx(row.full_whole_s / row.full_floor_s)
    totals = summary([row])
    assert totals["full_whole_over_floor_max"] == pytest.approx(row.full_whole_over_floor)

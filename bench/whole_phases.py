"""Where a 320-px whole clip's time goes beside its floor, and what the encoder's own
*process* changes against a thread, side by side in one process (this machine is shared and
noisy: compare the columns of one run, not runs).

    .venv/bin/python -m bench.whole_phases --media ../shared/media --repeats 7

Per clip (``swapzy bench``'s clips at 320 px, saved as GIF and read back, as the bench does),
alternating one timed run of each, medians:

- floor: decode + encode (``swapzy bench``'s floor);
- whole: ``swapzy swap``'s way (decoded in-process, the encoder in its own process, which
  the command starts first thing);
- whole, encoder thread: the same with the encoder in a thread of this process instead;
- render: the engine's drawing phase alone (landmarks done), no encoder;
- encode: encoding the swapped clip alone;
- render + encode: the drawing phase with the encoder thread fed as frames come, to its end.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from core.config import MediaLimits
from gpu_worker.bench import BenchClip, bench_clips, floor, swap_encoder, timed, whole
from gpu_worker.engines.classic.engine import ClassicEngine
from gpu_worker.media import load_clip, save_clip
from gpu_worker.media.encode import encode_clip
from gpu_worker.media.encoder_process import EncoderProcess
from gpu_worker.media.feed import FrameFeed
from gpu_worker.media.sandbox import decode_pair

COLUMNS = ("floor", "whole", "whole_thread", "render", "encode", "render_encode")


class _Phases:
    """The engine with its drawing phase timed (start, end of ``_render_frames``)."""

    def __init__(self) -> None:
        self.engine = ClassicEngine()
        self.render_start = self.render_end = 0.0
        draw = self.engine._render_frames

        def timed(*args: object) -> None:
            self.render_start = time.perf_counter()
            try:
                draw(*args)  # type: ignore[arg-type]
            finally:
                self.render_end = time.perf_counter()

        self.engine._render_frames = timed  # type: ignore[method-assign, assignment]


def _clip_row(
    phases: _Phases, encoder: EncoderProcess, item: BenchClip, repeats: int
) -> dict[str, float]:
    engine, limits = phases.engine, MediaLimits()
    with tempfile.TemporaryDirectory(prefix="swapzy-phases-") as tmp:
        src, face_path, out = Path(tmp) / "in.gif", Path(tmp) / "face.png", Path(tmp) / "o.gif"
        save_clip(item.clip, src)
        Image.fromarray(item.face, "RGB").save(face_path)
        clip = load_clip(src, limits)
        photo = decode_pair(src, face_path, limits)[0]
        swapped = dataclasses.replace(
            clip, frames=engine.swap(photo, clip.frames, durations_ms=clip.durations_ms).frames
        )

        def render() -> float:
            engine.swap(photo, clip.frames, durations_ms=clip.durations_ms)
            return phases.render_end - phases.render_start

        def render_encode() -> float:
            feed = FrameFeed(len(clip))
            with ThreadPoolExecutor(1) as pool:
                encoding = pool.submit(encode_clip, dataclasses.replace(clip, frames=feed), ".gif")
                engine.swap(photo, clip.frames, durations_ms=clip.durations_ms, on_frame=feed.put)
                encoding.result()
            return time.perf_counter() - phases.render_start

        runs: dict[str, Callable[[], float]] = {
            "floor": lambda: timed(lambda: floor(src, out)),
            "whole": lambda: timed(lambda: whole(engine, src, face_path, out, encoder)),
            "whole_thread": lambda: timed(lambda: whole(engine, src, face_path, out)),
            "render": render,
            "encode": lambda: timed(lambda: encode_clip(swapped, ".gif")),
            "render_encode": render_encode,
        }
        times: dict[str, list[float]] = {k: [] for k in COLUMNS}
        for r in range(repeats):
            for name in COLUMNS if r % 2 else reversed(COLUMNS):
                times[name].append(runs[name]())
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    phases, encoder = _Phases(), swap_encoder()
    try:
        head = " ".join(f"{c:>13s}" for c in COLUMNS)
        print(f"{'clip':30s} {head}  whole/floor  thread/floor")
        for item in bench_clips(args.media):
            row = _clip_row(phases, encoder, item, args.repeats)
            cells = " ".join(f"{row[c] * 1000:10.1f} ms" for c in COLUMNS)
            floor = row["floor"]
            ratios = f"{row['whole'] / floor:11.2f}  {row['whole_thread'] / floor:12.2f}"
            print(f"{item.name[:30]:30s} {cells}  {ratios}", flush=True)
    finally:
        encoder.close()
        phases.engine.close()


if __name__ == "__main__":
    main()

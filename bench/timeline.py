"""When each phase of a 320-px whole clip starts and how long it takes (``swapzy swap``'s way,
as ``swapzy bench`` times it), medians over the runs, beside the clip's floor.

    .venv/bin/python -m bench.timeline --media ../shared/media --runs 9 [--clip pyfeat]

Phases, in ms from the start of the whole run: ``swap`` (the engine, after the decode),
``landmarks`` (the clip's landmark pass), ``count`` and ``photo`` (the side thread: how many
faces to track, the source face), ``render`` (drawing, with the encoder fed meanwhile). The
engine's methods are wrapped with timers; nothing else changes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image

from gpu_worker.bench import bench_clips, floor, swap_encoder, timed, whole
from gpu_worker.engines.classic.engine import ClassicEngine
from gpu_worker.media import save_clip

PHASES = {
    "swap": "swap",
    "landmarks": "_detect_clip",
    "count": "_count_faces",
    "photo": "prepare_source",
    "render": "_render_frames",
}


def _timed_phases(engine: ClassicEngine) -> dict[str, tuple[float, float]]:
    """Wrap the engine's phase methods; returns where each run's (start, end) land."""
    marks: dict[str, tuple[float, float]] = {}
    for phase, name in PHASES.items():
        method: Callable[..., Any] = getattr(engine, name)

        def wrapped(*args: Any, _m: Callable[..., Any] = method, _p: str = phase, **kw: Any) -> Any:
            start = time.perf_counter()
            try:
                return _m(*args, **kw)
            finally:
                marks.setdefault(_p, (start, time.perf_counter()))

        setattr(engine, name, wrapped)
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--clip", default="", help="only clips whose name contains this")
    args = parser.parse_args()
    encoder = swap_encoder()
    engine = ClassicEngine()
    marks = _timed_phases(engine)
    try:
        for item in bench_clips(args.media):
            if args.clip not in item.name:
                continue
            with tempfile.TemporaryDirectory(prefix="swapzy-timeline-") as tmp:
                src, face, out = Path(tmp) / "in.gif", Path(tmp) / "face.png", Path(tmp) / "o.gif"
                save_clip(item.clip, src)
                Image.fromarray(item.face, "RGB").save(face)
                whole(engine, src, face, out, encoder)
                rows: list[dict[str, float]] = []
                for _ in range(args.runs):
                    marks.clear()
                    t0 = time.perf_counter()
                    whole(engine, src, face, out, encoder)
                    row = {"whole": time.perf_counter() - t0}
                    for phase, (start, end) in marks.items():
                        row[f"{phase} at"] = start - t0
                        row[phase] = end - start
                    rows.append(row)
                floor_s = statistics.median(timed(partial(floor, src, out)) for _ in range(7))
            cells = "  ".join(
                f"{key} {statistics.median(r[key] for r in rows) * 1000:.1f}"
                for key in rows[0]
                if all(key in r for r in rows)
            )
            print(f"{item.name}: floor {floor_s * 1000:.1f}  {cells}  (ms)", flush=True)
    finally:
        engine.close()
        encoder.close()


if __name__ == "__main__":
    main()

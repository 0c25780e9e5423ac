"""The media intake under fire: thousands of broken GIF/PNG/JPEG/MP4 files, a set of known
bombs, and what the decode sandbox costs per clip. Figures go to bench/README.md.

    make bench-fuzz [BENCH_ARGS='--examples 3000 --json fuzz.json']

Every broken file goes through what production runs on an upload (``tests/media_fuzz.intake``:
the submit-time probe and the worker's decode, each in a limited child process). A file either
decodes or is refused with one clear sentence; anything else (a crash of this process, a message
that is not a sentence, a file taking longer than the sandbox allows) is counted as a failure
and makes the run exit 1.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' media helpers

from hypothesis import HealthCheck, Phase, given, seed, settings

from core.config import DecodeSandbox, MediaLimits
from core.errors import InputError
from core.sandbox import probe_inputs, run_limited
from gpu_worker.media.decode import load_clip, load_face_photo
from gpu_worker.media.sandbox import PRELOAD, load_inputs
from tests.media_files import assert_user_message, crafted_gif, png_declaring
from tests.media_fuzz import BOX, broken, good_face, intake

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media"


def fuzz(folder: Path, examples: int, rng_seed: int) -> dict[str, object]:
    times: list[float] = []
    outcomes: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    failures: list[str] = []

    @seed(rng_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=broken())
    def one(case: tuple[str, bytes]) -> None:
        kind, data = case
        as_face = kind in ("png", "jpeg") and len(times) % 2 == 1
        out = intake(folder, kind, data, as_face=as_face)
        times.append(out.seconds)
        kinds[kind + (" as face" if as_face else "")] += 1
        outcomes["decoded" if out.error is None else out.error.code] += 1
        if out.seconds > 2 * BOX.timeout_s:
            failures.append(f"{kind}: {out.seconds:.1f} s")
        if out.error is not None:
            try:
                assert_user_message(out.error.message)
            except AssertionError as exc:
                failures.append(f"{kind}: {exc}")

    started = time.monotonic()
    one()
    ordered = sorted(times)
    return {
        "examples": len(times),
        "wall_s": round(time.monotonic() - started, 1),
        "by_kind": dict(kinds),
        "outcomes": dict(outcomes),
        "median_s": round(statistics.median(ordered), 3),
        "p99_s": round(ordered[int(0.99 * (len(ordered) - 1))], 3),
        "max_s": round(ordered[-1], 3),
        "failures": failures,
    }


def bombs(folder: Path) -> list[dict[str, object]]:
    face = folder / "bomb-face.jpg"
    face.write_bytes(good_face())
    cases = {
        "GIF 8000×8000 screen (35 bytes)": crafted_gif(screen=(8000, 8000)),
        "GIF frame outgrowing a 1×1 screen": crafted_gif(
            screen=(1, 1), frame_box=(0, 0, 8000, 8000)
        ),
        "GIF 5000 frames": crafted_gif(screen=(1, 1), frames=5000),
        "GIF 65535 frames": crafted_gif(screen=(1, 1), frames=65535),
        "GIF 300 frames of 6000×6000": crafted_gif(screen=(6000, 6000), frames=300),
        "PNG declaring 100000×100000": png_declaring(100_000, 100_000),
        "PNG declaring 65535×65535": png_declaring(65535, 65535),
    }
    rows = []
    for name, data in cases.items():
        path = folder / "bomb.bin"
        path.write_bytes(data)
        started = time.monotonic()
        try:
            probe_inputs(path, face, MediaLimits(), DecodeSandbox())
            verdict = "ACCEPTED"
        except InputError as exc:
            verdict = exc.code
        rows.append(
            {"bomb": name, "bytes": len(data), "verdict": verdict,
             "seconds": round(time.monotonic() - started, 3)}
        )  # fmt: skip
    return rows


def sandbox_cost(folder: Path, repeats: int) -> list[dict[str, object]]:
    """Decode each clip in-process and in the sandbox; median of ``repeats``."""
    from gpu_worker.media.samples import write_sample_files

    target, source = write_sample_files(folder / "samples")
    clips = [target]
    if SHARED.exists():
        clips += sorted((SHARED / "animations").glob("*"))
    limits, box = MediaLimits(), DecodeSandbox()
    rows = []
    for clip in clips:
        inside, boxed = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            load_face_photo(source, limits)
            decoded = load_clip(clip, limits)
            inside.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            load_inputs(clip, source, limits, box)
            boxed.append(time.perf_counter() - t0)
        a, b = statistics.median(inside), statistics.median(boxed)
        rows.append(
            {"clip": clip.name, "frames": len(decoded.frames),
             "size": f"{decoded.frames[0].shape[1]}×{decoded.frames[0].shape[0]}",
             "in_process_s": round(a, 3), "sandboxed_s": round(b, 3),
             "extra_ms": round((b - a) * 1000, 1)}
        )  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swapzy-fuzz-") as tmp:
        folder = Path(tmp)
        # Both helpers up (the worker's decode and the submit-time probe), as in a service.
        run_limited(len, b"", box=DecodeSandbox(), what="x", preload=PRELOAD)
        run_limited(len, b"", box=DecodeSandbox(), what="x")
        cost = sandbox_cost(folder, args.repeats)
        found = bombs(folder)
        figures = fuzz(folder, args.examples, args.seed)
    result = {"fuzz": figures, "bombs": found, "sandbox_cost": cost}
    print(json.dumps(result, indent=1, ensure_ascii=False))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    bad_bombs = [b for b in found if b["verdict"] == "ACCEPTED" or float(b["seconds"]) >= 1.0]  # type: ignore[arg-type]
    return 1 if figures["failures"] or bad_bombs else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The 320-px whole/floor of an earlier revision beside this checkout's, in alternating
processes on the same machine (ratios from different runs or machines do not compare).

    .venv/bin/python -m bench.paired --before 7e2c58a --media ../shared/media --runs 3 \
        [--repeats 5] [--clip pyfeat_man --clip multi]

Each run is one process per tree (``git archive REV`` into a temporary folder for the earlier
one, this working tree for the other), taking turns; each process times ``swapzy bench``'s
floor and whole (``gpu_worker.bench.floor`` / ``whole``) ``--repeats`` times per clip,
alternating, and prints the medians. The table shows the medians over the runs. The earlier
revision must have ``gpu_worker.bench.floor``, ``whole``, ``timed`` and ``bench_clips``
(since 7e2c58a).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run inside each tree (cwd and PYTHONPATH: that tree's packages, not the installed checkout's).
TIMING = """
import json, statistics, sys, tempfile
from pathlib import Path
from PIL import Image
import gpu_worker.bench as gb
from gpu_worker.bench import bench_clips, floor, timed, whole
from gpu_worker.engines.classic.engine import ClassicEngine
from gpu_worker.media import save_clip

media, repeats, wanted = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
encoder = getattr(gb, "swap_encoder", lambda: None)()  # swapzy swap's encoder in that tree
engine, out = ClassicEngine(), {}
for item in bench_clips(media):
    if wanted and not any(w in item.name for w in wanted):
        continue
    with tempfile.TemporaryDirectory() as tmp:
        src, face, o = Path(tmp) / "in.gif", Path(tmp) / "face.png", Path(tmp) / "out.gif"
        save_clip(item.clip, src)
        Image.fromarray(item.face, "RGB").save(face)
        whole(engine, src, face, o, encoder)
        floors, wholes = [], []
        for _ in range(repeats):
            floors.append(timed(lambda: floor(src, o)))
            wholes.append(timed(lambda: whole(engine, src, face, o, encoder)))
        out[item.name] = [statistics.median(floors), statistics.median(wholes)]
if encoder is not None:
    encoder.close()
print("RESULT " + json.dumps(out))
"""


def _time_tree(tree: Path, media: Path, repeats: int, clips: list[str]) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", TIMING, str(media.resolve()), str(repeats), *clips],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, list[float]] = json.loads(line.removeprefix("RESULT "))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the earlier revision (git)")
    parser.add_argument("--media", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--clip", action="append", default=[], help="only clips whose name contains this"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swapzy-paired-") as tmp:
        before = Path(tmp)
        archive = subprocess.run(
            ["git", "archive", args.before], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        runs: dict[str, list[dict[str, list[float]]]] = {"before": [], "after": []}
        for _ in range(args.runs):
            runs["before"].append(_time_tree(before, args.media, args.repeats, args.clip))
            runs["after"].append(_time_tree(ROOT, args.media, args.repeats, args.clip))
    print(f"{'clip (320 px)':32s} {'floor':>8s} {'whole before → after':>24s}  whole/floor")
    ratios: dict[str, list[float]] = {"before": [], "after": []}
    for clip in runs["after"][0]:
        med = {
            side: [statistics.median(r[clip][k] for r in runs[side]) for k in (0, 1)]
            for side in runs
        }
        ratio = {
            side: statistics.median(r[clip][1] / r[clip][0] for r in runs[side]) for side in runs
        }
        for side, values in ratios.items():
            values.append(ratio[side])
        print(
            f"{clip[:32]:32s} {med['after'][0] * 1000:6.0f} ms "
            f"{med['before'][1] * 1000:9.0f} → {med['after'][1] * 1000:5.0f} ms"
            f"   {ratio['before']:.2f} → {ratio['after']:.2f}"
        )
    mean = {side: statistics.mean(v) for side, v in ratios.items()}
    print(f"{'mean':32s} {'':33s} {mean['before']:.2f} → {mean['after']:.2f}")


if __name__ == "__main__":
    main()

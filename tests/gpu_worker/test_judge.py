"""Identity, judged independently: ``../shared/eval/eval_swap.py`` (dlib's detector, landmarks
and face descriptor, none of which the product uses) runs the real ``swapzy swap`` CLI on one
talking-head GIF and checks that the output looks more like the photo's person than the input
did, keeps the face detectable, and keeps size, frame count, fps and duration.

Skipped on a clone without ``../shared`` (media or harness). Measured here: id_gain 0.149
(cosine 0.793 -> 0.942), same_rate 0.0 -> 1.0, face_kept 1.0.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_MEDIA

REPO = Path(__file__).resolve().parents[2]
SHARED_EVAL = SHARED_MEDIA.parent / "eval"
EVAL_VENV = REPO / ".eval-venv"
MIN_ID_GAIN = 0.05

PAIR = {
    "id": "pyfeat_man_talking__cf_man_blond_beard",
    "target": "animations/pyfeat_man_talking.gif",
    "source": "photos/cf_man_blond_beard.jpg",
    "expect": "swap",
}


@pytest.fixture(scope="session")
def judge_python(shared_media: Path) -> Path:
    """The judge's own interpreter in ``<repo>/.eval-venv``, created once if it is missing."""
    if not (SHARED_EVAL / "eval_swap.py").is_file():
        pytest.skip(f"evaluation harness not found at {SHARED_EVAL}")
    python = EVAL_VENV / "bin" / "python"
    if not python.exists():
        steps = [
            ["python3", "-m", "venv", str(EVAL_VENV)],
            [str(python), "-m", "pip", "install", "-r", str(SHARED_EVAL / "requirements.txt")],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=1200, check=False)
            if done.returncode != 0:
                pytest.fail(f"could not set up the judge ({shlex.join(step)}):\n{done.stderr}")
    return python


@pytest.mark.shared_media
@pytest.mark.timeout(900)
def test_judge_sees_the_source_identity(
    judge_python: Path, shared_media: Path, tmp_path: Path
) -> None:
    for rel in (PAIR["target"], PAIR["source"]):
        if not (shared_media / rel).is_file():
            pytest.skip(f"{rel} not in {shared_media}")
    swapzy = Path(sys.executable).parent / "swapzy"
    assert swapzy.is_file(), f"the swapzy entry point is not installed next to {sys.executable}"
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps({"pairs": [PAIR]}))
    summary_path = tmp_path / "summary.json"
    command = [
        str(judge_python),
        str(SHARED_EVAL / "eval_swap.py"),
        "--cmd",
        f"{shlex.quote(str(swapzy))} swap -q",
        "--media",
        str(shared_media),
        "--pairs",
        str(pairs),
        "--json",
        str(summary_path),
        "--timeout",
        "300",
        "--min-id-gain",
        str(MIN_ID_GAIN),
        "--require-structure",
    ]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    log = f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    assert done.returncode == 0, log
    summary = json.loads(summary_path.read_text())
    assert summary["swap_ok"] == 1, log
    assert summary["id_gain"] > MIN_ID_GAIN, summary
    assert summary["same_rate_after"] > summary["same_rate_before"], summary
    assert summary["face_kept"] >= 0.95, summary

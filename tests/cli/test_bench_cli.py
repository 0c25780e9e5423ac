"""``swapzy bench``: measures the built-in sample (no media folder given), prints the table and
writes its figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_swap_cli import swapzy


def test_bench_measures_the_sample_and_writes_its_figures(tmp_path: Path) -> None:
    run = swapzy("bench", "--repeats", "1", "--json", tmp_path / "bench.json", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert "built-in sample" in run.stdout
    figures = json.loads((tmp_path / "bench.json").read_text())
    [clip] = figures["clips"]
    assert (clip["clip"], clip["frames"], clip["size"]) == ("built-in sample", 24, [320, 240])
    assert clip["engine_fps"] > 0
    # the swap adds its work to the same decode and encode
    assert clip["whole_s"] > clip["floor_s"] > 0
    assert clip["whole_worker_s"] > clip["floor_s"]
    assert clip["whole_over_floor"] == pytest.approx(clip["whole_s"] / clip["floor_s"])
    assert clip["full_size"] is None  # made at 320 px: no size of its own to time
    assert figures["summary"]["whole_over_floor_max"] == pytest.approx(clip["whole_over_floor"])

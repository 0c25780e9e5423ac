"""Gaps in a track are filled in exactly as ``np.interp`` fills each coordinate on its own."""

from __future__ import annotations

import numpy as np

from gpu_worker.engines.classic.tracking import interpolate


def test_interpolation_matches_np_interp_point_by_point() -> None:
    rng = np.random.default_rng(3)
    known = np.array([0, 2, 3, 7, 8, 12])  # gaps of 1, 0, 3, 0, 3 frames
    data = rng.normal(100, 40, (len(known), 468, 3)).astype(np.float32)
    wanted = np.arange(known[0], known[-1] + 1)
    got = interpolate(data, known, wanted)
    flat = data.reshape(len(known), -1)
    expected = np.stack([np.interp(wanted, known, flat[:, j]) for j in range(flat.shape[1])], 1)
    assert got.dtype == np.float32 and got.shape == (len(wanted), 468, 3)
    np.testing.assert_allclose(got.reshape(len(wanted), -1), expected, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(got[known - known[0]], data)  # seen frames are kept as seen

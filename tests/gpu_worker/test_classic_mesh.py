"""The face mesh's topology: the three ring centres appended to the landmarks."""

from __future__ import annotations

import numpy as np

from gpu_worker.engines.classic.mesh import MESH_POINTS, build_topology


def test_the_ring_centres_are_each_rings_mean_after_the_points() -> None:
    topo = build_topology()
    rng = np.random.default_rng(3)
    for scale in (1.0, 320.0, 1920.0):
        points = (rng.random((MESH_POINTS, 3)) * scale - scale / 4).astype(np.float32)
        for given in (points, np.ascontiguousarray(points[:, :2])):
            extended = topo.extend(given)
            assert extended.shape == (MESH_POINTS + 3, given.shape[1])
            assert np.array_equal(extended[:MESH_POINTS], given)
            for k, ring in enumerate([topo.left_eye, topo.right_eye, topo.mouth_inner]):
                assert np.array_equal(extended[MESH_POINTS + k], given[ring].mean(axis=0))

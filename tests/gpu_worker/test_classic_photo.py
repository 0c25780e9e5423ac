"""The face photo's face (photo.py), on the real models: the largest face is kept, cropped
with a margin, its landmarks in the crop; small faces in a group photo are found too; a photo
without a face is refused with the user's message."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from core.errors import NoFaceInSource
from gpu_worker.engines.classic.mesh import build_topology
from gpu_worker.engines.classic.photo import PhotoFaces
from tests.media_files import U8, gradient


@pytest.fixture(scope="module")
def photos() -> Iterator[PhotoFaces]:
    found = PhotoFaces(build_topology(), detect_side=1024, face_px=320)
    try:
        yield found
    finally:
        found.close()


def test_the_largest_face_is_kept_cropped_around_it(photos: PhotoFaces, sample_face: U8) -> None:
    h, w = sample_face.shape[:2]
    small = cv2.resize(sample_face, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    column = np.full((h, w // 2, 3), 128, dtype=np.uint8)
    column[: small.shape[0]] = small
    source = photos.prepare(np.hstack([sample_face, column]))
    alone = photos.prepare(sample_face)
    assert source.faces_found == 2 and alone.faces_found == 1
    # the big face's crop, as when it is alone in the photo (give or take the photo's scale
    # for the search), not the small face's (half as large)
    assert np.allclose(source.image.shape[:2], alone.image.shape[:2], rtol=0.05)
    spread = np.ptp(alone.points[:468, :2], axis=0)
    assert np.allclose(np.ptp(source.points[:468, :2], axis=0), spread, rtol=0.05)


def test_a_photo_without_a_face_is_refused(photos: PhotoFaces) -> None:
    with pytest.raises(NoFaceInSource, match="No face found in the photo"):
        photos.prepare(gradient(400, 300))


def test_a_group_photo_s_small_faces_are_found_too(photos: PhotoFaces, sample_face: U8) -> None:
    """Faces too small for the short-range detector (160 px in a 1000 px photo): found by the
    full-range one, then landmarked on an enlarged crop around each."""
    h, w = sample_face.shape[:2]
    small = cv2.resize(sample_face, (160, round(160 * h / w)), interpolation=cv2.INTER_AREA)
    photo = np.full((1000, 1000, 3), 110, dtype=np.uint8)
    for y, x in ((100, 150), (600, 700)):
        photo[y : y + small.shape[0], x : x + small.shape[1]] = small
    source = photos.prepare(photo)
    assert source.faces_found == 2
    # the face kept is one of the two, cropped around it (with a margin), not the whole photo
    ch, cw = source.image.shape[:2]
    assert ch < 2 * small.shape[0] and cw < 2 * small.shape[1]
    points = source.points[:468, :2]
    assert points.min() > 0 and points[:, 0].max() < cw and points[:, 1].max() < ch
    assert np.ptp(points[:, 0]) > 0.3 * small.shape[1]  # a face's worth of landmarks

"""Which tracked faces a clip swaps (``--faces``), and their summaries: shared by the engines
that track faces over ``classic.tracking``."""

from __future__ import annotations

from core.errors import FaceNotFound
from gpu_worker.engines.base import FaceSelection, Track
from gpu_worker.engines.classic.tracking import FaceTrack


def select_tracks(tracks: list[FaceTrack], faces: FaceSelection) -> list[FaceTrack]:
    if faces == "all":
        return list(tracks)
    if faces == "largest":
        return [max(tracks, key=lambda tr: tr.total_area())]
    if not 1 <= faces <= len(tracks):
        people = "1 face" if len(tracks) == 1 else f"{len(tracks)} faces"
        raise FaceNotFound(f"The clip has {people}; there is no face number {faces}.")
    return [tracks[faces - 1]]


def selection_notes(
    photo_faces: int, tracks: list[FaceTrack], chosen: list[FaceTrack], faces: FaceSelection
) -> list[str]:
    notes = []
    if photo_faces > 1:
        notes.append(f"The photo has {photo_faces} faces; using the largest one.")
    if len(tracks) > 1 and faces == "largest":
        notes.append(
            f"The clip has {len(tracks)} faces; swapped face {chosen[0].number} (the largest). "
            "Use --faces all or --faces N to choose."
        )
    return notes


def summary(track: FaceTrack, selected: bool) -> Track:
    return Track(
        number=track.number,
        first_frame=track.first,
        last_frame=track.last,
        frames_seen=len(track.raw),
        mean_area=track.mean_area(),
        selected=selected,
    )

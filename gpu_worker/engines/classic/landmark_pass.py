"""The clip's landmark pass: FaceMesh's tracker (mesh_tracker.py) over the clip, in a few
spans at once.

The tracker follows each face from the frame before (no detector run per frame), so one
tracker must see its frames in order; that made the pass one long chain on one core, about
half of the engine's time. The clip is cut into contiguous spans, each followed by a tracker
of its own on its own thread (the model lets go of the GIL). A span's tracker starts
``LEAD_IN`` frames early and drops those: a tracker started fresh sits 0.6-1.3 px (mean over
the face, 320-px frames) off where a running one would be on its first frame, and settles
within a few frames (after 4: 0.02-0.27 px at worst, after 6: 0.01-0.10 px, on the sample
and three real clips), so the cut does not show. A clip with several faces a picture needs no
cut: it runs as one span whose tracker looks at a picture's faces at once, on a model each.
"""

from __future__ import annotations

import itertools
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.base import Frame
from gpu_worker.engines.classic.holds import Pictures
from gpu_worker.engines.classic.mesh_tracker import MeshTracker, shared_out
from gpu_worker.engines.classic.tracking import SAME_FACE_IOU, box, iou

F32 = NDArray[np.float32]
LEAD_IN = 6  # frames a span's tracker runs before its first kept frame
MIN_SPAN = 12  # kept frames x faces a span needs to be worth its own tracker


class Indexed(Protocol):
    """Frames by number, IndexError past the last (a list, or ``Looked`` while it decodes)."""

    def __getitem__(self, i: int, /) -> Frame: ...


def looked_at(pictures: int, step: int) -> list[int]:
    """The pictures the pass looks at: every ``step``-th, and the last."""
    return sorted({*range(0, pictures, step), pictures - 1} - {-1})


class Looked:
    """The pictures the pass looks at (``looked_at``), read from ``pictures`` as the clip's
    frames arrive."""

    def __init__(self, pictures: Pictures, frames: int, step: int) -> None:
        self._pictures = pictures
        self._step = step
        self._most = len(looked_at(frames, step))

    @property
    def expected(self) -> int:
        """How many there are, as far as is known now: the count itself once every frame
        has been read, else as many as there would be if every frame were a new picture (a
        clip that holds pictures has fewer)."""
        if self._pictures.complete():
            return len(looked_at(self._pictures.count(), self._step))
        return self._most

    def __getitem__(self, k: int) -> Frame:
        try:
            return self._pictures[k * self._step]
        except IndexError:  # past the regular ones: the last picture, if they missed it
            last = self._pictures.count() - 1
            if last % self._step and k == last // self._step + 1:
                return self._pictures[last]
            raise

    def indices(self) -> list[int]:
        """The pictures looked at (waits for the whole clip)."""
        return looked_at(self._pictures.count(), self._step)


class Span(NamedTuple):
    lead: int  # the graph starts here ...
    start: int  # ... and keeps its results from here
    end: int  # exclusive


def spans(frames: int, parts: int, faces: int = 1) -> list[Span]:
    """At most ``parts`` contiguous spans covering ``frames`` frames, each with as many frames
    to run (lead-in included) give or take one; fewer spans where each would keep fewer than
    ``MIN_SPAN`` frames x faces, or fewer frames than its lead-in (give or take one)."""
    parts = max(1, min(parts, frames * max(1, faces) // MIN_SPAN))
    while parts > 1 and frames < (parts + 1) * LEAD_IN:
        parts -= 1
    work = (frames + (parts - 1) * LEAD_IN) / parts
    cuts = [0] + [round(k * work - (k - 1) * LEAD_IN) for k in range(1, parts)] + [frames]
    return [Span(max(0, a - LEAD_IN), a, b) for a, b in itertools.pairwise(cuts)]


class LandmarkPass:
    """Trackers kept across clips, one per span slot, built on first use; ``track`` runs a
    clip through them."""

    def __init__(self, parallel: int) -> None:
        self.parallel = max(1, parallel)
        self._trackers: dict[int, MeshTracker] = {}

    def warm(self) -> None:
        """Build the first slot's tracker now (start-up), so a clip's first span waits for none."""
        self._tracker(0)

    def follow(self, start: list[F32], frames: Sequence[Frame], faces: int) -> list[list[F32]]:
        """Landmarks in ``frames``, tracked on from ``start`` (the faces of the picture just
        before them, as this pass found them): what the pass would have found there."""
        return self._follow(0, start, frames, faces)

    def follow_each(
        self, runs: Sequence[tuple[list[F32], Sequence[Frame]]], faces: int
    ) -> list[list[list[F32]]]:
        """``follow`` for each (start, frames), in order: the runs are independent, so they
        are shared out over the slots' trackers, each on a thread of its own (the pass's
        looks between pictures came one after the other on one core, the other idle)."""

        def run(
            slot: int, share: Sequence[tuple[list[F32], Sequence[Frame]]]
        ) -> list[list[list[F32]]]:
            return [self._follow(slot, start, frames, faces) for start, frames in share]

        helpers = max(1, min(self.parallel, len(runs)) - 1)
        with ThreadPoolExecutor(helpers, thread_name_prefix="swapzy-landmarks") as pool:
            return shared_out(runs, self.parallel, run, pool)

    def _follow(
        self, slot: int, start: list[F32], frames: Sequence[Frame], faces: int
    ) -> list[list[F32]]:
        tracker = self._tracker(slot)
        tracker.forget(faces)
        tracker.resume(start)
        return [tracker.detect(frame) for frame in frames]

    def close(self) -> None:
        for tracker in self._trackers.values():
            tracker.close()
        self._trackers.clear()

    def _tracker(self, slot: int) -> MeshTracker:
        """Slot ``slot``'s tracker; the first slot's shares a picture's faces over ``parallel``
        models (a clip with several faces runs as one span on it)."""
        tracker = self._trackers.get(slot)
        if tracker is None:
            models = self.parallel if slot == 0 else 1
            tracker = self._trackers[slot] = MeshTracker(models=models)
        return tracker

    def track(
        self,
        frames: Indexed,
        faces: int,
        give_up: Callable[[], bool],
        on_frame: Callable[[int], None],
        expected: int,
    ) -> list[list[F32]] | None:
        """Landmarks of up to ``faces`` faces per frame, in frame order; None when
        ``give_up`` said so on the way. ``on_frame(done)`` is called on this thread after each
        frame, with the count of frames done so far in all spans. The spans are planned on
        ``expected`` frames; the last one runs on to the last frame there is (the others stop
        early where there are fewer).

        A clip with several faces a picture runs as one span on the first slot's tracker,
        which looks at a picture's faces at once: no span's lead-in to pay for (three
        people at 320 px: 60 model runs against 78 in two spans)."""
        plan = spans(expected, self.parallel if faces == 1 else 1, faces)
        ticks: queue.SimpleQueue[bool] = queue.SimpleQueue()  # True: a frame done, False: a span
        stopped = False  # this thread failed (e.g. in ``on_frame``): the spans stop too

        def run(slot: int, span: Span) -> list[list[F32]] | None:
            try:
                tracker = self._tracker(slot)
                tracker.forget(faces)
                found: list[list[F32]] = []
                end = None if slot == len(plan) - 1 else span.end
                for i in itertools.count(span.lead) if end is None else range(span.lead, end):
                    if stopped or give_up():
                        return None
                    try:
                        frame = frames[i]
                    except IndexError:
                        break
                    landmarks = tracker.detect(frame)
                    if i >= span.start:
                        found.append(landmarks)
                        ticks.put(True)
                return found
            finally:
                ticks.put(False)

        with ThreadPoolExecutor(len(plan), thread_name_prefix="swapzy-landmarks") as pool:
            futures = [pool.submit(run, slot, span) for slot, span in enumerate(plan)]
            running, done = len(plan), 0
            try:
                while running:
                    if ticks.get():
                        done += 1
                        on_frame(done)
                    else:
                        running -= 1
            except BaseException:
                stopped = True
                raise
            parts = [f.result() for f in futures]
        out: list[list[F32]] = []
        for part in parts:
            if part is None:
                return None
            out.extend(part)
        return out


class Gap(NamedTuple):
    """Pictures skipped between two looked at: ``skipped`` follow on from picture ``start``."""

    start: int
    skipped: range


def look_between(
    detections: list[list[F32]],
    looked: Sequence[int],
    look: Callable[[list[Gap]], list[list[list[F32]]]],
) -> list[int]:
    """Where the faces seen change from one looked picture to the next (one appears, leaves or
    jumps), look at the pictures skipped between them too (``look(gaps)``: for each gap, the
    faces in each skipped picture, following on from its start), so a face that comes or
    goes there is drawn from its first picture to its last. ``detections`` is updated in
    place; returns the pictures looked at."""
    gaps = [
        Gap(a, range(a + 1, b))
        for a, b in itertools.pairwise(looked)
        if b - a > 1 and not _same_faces(detections[a], detections[b])
    ]
    if not gaps:
        return []
    for gap, found in zip(gaps, look(gaps), strict=True):
        for i, faces in zip(gap.skipped, found, strict=True):
            detections[i] = faces
    return [i for gap in gaps for i in gap.skipped]


def _same_faces(a: list[F32], b: list[F32]) -> bool:
    """As many faces in both, each overlapping one of the other's as the tracker links them."""
    if len(a) != len(b):
        return False
    boxes = [box(p) for p in b]
    return all(any(iou(box(p), q) >= SAME_FACE_IOU for q in boxes) for p in a)

"""Each GIF frame's palette and index image.

Pixels whose colour is in the palette keep it exactly, so whatever the swap left untouched is
written back bit for bit: the decoder counts each input frame's own colours (``Clip.palettes``)
and they are the palette to start from. The swapped face's new colours join it where there
is room and otherwise take their nearest colour in it. A clip whose frames' palettes are all
full and fit in one (a GIF with a global palette) is written with that one palette in every
frame, which keeps the nearest colours found for one frame good for the next.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from gpu_worker.media.clip import Clip, Frame

U8 = NDArray[np.uint8]

# A frame's palette is topped up with the swapped pixels' own colours only where this many
# entries are free: a few colours more would not show, and the palette would change from
# frame to frame (a clip's one palette keeps the nearest colours found valid).
MIN_TOP_UP = 16


def shared_palette(clip: Clip) -> U8 | None:
    """One palette for every frame: the union of the input frames' own colours, where every
    frame's own palette is too full to take the swapped face's colours (fewer than
    ``MIN_TOP_UP`` free entries) and together they fit in one (a GIF with a global palette,
    as most are). Untouched pixels stay exact as with each frame's own palette, the face's
    colours take their nearest in it as they would in the frame's own, and that lookup uses
    the same palette frame after frame, so the cells looked up for one frame serve the next
    (``ColourLookup.nearest``)."""
    palettes = clip.palettes
    if not palettes or any(p is None for p in palettes):
        return None
    see_through = clip.alpha is not None and any(transparent(a) for a in clip.alpha)
    limit = 255 if see_through else 256
    own = [p for p in palettes if p is not None]
    if any(limit - len(p) >= MIN_TOP_UP for p in own):
        return None
    colours = np.unique(_pack(np.concatenate(own)))
    if len(colours) > limit:
        return None
    return np.ascontiguousarray(colours.astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3])


def own_colours(
    frame: Frame, visible: NDArray[np.bool_] | None, max_colors: int
) -> NDArray[np.uint8] | None:
    """The distinct colours (K, 3) of the frame's ``visible`` pixels (all where None) when
    there are at most ``max_colors``, else None (what ``Clip.palettes`` holds, and what the
    GIF encoder counts again for a frame that changed)."""
    shown = frame if visible is None else np.ascontiguousarray(frame[visible])[None]
    if shown.size == 0:
        return np.zeros((0, 3), dtype=np.uint8)
    found = Image.fromarray(shown, "RGB").getcolors(max_colors)
    if found is None:
        return None
    return np.array([c for _, c in found], dtype=np.uint8).reshape(-1, 3)


def transparent(alpha: U8 | None) -> bool:
    """Whether a frame's alpha has see-through pixels (it then needs a palette entry)."""
    return alpha is not None and bool((alpha < 128).any())


def _pack(rgb: U8) -> NDArray[np.uint32]:
    """Each pixel's colour as one 24-bit number (R + G << 8 + B << 16): the pixels padded to
    four bytes by OpenCV and read as 32-bit words (8x faster than shifting three planes). The
    pixels go in as one row: as a column OpenCV converts them a row at a time (0.33 against
    0.011 ms a 320-px frame)."""
    if rgb.size == 0:  # a frame with no visible pixel has no colours
        return np.zeros(0, dtype=np.uint32)
    rgba = cv2.cvtColor(np.ascontiguousarray(rgb.reshape(1, -1, 3)), cv2.COLOR_RGB2RGBA)
    words = rgba.reshape(-1).view(np.dtype("<u4"))  # little-endian whatever the machine
    return np.asarray(words & np.uint32(0xFFFFFF), dtype=np.uint32)


def _unpack(packed: NDArray[np.uint32]) -> U8:
    """(N, 3) RGB pixels of ``_pack``'s words."""
    if packed.size == 0:
        return np.zeros((0, 3), dtype=np.uint8)
    rgba = np.ascontiguousarray(packed.astype("<u4", copy=False)).view(np.uint8)
    rgb = cv2.cvtColor(rgba.reshape(1, -1, 4), cv2.COLOR_RGBA2RGB)
    return np.asarray(rgb.reshape(-1, 3), dtype=np.uint8)


class ColourLookup:
    """Colour -> palette index lookups for a clip's frames, one after the other.

    Exact colours go through one 2^24-entry table, reused per frame (set the palette's
    entries, gather, clear them again: O(pixels + colours)). Nearest colours are worked out per
    cell of 4x4x4 colour levels (Pillow's own grain): each cell takes the palette colour nearest
    its centre, and the cells found are kept while the palette stays the same, so the frames
    after the first mostly read them.
    """

    def __init__(self) -> None:
        self._table = np.zeros(1 << 24, dtype=np.uint16)
        # Nearest colour + 1 per cell for the palette of ``_cells_key``, indexed by a packed
        # colour's top bits in place ((packed >> DROP) & CELL_MASK), 0 where not looked up
        # (zeros: the pages are only mapped where cells are); ``_known`` lists the cells
        # set, to clear them when the palette changes.
        self._cells = np.zeros(CELL_MASK + 1, dtype=np.uint16)
        self._cells_key = b""
        self._known: list[NDArray[np.uint32]] = []
        self._scratch = np.zeros(CELL_MASK + 1, dtype=np.int32)

    def exact_indices(
        self, packed: NDArray[np.uint32], palette: NDArray[np.uint32]
    ) -> NDArray[np.uint16]:
        """Index + 1 of each pixel's colour in ``palette`` (packed), 0 where it is absent."""
        self._table[palette] = np.arange(1, len(palette) + 1, dtype=np.uint16)
        found: NDArray[np.uint16] = self._table[packed]
        self._table[palette] = 0
        return found

    def nearest(self, pixels: U8, palette: U8, usable: int = 256) -> U8:
        """Index of each (N, 3) pixel's nearest colour in ``palette``, below ``usable``
        (the nearest to the centre of the pixel's cell of 4x4x4 levels; of equally near
        ones, the lowest index).

        The entries after the palette's own, up to ``usable``, are black, as ``_gif_frame``
        writes them (free near colours for dark pixels); those from ``usable`` on (255, the
        transparent index of a frame with see-through pixels) are never chosen: a dark
        pixel of the swapped face must not turn into a hole.

        Only the distinct cells not yet known for this palette are looked up, all at once
        (one product of their centres with the palette): a swapped face's ~6,000 new pixels
        in ~1,200 cells of a 320-px frame, with a palette new to the frame, took 0.85 ms
        against 1.8 with Pillow's quantize (whose cache fills whole 8x8x8-cell boxes), and
        came out nearer (mean error 2.3 levels against 2.6). With one palette for the clip
        the later frames mostly read known cells: 0.3 ms against Pillow's 0.15.
        """
        assert len(palette) <= usable <= 256
        # The palette and, where there is room, one black: the first of the free entries
        # (the lowest index of equally near ones wins).
        colours = np.zeros((min(len(palette) + 1, usable), 3), dtype=np.float32)
        colours[: len(palette)] = palette
        key = colours.tobytes()
        if key != self._cells_key:
            self._cells_key = key
            if self._known:
                self._cells[np.concatenate(self._known)] = 0
                self._known.clear()
        cells = (_pack(pixels) >> DROP) & CELL_MASK
        found = self._cells[cells]
        missing = found == 0
        if missing.any():
            unknown = cells[missing]
            new = self._distinct(unknown)
            self._cells[new] = _nearest_to_centres(new, colours) + 1
            self._known.append(new)
            found[missing] = self._cells[unknown]
        return np.asarray(found - 1, dtype=np.uint8)

    def _distinct(self, cells: NDArray[np.uint32]) -> NDArray[np.uint32]:
        """The distinct values of ``cells`` (no sort: each marks its last position in a
        scratch table; a position that reads itself back is a first of its kind)."""
        at = np.arange(len(cells), dtype=np.int32)
        self._scratch[cells] = at
        distinct: NDArray[np.uint32] = cells[self._scratch[cells] == at]
        return distinct


CELL_BITS = 6  # levels a channel in the nearest-colour cells: 64, as Pillow's cache
DROP = 8 - CELL_BITS
CELL_MASK = 0x010101 * ((1 << CELL_BITS) - 1)  # a packed colour's top bits, shifted down


def _nearest_to_centres(
    cells: NDArray[np.uint32], colours: NDArray[np.float32]
) -> NDArray[np.uint16]:
    """Index of the colour nearest each cell's centre x, by |c|^2 - 2 x.c (the squared
    distance less |x|^2; one product for all): exact in float32 (half-level centres: whole
    numbers below 2^20), so of equally near colours the lowest index wins, as with exact
    distances."""
    step = 1 << DROP
    levels = cells.astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]  # R, G, B cells
    centres = levels.astype(np.float32) * step + (step - 1) / 2
    none = np.empty((0, 0), dtype=np.float32)  # no third term
    far = np.asarray(cv2.gemm(centres, colours, -2.0, none, 0.0, flags=cv2.GEMM_2_T), np.float32)
    far += (colours * colours).sum(axis=1)[None, :]
    return np.asarray(np.argmin(far, axis=1), dtype=np.uint16)


def gif_palette_indices(
    frame: U8,
    hint: U8 | None,
    max_colors: int = 256,
    lookup: ColourLookup | None = None,
    visible: NDArray[np.bool_] | None = None,
) -> tuple[U8, U8]:
    """A palette (K, 3) and the (H, W) index image for ``frame``.

    Pixels whose colour is in the palette keep it exactly, so whatever the swap left untouched
    is written back bit for bit. The palette is ``hint`` (the input frame's own colours, as
    the decoder found them) when every pixel's colour is in it, else the frame's own colours
    when it has few enough, else ``hint`` topped up with colours of the new pixels, else an
    octree quantisation of the frame. Only ``visible`` pixels count where it is given (a
    frame with see-through pixels: their index is the transparent one whatever it says here).
    """
    lookup = lookup or ColourLookup()
    packed = _pack(frame)
    if hint is None or len(hint) > max_colors:
        return _own_or_octree(frame, packed, visible, max_colors, lookup)
    found = _found(lookup, packed, hint, frame)
    missing = found == 0 if visible is None else (found == 0) & visible
    if not missing.any():  # an untouched frame: no second count of its colours
        return hint, (found - 1).astype(np.uint8)
    bx, by, bw, bh = cv2.boundingRect(missing.view(np.uint8))
    inside = missing[by : by + bh, bx : bx + bw]
    # The new pixels picked as packed words (one a pixel) and unpacked: 5x picking them from
    # the three planes.
    new = _unpack(packed.reshape(frame.shape[:2])[by : by + bh, bx : bx + bw][inside])
    # The frame's own colours are the hint's that are left and the new pixels' own: more
    # than fit when the new pixels alone have too many, which is cheap to see (they are few
    # and the count stops at the limit; a swapped face's usually have).
    if own_colours(new[None], None, max_colors) is not None:
        own = own_colours(frame, visible, max_colors)
        if own is not None:
            return own, (_found(lookup, packed, own, frame) - 1).astype(np.uint8)
    palette, nearest = _top_up(hint, new, max_colors, lookup)
    indices = (found - 1).astype(np.uint8)
    indices[by : by + bh, bx : bx + bw][inside] = nearest
    return palette, indices


def _own_or_octree(
    frame: U8,
    packed: NDArray[np.uint32],
    visible: NDArray[np.bool_] | None,
    max_colors: int,
    lookup: ColourLookup,
) -> tuple[U8, U8]:
    """A frame without a usable hint: its own colours where they fit, else an octree."""
    own = own_colours(frame, visible, max_colors)
    if own is not None:
        return own, (_found(lookup, packed, own, frame) - 1).astype(np.uint8)
    q = Image.fromarray(frame, "RGB").quantize(colors=max_colors, method=Image.Quantize.FASTOCTREE)
    pal = np.asarray(q.getpalette() or [], dtype=np.uint8).reshape(-1, 3)[:max_colors]
    return pal, np.ascontiguousarray(np.asarray(q))


def _found(
    lookup: ColourLookup, packed: NDArray[np.uint32], palette: U8, frame: U8
) -> NDArray[np.uint16]:
    """Index + 1 of each pixel's colour in ``palette``, 0 where it is absent, as (H, W)."""
    return lookup.exact_indices(packed, _pack(palette)).reshape(frame.shape[:2])


def _top_up(palette: U8, new: U8, max_colors: int, lookup: ColourLookup) -> tuple[U8, U8]:
    """``palette`` with an octree quantisation of the (N, 3) pixels ``new`` added where it
    has ``MIN_TOP_UP`` free entries or more, and each of those pixels' nearest colour in it."""
    spare = max_colors - len(palette)
    if spare >= MIN_TOP_UP:
        pixels = Image.fromarray(np.ascontiguousarray(new)[None], "RGB")
        q = pixels.quantize(colors=spare, method=Image.Quantize.FASTOCTREE)
        used = np.asarray(q.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
        used = used[: int(np.asarray(q).max()) + 1]
        palette = np.concatenate([palette, used])[:max_colors]
    return palette, lookup.nearest(new, palette, max_colors)

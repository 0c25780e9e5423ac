"""core.media: what a file really is and whether it is within the limits, decided before it is
decoded; every refusal is one plain sentence a user can act on."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from core.config import MediaLimits
from core.errors import (
    CorruptMedia,
    FileTooLarge,
    InputError,
    InputMissing,
    TooManyFrames,
    TooManyPixels,
    UnsupportedMedia,
)
from core.media import (
    MediaInfo,
    MediaKind,
    describe_bytes,
    failure_reason,
    probe_source,
    probe_target,
    sniff,
)
from gpu_worker.media.clip import Clip
from gpu_worker.media.encode import encode_mp4
from tests.conftest import SampleFiles
from tests.media_files import (
    assert_user_message,
    crafted_gif,
    distinct_frames,
    gradient,
    png_declaring,
    write_pillow_gif,
)

LIMITS = MediaLimits()


def refused(
    probe: Callable[[Path, MediaLimits], MediaInfo],
    path: Path,
    error: type[InputError],
    limits: MediaLimits = LIMITS,
) -> str:
    """Probe ``path``, expect ``error``, check its message is fit for a user and return it."""
    with pytest.raises(error) as caught:
        probe(path, limits)
    assert type(caught.value) is error
    assert_user_message(caught.value.message)
    return caught.value.message


# --- sniffing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"GIF87a\x40\x00\x30\x00\x00\x00\x00\x00\x00\x00", MediaKind.GIF),
        (b"GIF89a\x40\x00\x30\x00\x00\x00\x00\x00\x00\x00", MediaKind.GIF),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", MediaKind.PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00", MediaKind.JPEG),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", MediaKind.WEBP),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", MediaKind.MP4),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", MediaKind.MP4),  # QuickTime .mov
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81", MediaKind.WEBM),
    ],
)
def test_sniff_knows_each_accepted_kind_by_its_magic_bytes(head: bytes, kind: MediaKind) -> None:
    assert sniff(head) is kind


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello, world\n",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",  # RIFF, but audio
        b"BM\x36\x00\x00\x00\x00\x00",
        b"GIF8",  # cut before the version
    ],
)
def test_sniff_refuses_everything_else(head: bytes) -> None:
    assert sniff(head) is None


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"%PDF-1.4\n", "a PDF document"),
        (b"PK\x03\x04\x14\x00", "a ZIP archive"),
        (b"ID3\x04\x00", "an MP3 file"),
        (b"OggS\x00\x02", "an Ogg file"),
        (b"BM\x36\x00", "a BMP image"),
        (b"II*\x00\x08\x00", "a TIFF image"),
        (b"MM\x00*\x00\x00", "a TIFF image"),
        (b"", "an empty file"),
        (b"name,frames\r\n\tgif,24", "a text file"),
        (b"\x00\x01\x02\xfe\xff", "a file of unknown type"),
    ],
)
def test_describe_bytes_names_what_a_refused_file_seems_to_be(head: bytes, name: str) -> None:
    assert describe_bytes(head) == name


# --- probing real files ---------------------------------------------------------------------


def _gif(path: Path) -> Path:
    return write_pillow_gif(path / "clip.gif", distinct_frames(5), [100] * 5)


def _webp(path: Path) -> Path:
    images = [Image.fromarray(f) for f in distinct_frames(3)]
    images[0].save(path / "clip.webp", save_all=True, append_images=images[1:], duration=100)
    return path / "clip.webp"


def _png(path: Path) -> Path:
    Image.fromarray(gradient(64, 48)).save(path / "still.png")
    return path / "still.png"


def _jpeg(path: Path) -> Path:
    Image.fromarray(gradient(64, 48)).save(path / "still.jpg", quality=90)
    return path / "still.jpg"


def _mp4(path: Path) -> Path:
    clip = Clip(frames=distinct_frames(10), durations_ms=[40.0] * 10)
    (path / "clip.mp4").write_bytes(encode_mp4(clip))
    return path / "clip.mp4"


@pytest.mark.parametrize(
    ("write", "kind", "frames"),
    [
        (_gif, MediaKind.GIF, 5),
        (_webp, MediaKind.WEBP, 3),
        (_png, MediaKind.PNG, 1),
        (_jpeg, MediaKind.JPEG, 1),
        (_mp4, MediaKind.MP4, 10),
    ],
    ids=["gif", "webp", "png", "jpeg", "mp4"],
)
def test_probe_target_reads_kind_size_and_frames_of_real_files(
    tmp_path: Path, write: Callable[[Path], Path], kind: MediaKind, frames: int
) -> None:
    path = write(tmp_path)
    info = probe_target(path, LIMITS)
    assert info == MediaInfo(
        kind=kind, width=64, height=48, frames=frames, size_bytes=path.stat().st_size
    )
    assert info.animated is (frames > 1)


@pytest.mark.parametrize(("write", "kind"), [(_png, MediaKind.PNG), (_jpeg, MediaKind.JPEG)])
def test_probe_source_accepts_face_photos(
    tmp_path: Path, write: Callable[[Path], Path], kind: MediaKind
) -> None:
    info = probe_source(write(tmp_path), LIMITS)
    assert (info.kind, info.width, info.height, info.frames) == (kind, 64, 48, 1)


def test_probe_source_accepts_the_sample_face(sample_files: SampleFiles) -> None:
    info = probe_source(sample_files.source, LIMITS)
    assert (info.kind, info.width, info.height) == (MediaKind.JPEG, 512, 600)


# --- limits ---------------------------------------------------------------------------------


def test_a_file_over_the_byte_limit_is_refused_with_both_sizes(tmp_path: Path) -> None:
    path = _gif(tmp_path)
    size = path.stat().st_size
    assert probe_target(path, MediaLimits(max_file_bytes=size)).size_bytes == size
    message = refused(probe_target, path, FileTooLarge, MediaLimits(max_file_bytes=size - 1))
    assert f"{size / 1024:.1f} KB" in message
    assert "0.0 MB" not in message


def test_a_face_photo_over_the_byte_limit_is_refused(sample_files: SampleFiles) -> None:
    message = refused(
        probe_source, sample_files.source, FileTooLarge, MediaLimits(max_file_bytes=1000)
    )
    assert message.startswith("The face photo is ")
    assert "1000 bytes" in message


def test_a_gif_with_more_frames_than_the_limit_is_refused(sample_files: SampleFiles) -> None:
    assert probe_target(sample_files.target, MediaLimits(max_frames=24)).frames == 24
    message = refused(probe_target, sample_files.target, TooManyFrames, MediaLimits(max_frames=5))
    # The scan stops counting early; the message must not claim a wrong count.
    assert "more than 5 frames" in message
    assert "6 frames" not in message


def test_a_video_with_more_frames_than_the_limit_is_refused(tmp_path: Path) -> None:
    message = refused(probe_target, _mp4(tmp_path), TooManyFrames, MediaLimits(max_frames=5))
    assert "10 frames" in message
    assert "limit is 5" in message


@pytest.mark.parametrize("write", [_gif, _webp, _png, _jpeg, _mp4])
def test_frames_over_the_pixel_limit_are_refused(
    tmp_path: Path, write: Callable[[Path], Path]
) -> None:
    path = write(tmp_path)
    assert probe_target(path, MediaLimits(max_frame_pixels=64 * 48)).width == 64
    message = refused(probe_target, path, TooManyPixels, MediaLimits(max_frame_pixels=64 * 48 - 1))
    assert "64×48" in message


def test_a_face_photo_over_the_pixel_limit_is_refused(tmp_path: Path) -> None:
    refused(probe_source, _jpeg(tmp_path), TooManyPixels, MediaLimits(max_frame_pixels=1000))


# --- hostile files --------------------------------------------------------------------------


def _timed_refusal(path: Path, error: type[InputError]) -> str:
    started = time.perf_counter()
    message = refused(probe_target, path, error)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"took {elapsed:.2f} s to refuse {path.name}"  # a safety bound
    return message


def test_a_tiny_gif_declaring_a_huge_screen_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gif"
    path.write_bytes(crafted_gif(screen=(8000, 8000)))
    assert path.stat().st_size < 100
    assert "8000×8000" in _timed_refusal(path, TooManyPixels)


def test_a_tiny_gif_whose_frame_outgrows_its_screen_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gif"
    path.write_bytes(crafted_gif(screen=(1, 1), frame_box=(0, 0, 8000, 8000)))
    assert "8000×8000" in _timed_refusal(path, TooManyPixels)


def test_a_gif_declaring_thousands_of_frames_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "frames.gif"
    path.write_bytes(crafted_gif(screen=(1, 1), frames=5000))
    assert path.stat().st_size < LIMITS.max_file_bytes
    message = _timed_refusal(path, TooManyFrames)
    assert f"more than {LIMITS.max_frames} frames" in message


def test_a_tiny_gif_declaring_300_huge_frames_is_refused_at_once(tmp_path: Path) -> None:
    """Each frame is within the per-frame limit, but decoding all of them would need ~40 GB."""
    path = tmp_path / "memory-bomb.gif"
    path.write_bytes(crafted_gif(screen=(6000, 6000), frames=300))
    assert path.stat().st_size < 10_000
    message = _timed_refusal(path, TooManyPixels)
    assert "300 frames of 6000×6000" in message


def test_the_total_pixel_limit_counts_every_frame(tmp_path: Path) -> None:
    path = _gif(tmp_path)  # 5 frames of 64x48
    assert probe_target(path, MediaLimits(max_total_pixels=5 * 64 * 48)).frames == 5
    refused(probe_target, path, TooManyPixels, MediaLimits(max_total_pixels=5 * 64 * 48 - 1))


def test_the_crafted_gif_is_itself_valid_when_small(tmp_path: Path) -> None:
    """The hostile GIFs above are refused for their size, not for being malformed."""
    path = tmp_path / "ok.gif"
    path.write_bytes(crafted_gif(screen=(2, 2), frames=3))
    assert probe_target(path, LIMITS) == MediaInfo(MediaKind.GIF, 2, 2, 3, path.stat().st_size)
    with Image.open(path) as im:
        assert getattr(im, "n_frames", 1) == 3


def test_a_gif_cut_in_half_is_corrupt(tmp_path: Path, sample_files: SampleFiles) -> None:
    data = sample_files.target.read_bytes()
    path = tmp_path / "half.gif"
    path.write_bytes(data[: len(data) // 2])
    assert "damaged" in refused(probe_target, path, CorruptMedia)


def test_a_png_declaring_100000_squared_pixels_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(100_000, 100_000))
    _timed_refusal(path, TooManyPixels)
    refused(probe_source, path, TooManyPixels)


@pytest.mark.parametrize(
    ("name", "data", "seems"),
    [
        ("notes.gif", b"this is not a gif\nreally\n", "a text file"),
        ("paper.gif", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF document"),
        ("empty.gif", b"", "an empty file"),
        ("archive.mp4", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "a ZIP archive"),
    ],
)
def test_files_that_are_not_media_are_refused_naming_what_they_are(
    tmp_path: Path, name: str, data: bytes, seems: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert seems in refused(probe_target, path, UnsupportedMedia)
    assert seems in refused(probe_source, path, UnsupportedMedia)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64),
        ("broken.png", png_declaring(64, 48)[:30]),
        ("broken.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200),
    ],
)
def test_files_with_a_known_header_but_broken_data_are_corrupt(
    tmp_path: Path, name: str, data: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    message = refused(probe_target, path, CorruptMedia)
    assert str(tmp_path) not in message  # no server paths from the decoder's own text


def test_a_missing_file_is_reported_by_name(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.gif"
    assert "nowhere.gif does not exist" in refused(probe_target, path, InputMissing)
    assert "nowhere.gif does not exist" in refused(probe_source, path, InputMissing)


def test_a_path_under_a_file_is_missing(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"x")
    refused(probe_target, tmp_path / "plain" / "clip.gif", InputMissing)


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "clips.gif"
    folder.mkdir()
    assert "not a file" in refused(probe_target, folder, InputMissing)
    assert "not a file" in refused(probe_source, folder, InputMissing)


@pytest.mark.parametrize(("write", "kind"), [(_gif, "GIF"), (_mp4, "MP4")])
def test_an_animation_given_as_the_face_photo_is_refused(
    tmp_path: Path, write: Callable[[Path], Path], kind: str
) -> None:
    message = refused(probe_source, write(tmp_path), UnsupportedMedia)
    assert "JPEG, PNG or WebP" in message
    assert f"a {kind} file" in message


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            OSError(1094995529, "Invalid data found when processing input", "/srv/in/x.mp4"),
            "Invalid data found when processing input",
        ),
        (
            OSError("cannot identify image file '/tmp/upload/face.jpg'"),
            "cannot identify image file",
        ),
        (EOFError(), "unreadable data"),
        (ValueError("first line\nsecond line"), "first line"),
    ],
)
def test_failure_reason_keeps_the_decoders_words_without_paths_or_class_names(
    error: Exception, reason: str
) -> None:
    assert failure_reason(error) == reason

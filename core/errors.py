"""Swapzy's error hierarchy. Every failure a user can cause is an ``InputError`` with one clear,
human sentence and its own exit code; everything else is ours.

    SwapzyError                    exit 1    something went wrong on our side
    ├── InputError                           the user's input cannot be used (never retried)
    │   ├── InputMissing           exit 3    the file does not exist / cannot be read
    │   ├── UnsupportedMedia       exit 4    not an image or animation we accept (magic bytes)
    │   ├── CorruptMedia           exit 5    looks like a known format but does not decode
    │   ├── FileTooLarge           exit 6    more bytes than ``limits.max_file_bytes``
    │   ├── TooManyFrames          exit 7    more frames than ``limits.max_frames`` (or too long)
    │   ├── TooManyPixels          exit 8    a frame larger than ``limits.max_frame_pixels`` (bombs)
    │   ├── NoFaceInSource         exit 10   no face found in the face photo
    │   ├── NoFaceInTarget         exit 11   no face found in any frame of the GIF
    │   ├── FaceNotFound           exit 12   ``--faces N`` names a face the clip does not have
    │   └── UnsupportedOutput      exit 13   the output's extension is not .gif, .mp4 or .webp
    ├── EngineError                exit 1    an engine failed on valid input (a bug or a resource)
    ├── ServiceUnavailable         exit 14   the queue, database or storage cannot be reached now
    │   └── StorageError           exit 14   the storage backend failed (retried with backoff)
    │       └── ObjectNotFound     exit 14   no stored object under that key
    ├── ConfigError                exit 15   a setting (SWAPZY_* variable, .env) is invalid
    └── InvalidKey                 exit 1    a storage key that could escape its folder (a bug)

Exit code 2 stays with the command-line parser (usage errors).
"""

from __future__ import annotations


class SwapzyError(Exception):
    """Base of every Swapzy error. ``message`` is fit to show to a user as it is."""

    exit_code: int = 1
    code: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(SwapzyError):
    """The input cannot be used; retrying will not help."""

    code = "bad_input"


class InputMissing(InputError):
    exit_code = 3
    code = "missing"


class UnsupportedMedia(InputError):
    exit_code = 4
    code = "unsupported"


class CorruptMedia(InputError):
    exit_code = 5
    code = "corrupt"


class FileTooLarge(InputError):
    exit_code = 6
    code = "too_large"


class TooManyFrames(InputError):
    exit_code = 7
    code = "too_many_frames"


class TooManyPixels(InputError):
    exit_code = 8
    code = "too_many_pixels"


class NoFaceInSource(InputError):
    exit_code = 10
    code = "no_face_in_source"


class NoFaceInTarget(InputError):
    exit_code = 11
    code = "no_face_in_target"


class FaceNotFound(InputError):
    exit_code = 12
    code = "face_not_found"


class UnsupportedOutput(InputError):
    exit_code = 13
    code = "unsupported_output"


class EngineError(SwapzyError):
    """An engine failed on input that passed validation."""

    code = "engine"


class ServiceUnavailable(SwapzyError):
    """Something Swapzy needs (Redis, the database, storage) cannot be reached; retry later."""

    exit_code = 14
    code = "unavailable"


class StorageError(ServiceUnavailable):
    code = "storage"


class ObjectNotFound(StorageError):
    code = "not_found"


class InvalidKey(SwapzyError):
    code = "invalid_key"


class ConfigError(SwapzyError):
    exit_code = 15
    code = "config"

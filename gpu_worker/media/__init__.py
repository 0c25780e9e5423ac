"""Decode targets and face photos into frames, and encode frames back, keeping timing exact."""

from gpu_worker.media.clip import Clip
from gpu_worker.media.decode import load_clip, load_face_photo
from gpu_worker.media.encode import OUTPUT_FORMATS, save_clip

__all__ = ["OUTPUT_FORMATS", "Clip", "load_clip", "load_face_photo", "save_clip"]

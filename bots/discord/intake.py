"""Checking what a user attached, from the interaction alone (type and size, before any
download), so bad input is answered at once, well inside Discord's 3 seconds."""

from __future__ import annotations

import discord

from bots.discord import texts
from core.config import MediaLimits

GIF_TYPES = frozenset(("image/gif", "video/mp4", "video/webm", "image/webp"))
FACE_TYPES = frozenset(("image/jpeg", "image/png", "image/webp"))


def _kind(content_type: str | None) -> str:
    if not content_type:
        return texts.UNKNOWN_KIND
    main = content_type.split(";")[0].strip()
    return f"`{main}`"


def _name(attachment: discord.Attachment) -> str:
    return discord.utils.escape_markdown(attachment.filename[:80])


def refusal(attachment: discord.Attachment, role: str, limits: MediaLimits) -> str | None:
    """One sentence saying why ``attachment`` cannot be the ``role`` ("gif" or "face"), or None."""
    content_type = (attachment.content_type or "").split(";")[0].strip().lower()
    allowed, wrong = (
        (GIF_TYPES, texts.WRONG_GIF_TYPE)
        if role == "gif"
        else (
            FACE_TYPES,
            texts.WRONG_FACE_TYPE,
        )
    )
    if content_type not in allowed:
        return wrong.format(name=_name(attachment), kind=_kind(attachment.content_type))
    if attachment.size > limits.max_file_bytes:
        return texts.FILE_TOO_BIG.format(
            name=_name(attachment),
            size=round(attachment.size / 2**20, 1),
            limit=limits.max_file_bytes // 2**20,
        )
    return None

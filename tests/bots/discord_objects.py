"""The objects of the fake Discord (see ``fake_discord.py``): users, places to talk, messages,
interactions and recorded calls, as Discord's JSON."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Literal

JSON = dict[str, Any]

APP_ID = 910000000000000001
EPHEMERAL = 1 << 6
SEND_MESSAGES = 1 << 11
ATTACH_FILES = 1 << 15
VIEW_CHANNEL = 1 << 10
MANAGE_GUILD = 1 << 5
BOT_USER: JSON = {
    "id": str(APP_ID),
    "username": "Swapzy",
    "discriminator": "0",
    "global_name": "Swapzy",
    "avatar": None,
    "bot": True,
    "flags": 0,
}
TIMESTAMP = "2026-11-28T00:00:00.000000+00:00"
_ids = itertools.count(920000000000000001)


def snowflake() -> str:
    return str(next(_ids))


class ApiError(Exception):
    """An error answer of the REST API: HTTP status + ``{"message": ..., "code": ...}``."""

    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(f"{status} {message} ({code})")
        self.status = status
        self.message = message
        self.code = code


@dataclass(frozen=True)
class FakeUser:
    """A Discord user the tests play."""

    id: int
    username: str = "alice"

    def to_json(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.username.capitalize(),
            "avatar": None,
            "public_flags": 0,
        }


@dataclass(frozen=True)
class Place:
    """Where a command is used: a server channel, the bot's DM, or a private (group) channel.

    ``bot_installed``: the app is installed to that server (it may post in its channels), not
    only to the user. ``admin``: the user may manage the server."""

    kind: Literal["guild", "dm", "private"]
    channel_id: int
    guild_id: int | None = None
    bot_installed: bool = True
    admin: bool = False

    @staticmethod
    def guild(channel_id: int, guild_id: int, **kw: Any) -> Place:
        return Place("guild", channel_id, guild_id, **kw)

    @property
    def context(self) -> int:
        return {"guild": 0, "dm": 1, "private": 2}[self.kind]


@dataclass(frozen=True)
class SentFile:
    filename: str
    data: bytes
    content_type: str
    id: str = field(default_factory=snowflake)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "filename": self.filename,
            "size": len(self.data),
            "content_type": self.content_type,
            "url": f"https://cdn.discordapp.test/{self.id}/{self.filename}",
            "proxy_url": f"https://media.discordapp.test/{self.id}/{self.filename}",
        }


@dataclass
class Message:
    """A message as the user sees it now; ``history`` keeps every content it showed."""

    id: str
    channel_id: str
    content: str = ""
    flags: int = 0
    files: list[SentFile] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    loading: bool = False  # a deferred "Swapzy is thinking…" response
    deleted: bool = False
    interaction_id: str | None = None
    history: list[str] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def buttons(self) -> list[str]:
        return [c.get("label", "") for row in self.components for c in row.get("components", [])]

    def custom_ids(self) -> list[str]:
        return [
            c.get("custom_id", "") for row in self.components for c in row.get("components", [])
        ]

    def to_json(self) -> JSON:
        flags = self.flags | (1 << 7 if self.loading else 0)
        return {
            "id": self.id,
            "channel_id": self.channel_id,
            "type": 20 if self.interaction_id else 0,
            "content": self.content,
            "author": BOT_USER,
            "attachments": [f.to_json() for f in self.files],
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "flags": flags,
            "components": self.components,
            "webhook_id": str(APP_ID) if self.interaction_id else None,
            "application_id": str(APP_ID),
        }


@dataclass
class Interaction:
    """One interaction the fake sent, and what the bot did with it."""

    id: str
    token: str
    payload: JSON
    sent_at: float = field(default_factory=time.monotonic)
    response_type: int | None = None
    answered_after_s: float | None = None  # from dispatch to the bot's first answer
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    choices: list[JSON] | None = None  # autocomplete answer
    modal: JSON | None = None
    expired: bool = False


@dataclass(frozen=True)
class Call:
    """One REST call the bot made and how the fake answered."""

    method: str
    path: str
    body: JSON
    files: tuple[SentFile, ...]
    status: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status < 400

"""The objects of the fake Telegram (see ``fake_telegram.py``): the users and chats tests play,
registered files, recorded calls and the views tests assert on, as Telegram's JSON."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Literal

JSON = dict[str, Any]

BOT_USER: JSON = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Swapzy Test",
    "username": "swapzy_test_bot",
}
# Animation first: Telegram sets ``document`` too on a GIF (an MP4 ``animation``).
MEDIA_KINDS = ("animation", "video", "photo", "document")
FOLDERS = {"animation": "animations", "video": "videos", "photo": "photos", "document": "documents"}


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, error_code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters  # e.g. {"retry_after": 5} with 429


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user the tests play."""

    id: int
    first_name: str = "Alice"
    username: str | None = "alice"
    language_code: str | None = "en"
    last_name: str | None = None

    def to_json(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        optional = {
            "last_name": self.last_name,
            "username": self.username,
            "language_code": self.language_code,
        }
        return user | {k: v for k, v in optional.items() if v is not None}

    def private_chat(self) -> FakeChat:
        return FakeChat(self.id, "private", first_name=self.first_name, username=self.username)


@dataclass(frozen=True)
class FakeChat:
    """A chat: ``FakeUser.private_chat()`` or ``FakeChat.group(-4001, "Friends")``."""

    id: int
    type: Literal["private", "group", "supergroup", "channel"] = "private"
    title: str | None = None
    first_name: str | None = None
    username: str | None = None

    @classmethod
    def group(cls, id: int, title: str = "Test group", *, supergroup: bool = False) -> FakeChat:
        return cls(id, "supergroup" if supergroup else "group", title=title)

    def to_json(self) -> JSON:
        chat: JSON = {"id": self.id, "type": self.type}
        optional = {"title": self.title, "first_name": self.first_name, "username": self.username}
        return chat | {k: v for k, v in optional.items() if v is not None}


@dataclass(frozen=True)
class FileRef:
    """Bytes registered under a file_id (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    file_path: str
    mime_type: str
    file_name: str | None
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)

    def to_json(self, *, with_name: bool = True) -> JSON:
        obj: JSON = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if with_name:
            obj["mime_type"] = self.mime_type
            if self.file_name is not None:
                obj["file_name"] = self.file_name
        return obj


@dataclass
class Call:
    """One Bot API call, in the order received; ``status`` 200 unless Telegram refused it."""

    method: str
    params: JSON
    files: dict[str, bytes] = field(default_factory=dict)
    file_names: dict[str, str] = field(default_factory=dict)
    file_types: dict[str, str] = field(default_factory=dict)
    status: int = 200
    result: Any = None
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class ChatMessage:
    """A message as the user sees it now (latest edit; media bytes resolved)."""

    message_id: int
    from_bot: bool
    text: str | None
    caption: str | None
    media_kind: str | None
    media: bytes | None
    file_name: str | None
    buttons: tuple[tuple[str, ...], ...]  # inline keyboard button texts, row by row
    callback_data: dict[str, str]  # button text -> callback_data
    edited: bool
    raw: JSON

    @property
    def content(self) -> str:
        return self.text or self.caption or ""


@dataclass(frozen=True)
class SentMedia:
    """A media message the bot uploaded or re-sent (sendAnimation/Video/Document/Photo)."""

    kind: str
    chat_id: int
    message_id: int
    data: bytes
    file_name: str | None
    mime_type: str | None
    caption: str | None
    parse_mode: str | None
    reply_markup: JSON | None

    @property
    def buttons(self) -> list[list[str]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[button["text"] for button in row] for row in rows]


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an image; 800x600 when Pillow cannot read it."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:
        return (800, 600)

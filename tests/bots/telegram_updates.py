"""The state of the fake Telegram and the user's side of it (see ``fake_telegram.py``).

``TelegramWorld`` holds what Telegram would hold (registered files, chats, every message in its
latest version, the queue of unconfirmed updates, every API call) behind one lock, builds the
updates a real user would cause (JSON as Telegram sends it) and answers the tests' questions:
``messages_in(chat_id)`` is the chat as the user sees it now; ``wait_for_call`` blocks on a
condition variable until the bot made a matching call.
"""

from __future__ import annotations

import asyncio
import itertools
import mimetypes
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import PurePosixPath

from tests.bots.telegram_objects import (
    JSON,
    MEDIA_KINDS,
    ApiError,
    Call,
    ChatMessage,
    FakeChat,
    FakeUser,
    FileRef,
    SentMedia,
    image_size,
)


class TelegramWorld:
    """Thread-safe state of the fake Bot API server and the user-side update builders."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._files: dict[str, FileRef] = {}
        self._files_by_path: dict[str, FileRef] = {}
        self._chats: dict[int, JSON] = {}
        self._messages: dict[tuple[int, int], JSON] = {}  # latest version; deleted ones removed
        self._next_message_id: dict[int, int] = {}
        self._updates: list[JSON] = []  # not yet confirmed by getUpdates' offset
        self._update_ids = itertools.count(700_000_001)
        self._serial = itertools.count(1)
        self.callback_answers: dict[str, JSON | None] = {}  # query id -> answer params

    def _updates_queued(self) -> None:
        """Hook: the server wakes its long polls."""

    # -- the user's side ------------------------------------------------------------------------

    def add_file(
        self,
        data: bytes,
        *,
        mime_type: str,
        file_name: str | None = None,
        folder: str | None = None,
    ) -> FileRef:
        """Register ``data`` under a new file_id / file_path (getFile and downloads find it)."""
        with self._lock:
            n = next(self._serial)
        ext = PurePosixPath(file_name or "").suffix or mimetypes.guess_extension(mime_type) or ""
        if folder is None:
            major = mime_type.partition("/")[0]
            folder = {"image": "photos", "video": "videos"}.get(major, "documents")
        ref = FileRef(
            file_id=f"BQACAgIAAxkBAAI{n:05d}{secrets.token_urlsafe(30)}",
            file_unique_id=f"AgAD{n:05d}{secrets.token_hex(3)}",
            file_path=f"{folder}/file_{n}{ext}",
            mime_type=mime_type,
            file_name=file_name,
            data=bytes(data),
        )
        with self._lock:
            self._files[ref.file_id] = ref
            self._files_by_path[ref.file_path] = ref
        return ref

    def add_chat(self, chat: FakeChat) -> None:
        """Make a chat known before any of its users wrote (else the bot gets "chat not found")."""
        with self._lock:
            self._chats[chat.id] = chat.to_json()

    def file(self, file_id: str) -> FileRef:
        with self._lock:
            return self._files[file_id]

    def _store_message(
        self, chat: JSON, sender: JSON, content: JSON, reply_to: int | None = None
    ) -> JSON:
        with self._lock:
            chat_id = chat["id"]
            self._chats[chat_id] = chat
            message: JSON = {"message_id": self._next_message_id.get(chat_id, 1)}
            message |= {"from": sender, "chat": chat, "date": int(time.time())}
            if reply_to is not None:
                target = self._messages.get((chat_id, reply_to))
                if target is None:
                    raise ApiError(400, "Bad Request: message to be replied not found")
                message["reply_to_message"] = {
                    k: v for k, v in target.items() if k != "reply_to_message"
                }
            message |= content
            self._next_message_id[chat_id] = message["message_id"] + 1
            self._messages[(chat_id, message["message_id"])] = message
            return message

    def _queue_update(self, kind: str, payload: JSON) -> JSON:
        with self._lock:
            update = {"update_id": next(self._update_ids), kind: payload}
            self._updates.append(update)
            self._changed.notify_all()
        self._updates_queued()
        return update

    def _user_message(
        self, user: FakeUser, chat: FakeChat | None, content: JSON, reply_to: int | None
    ) -> JSON:
        chat_json = (chat or user.private_chat()).to_json()
        try:
            message = self._store_message(chat_json, user.to_json(), content, reply_to)
        except ApiError:
            raise ValueError(
                f"no message {reply_to} in chat {chat_json['id']} to reply to"
            ) from None
        return self._queue_update("message", message)

    def send_text(
        self, user: FakeUser, chat: FakeChat | None, text: str, reply_to: int | None = None
    ) -> JSON:
        """Queue a text message update (``chat=None``: the user's private chat)."""
        return self._user_message(user, chat, {"text": text}, reply_to)

    def send_command(
        self, user: FakeUser, chat: FakeChat | None, command: str, reply_to: int | None = None
    ) -> JSON:
        """Queue ``/cmd args`` with its ``bot_command`` entity (``command`` starts with '/')."""
        length = len(command.split(" ", 1)[0].encode("utf-16-le")) // 2
        entity = {"type": "bot_command", "offset": 0, "length": length}
        return self._user_message(user, chat, {"text": command, "entities": [entity]}, reply_to)

    def send_animation(
        self,
        user: FakeUser,
        chat: FakeChat | None,
        data: bytes,
        caption: str | None = None,
        reply_to: int | None = None,
        *,
        file_name: str = "animation.gif.mp4",
        width: int = 320,
        height: int = 240,
        duration: int = 2,
    ) -> JSON:
        """Queue a GIF as Telegram delivers it: an MP4 ``animation`` AND the same ``document``."""
        ref = self.add_file(data, mime_type="video/mp4", file_name=file_name, folder="animations")
        dims = {"width": width, "height": height, "duration": duration}
        content: JSON = {"animation": ref.to_json() | dims, "document": ref.to_json()}
        return self._user_message(user, chat, content | _caption(caption), reply_to)

    def send_video(
        self,
        user: FakeUser,
        chat: FakeChat | None,
        data: bytes,
        caption: str | None = None,
        reply_to: int | None = None,
        *,
        file_name: str = "video.mp4",
        mime_type: str = "video/mp4",
        width: int = 640,
        height: int = 360,
        duration: int = 5,
    ) -> JSON:
        ref = self.add_file(data, mime_type=mime_type, file_name=file_name, folder="videos")
        video = ref.to_json() | {"width": width, "height": height, "duration": duration}
        return self._user_message(user, chat, {"video": video} | _caption(caption), reply_to)

    def send_photo(
        self,
        user: FakeUser,
        chat: FakeChat | None,
        data: bytes,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        """Queue a photo: PhotoSizes (smallest first, the real size last), all of ``data``."""
        width, height = image_size(data)
        sides = [side for side in (90, 320) if side < max(width, height)]
        sizes = []
        for side in [*sides, max(width, height)]:
            ref = self.add_file(data, mime_type="image/jpeg", folder="photos")
            scale = side / max(width, height)
            dims = {"width": round(width * scale), "height": round(height * scale)}
            sizes.append(ref.to_json(with_name=False) | dims)
        return self._user_message(user, chat, {"photo": sizes} | _caption(caption), reply_to)

    def send_document(
        self,
        user: FakeUser,
        chat: FakeChat | None,
        data: bytes,
        mime_type: str,
        file_name: str,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        ref = self.add_file(data, mime_type=mime_type, file_name=file_name, folder="documents")
        content = {"document": ref.to_json()} | _caption(caption)
        return self._user_message(user, chat, content, reply_to)

    def press_button(
        self, user: FakeUser, chat: FakeChat | None, message_id: int, callback_data: str
    ) -> JSON:
        """Queue the callback_query of pressing a button the bot's message really shows."""
        chat_id = (chat or user.private_chat()).id
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None or not message["from"].get("is_bot"):
                raise ValueError(f"no bot message {message_id} in chat {chat_id}")
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            if not any(b.get("callback_data") == callback_data for row in rows for b in row):
                raise ValueError(f"message {message_id} has no button {callback_data!r}")
            query_id = str(next(self._serial) * 1_000_003 + 4_000_000_000_000_000)
            self.callback_answers[query_id] = None
        query = {
            "id": query_id,
            "from": user.to_json(),
            "message": message,
            "chat_instance": str(-(abs(chat_id) * 7919 + 1_234_567_890_123)),
            "data": callback_data,
        }
        return self._queue_update("callback_query", query)

    # -- what the tests look at ----------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self._calls if call.method == method]

    def mark(self) -> int:
        """Index of the next call: ``wait_for_call(..., after=fake.mark())`` skips older ones."""
        with self._lock:
            return len(self._calls)

    def pending_updates(self) -> list[JSON]:
        with self._lock:
            return list(self._updates)

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
            self._changed.notify_all()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Block until ``condition()`` holds; re-checked on every call, update and long poll."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                raise TimeoutError(f"condition not met within {timeout} s")

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 30.0,
        *,
        after: int = 0,
    ) -> Call:
        """The first call to ``method`` (from index ``after``) matching ``predicate``."""

        def find() -> Call | None:
            return next(
                (
                    call
                    for call in self._calls[after:]
                    if call.method == method and (predicate is None or predicate(call))
                ),
                None,
            )

        with self._changed:
            if not self._changed.wait_for(lambda: find() is not None, timeout):
                seen = [
                    call.method if call.ok else f"{call.method} ({call.status} {call.description})"
                    for call in self._calls[after:]
                    if call.method != "getUpdates"
                ]
                raise TimeoutError(f"no matching {method} within {timeout} s; calls: {seen}")
            found = find()
            assert found is not None
            return found

    async def await_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 30.0,
        *,
        after: int = 0,
    ) -> Call:
        """``wait_for_call`` for a test running the bot in its own event loop."""
        return await asyncio.to_thread(self.wait_for_call, method, predicate, timeout, after=after)

    def messages_in(self, chat_id: int) -> list[ChatMessage]:
        """The chat as the user sees it now: latest edits, deleted messages gone, in order."""
        with self._lock:
            keys = sorted(key for key in self._messages if key[0] == chat_id)
            return [self._view(self._messages[key]) for key in keys]

    def bot_messages_in(self, chat_id: int) -> list[ChatMessage]:
        return [message for message in self.messages_in(chat_id) if message.from_bot]

    def _view(self, message: JSON) -> ChatMessage:
        kind = next((kind for kind in MEDIA_KINDS if kind in message), None)
        ref = None
        if kind is not None:
            media = message[kind][-1] if kind == "photo" else message[kind]
            ref = self._files.get(media["file_id"])
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        return ChatMessage(
            message_id=message["message_id"],
            from_bot=bool(message["from"].get("is_bot")),
            text=message.get("text"),
            caption=message.get("caption"),
            media_kind=kind,
            media=ref.data if ref else None,
            file_name=ref.file_name if ref else None,
            buttons=tuple(tuple(button["text"] for button in row) for row in rows),
            callback_data={
                b["text"]: b["callback_data"] for row in rows for b in row if "callback_data" in b
            },
            edited="edit_date" in message,
            raw=message,
        )

    def sent_media(self, chat_id: int | None = None) -> list[SentMedia]:
        """Every media message the bot sent successfully, in order."""
        sent = []
        for call in self.calls:
            kind = call.method.removeprefix("send").lower()
            if not call.ok or kind not in MEDIA_KINDS:
                continue
            message = call.result
            if chat_id is not None and message["chat"]["id"] != chat_id:
                continue
            media = message[kind][-1] if kind == "photo" else message[kind]
            ref = self.file(media["file_id"])
            sent.append(
                SentMedia(
                    kind=kind,
                    chat_id=message["chat"]["id"],
                    message_id=message["message_id"],
                    data=ref.data,
                    file_name=ref.file_name,
                    mime_type=ref.mime_type,
                    caption=message.get("caption"),
                    parse_mode=call.params.get("parse_mode"),
                    reply_markup=message.get("reply_markup"),
                )
            )
        return sent


def _caption(caption: str | None) -> JSON:
    return {} if caption is None else {"caption": caption}

"""What each Bot API method does to the fake Telegram's state (see ``fake_telegram.py``).

``BotApi`` answers like Telegram: full Message objects, edits that must change something, files
registered on upload, inline keyboards and HTML checked, and Telegram's error texts (so PTB raises
``BadRequest("Message is not modified: ...")`` as in production). Handlers run under the state's
lock; getUpdates (a long poll) lives in the server.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tests.bots.telegram_objects import (
    BOT_USER,
    FOLDERS,
    JSON,
    ApiError,
    Call,
    FileRef,
    image_size,
)
from tests.bots.telegram_updates import TelegramWorld
from tests.bots.telegram_wire import inline_markup, render

MB = 1024 * 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are"
    " exactly the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset((
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
))  # fmt: skip


class BotApi(TelegramWorld):
    """The Bot API methods (all but getUpdates) over ``TelegramWorld``'s state."""

    def __init__(self) -> None:
        super().__init__()
        self.upload_limit_bytes = 50 * MB  # bigger uploads: 413 Request Entity Too Large
        self.download_limit_bytes = 20 * MB  # getFile of bigger files: "file is too big"
        self.webhook: JSON | None = None  # the last setWebhook's parameters
        self.commands: list[JSON] = []
        methods: dict[str, Callable[[Call], Any]] = {
            "deleteWebhook": self._m_delete_webhook,
            "setWebhook": self._m_set_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "getMe": self._m_get_me,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "sendMessage": self._m_send_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "sendChatAction": self._m_send_chat_action,
            "answerCallbackQuery": self._m_answer_callback_query,
            "sendAnimation": self._m_send_animation,
            "sendVideo": self._m_send_video,
            "sendDocument": self._m_send_document,
            "sendPhoto": self._m_send_photo,
            "getFile": self._m_get_file,
        }
        self._methods = {name.lower(): handler for name, handler in methods.items()}

    # -- webhooks ----------------------------------------------------------------------------------

    def _m_delete_webhook(self, call: Call) -> bool:
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        return True

    def _m_set_webhook(self, call: Call) -> bool:
        url = call.params.get("url") or ""
        if not url:
            return self._m_delete_webhook(call)
        if urlsplit(url).scheme != "https":
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = call.params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = dict(call.params)
        return True

    def _m_get_webhook_info(self, call: Call) -> JSON:
        info: JSON = {"url": "", "has_custom_certificate": False}
        info["pending_update_count"] = len(self._updates)
        if self.webhook:
            info["url"] = self.webhook["url"]
            info["max_connections"] = self.webhook.get("max_connections", 40)
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    # -- bot and commands ---------------------------------------------------------------------

    def _m_get_me(self, call: Call) -> JSON:
        return BOT_USER | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, 'Bad Request: parameter "commands" is required')
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        return True

    def _m_get_my_commands(self, call: Call) -> list[JSON]:
        return self.commands

    def _m_delete_my_commands(self, call: Call) -> bool:
        self.commands = []
        return True

    # -- messages ----------------------------------------------------------------------------

    def _chat(self, params: JSON) -> JSON:
        chat_id = params.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            chat = self._chats.get(int(str(chat_id)))
            if chat is not None:
                return chat
        raise ApiError(400, "Bad Request: chat not found")

    def _bot_message(self, chat: JSON, params: JSON, content: JSON) -> JSON:
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id", params.get("reply_to_message_id"))
        markup = inline_markup(params.get("reply_markup"))
        content |= {"reply_markup": markup} if markup else {}
        try:
            return self._store_message(chat, BOT_USER, content, reply_to)
        except ApiError:
            if reply.get("allow_sending_without_reply"):
                return self._store_message(chat, BOT_USER, content)
            raise

    def _m_send_message(self, call: Call) -> JSON:
        chat = self._chat(call.params)
        text = render(call.params.get("text"), call.params.get("parse_mode"))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return self._bot_message(chat, call.params, {"text": text})

    def _editable(self, params: JSON, content_key: str) -> JSON:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        with contextlib.suppress(TypeError, ValueError):
            key = (int(str(params.get("chat_id"))), int(str(params.get("message_id"))))
            message = self._messages.get(key)
            if message is not None:
                if not message["from"].get("is_bot"):
                    raise ApiError(400, "Bad Request: message can't be edited")
                if content_key == "text" and "text" not in message:
                    raise ApiError(400, "Bad Request: there is no text in the message to edit")
                if content_key == "caption" and "text" in message:
                    raise ApiError(400, "Bad Request: there is no caption in the message to edit")
                return message
        raise ApiError(400, "Bad Request: message to edit not found")

    def _edit(self, call: Call, content_key: str) -> JSON:
        message = self._editable(call.params, content_key)
        new = dict(message)
        if content_key == "text":
            new["text"] = render(call.params.get("text"), call.params.get("parse_mode"))
            if not new["text"].strip():
                raise ApiError(400, "Bad Request: message text is empty")
        elif content_key == "caption":
            caption = render(call.params.get("caption"), call.params.get("parse_mode"))
            new.pop("caption", None)
            new |= {"caption": caption} if caption else {}
        new.pop("reply_markup", None)  # an edit without reply_markup removes the keyboard
        markup = inline_markup(call.params.get("reply_markup"))
        new |= {"reply_markup": markup} if markup else {}
        if {k: v for k, v in new.items() if k != "edit_date"} == {
            k: v for k, v in message.items() if k != "edit_date"
        }:
            raise ApiError(400, NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        self._messages[(message["chat"]["id"], message["message_id"])] = new
        return new

    def _m_edit_message_text(self, call: Call) -> JSON:
        return self._edit(call, "text")

    def _m_edit_message_caption(self, call: Call) -> JSON:
        return self._edit(call, "caption")

    def _m_edit_message_reply_markup(self, call: Call) -> JSON:
        return self._edit(call, "reply_markup")

    def _m_delete_message(self, call: Call) -> bool:
        with contextlib.suppress(TypeError, ValueError):
            key = (int(str(call.params.get("chat_id"))), int(str(call.params.get("message_id"))))
            if self._messages.pop(key, None) is not None:
                return True
        raise ApiError(400, "Bad Request: message to delete not found")

    def _m_send_chat_action(self, call: Call) -> bool:
        self._chat(call.params)
        if call.params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _m_answer_callback_query(self, call: Call) -> bool:
        query_id = str(call.params.get("callback_query_id"))
        if query_id not in self.callback_answers or self.callback_answers[query_id] is not None:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.callback_answers[query_id] = dict(call.params)
        return True

    # -- media -------------------------------------------------------------------------------

    def _media_input(self, kind: str, call: Call) -> FileRef:
        value = call.params.get(kind)
        part = str(value).removeprefix("attach://") if str(value).startswith("attach://") else kind
        if part in call.files:
            if len(call.files[part]) > self.upload_limit_bytes:
                raise ApiError(413, "Request Entity Too Large")
            mime_type = call.file_types.get(part, "application/octet-stream")
            file_name = None if kind == "photo" else call.file_names.get(part)
            return self.add_file(
                call.files[part], mime_type=mime_type, file_name=file_name, folder=FOLDERS[kind]
            )
        if isinstance(value, str) and value:
            ref = self._files.get(value)
            if ref is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return ref
        raise ApiError(400, f"Bad Request: there is no {kind} in the request")

    def _send_media(self, kind: str, call: Call) -> JSON:
        params = call.params
        chat = self._chat(params)
        caption = render(params.get("caption"), params.get("parse_mode"))
        if len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        ref = self._media_input(kind, call)
        content: JSON = {}
        defaults = {"width": 320, "height": 240, "duration": 2}
        dims = {key: int(params.get(key) or default) for key, default in defaults.items()}
        if kind == "animation":
            content = {"animation": ref.to_json() | dims, "document": ref.to_json()}
        elif kind == "video":
            content = {"video": ref.to_json() | dims}
        elif kind == "document":
            content = {"document": ref.to_json()}
        else:
            width, height = image_size(ref.data)
            size = {"width": width, "height": height}
            content = {"photo": [ref.to_json(with_name=False) | size]}
        content |= {"caption": caption} if caption else {}
        return self._bot_message(chat, params, content)

    def _m_send_animation(self, call: Call) -> JSON:
        return self._send_media("animation", call)

    def _m_send_video(self, call: Call) -> JSON:
        return self._send_media("video", call)

    def _m_send_document(self, call: Call) -> JSON:
        return self._send_media("document", call)

    def _m_send_photo(self, call: Call) -> JSON:
        return self._send_media("photo", call)

    def _m_get_file(self, call: Call) -> JSON:
        ref = self._files.get(str(call.params.get("file_id")))
        if ref is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if ref.size > self.download_limit_bytes:
            raise ApiError(400, "Bad Request: file is too big")
        return ref.to_json(with_name=False) | {"file_path": ref.file_path}

"""What each REST route does to the fake Discord's state (see ``fake_discord.py``).

Discord's rules that matter to a bot are kept: an interaction must be answered within 3 s and
only once; its token works for 15 minutes (``token_ttl_s``); the first followup of a still
"thinking" deferral fills that message; uploads over the size limit are refused; a bot may post
only where it was let in, and a DM fails when the user closed them. Errors carry Discord's texts
and codes, so discord.py raises what it raises in production.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from tests.bots.discord_objects import (
    APP_ID,
    BOT_USER,
    EPHEMERAL,
    JSON,
    ApiError,
    Call,
    Interaction,
    Message,
    SentFile,
    snowflake,
)

MB = 1024 * 1024
UNKNOWN_INTERACTION = ApiError(404, "Unknown interaction", 10062)
ALREADY_ACKED = ApiError(400, "Interaction has already been acknowledged.", 40060)
INVALID_TOKEN = ApiError(401, "Invalid Webhook Token", 50027)
UNKNOWN_MESSAGE = ApiError(404, "Unknown Message", 10008)
MISSING_ACCESS = ApiError(403, "Missing Access", 50001)
DMS_CLOSED = ApiError(403, "Cannot send messages to this user", 50007)
TOO_LARGE = ApiError(413, "Request entity too large", 40005)


class DiscordState:
    """Everything the fake knows, behind one lock; ``changed`` wakes waiting tests."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.ack_deadline_s = 3.0
        self.token_ttl_s = 15 * 60.0
        self.upload_limit = 10 * MB  # attachment_size_limit of a server without boosts
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.calls: list[Call] = []
        self.commands: list[JSON] = []
        self.interactions: dict[str, Interaction] = {}
        self.messages: dict[str, Message] = {}
        self.postable_channels: set[str] = set()  # server channels the bot was let into
        self.closed_dms: set[str] = set()  # users who do not take DMs from the bot
        self.dm_channels: dict[str, str] = {}  # user id -> DM channel id
        self.attachments: dict[str, SentFile] = {}  # what the fake CDN serves, by id

    # -- routing --------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        """(method, path pattern, handler(params, body, files)) for the HTTP layer."""
        return [
            ("GET", "/users/@me", lambda p, b, f: BOT_USER),
            ("GET", "/oauth2/applications/@me", lambda p, b, f: self.app_info()),
            ("PUT", "/applications/{app}/commands", self.put_commands),
            ("GET", "/applications/{app}/commands", lambda p, b, f: self.commands),
            ("POST", "/interactions/{iid}/{token}/callback", self.callback),
            ("GET", "/webhooks/{app}/{token}/messages/{mid}", self.get_webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/{mid}", self.edit_webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/{mid}", self.delete_webhook_message),
            ("POST", "/webhooks/{app}/{token}", self.followup),
            ("POST", "/users/@me/channels", self.open_dm),
            ("POST", "/channels/{cid}/messages", self.channel_message),
        ]

    def record(self, call: Call) -> None:
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    @staticmethod
    def needs_auth(path: str) -> bool:
        return not path.startswith(("/interactions/", "/webhooks/"))

    # -- application ------------------------------------------------------------------------------

    def app_info(self) -> JSON:
        return {
            "id": str(APP_ID),
            "name": "Swapzy",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": {**BOT_USER, "id": "1", "username": "owner", "bot": False},
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
        }

    def put_commands(self, params: JSON, body: Any, files: list[SentFile]) -> list[JSON]:
        commands = []
        for command in body:
            perms = command.get("default_member_permissions")
            commands.append(
                {
                    "id": snowflake(),
                    "application_id": str(APP_ID),
                    "version": snowflake(),
                    "nsfw": False,
                    **command,
                    # Discord answers permissions as a string, whatever was sent.
                    "default_member_permissions": None if perms is None else str(perms),
                }
            )
        self.commands = commands
        return commands

    # -- interactions -----------------------------------------------------------------------------

    def _interaction(self, iid: str, token: str) -> Interaction:
        found = self.interactions.get(iid)
        if found is None or found.token != token:
            raise UNKNOWN_INTERACTION
        return found

    def _by_token(self, token: str) -> Interaction:
        for interaction in self.interactions.values():
            if interaction.token == token:
                age = time.monotonic() - interaction.sent_at
                if interaction.expired or age > self.token_ttl_s:
                    raise INVALID_TOKEN
                return interaction
        raise ApiError(404, "Unknown Webhook", 10015)

    def callback(self, params: JSON, body: JSON, files: list[SentFile]) -> JSON:
        interaction = self._interaction(params["iid"], params["token"])
        age = time.monotonic() - interaction.sent_at
        if age > self.ack_deadline_s:
            raise UNKNOWN_INTERACTION  # what Discord answers after its 3-second window
        if interaction.response_type is not None:
            raise ALREADY_ACKED
        interaction.answered_after_s = age
        kind = int(body["type"])
        data = body.get("data") or {}
        interaction.response_type = kind
        channel_id = str(interaction.payload.get("channel_id", ""))
        message: Message | None = None
        if kind in (4, 5):
            message = self._new_message(channel_id, data, files, interaction.id)
            message.loading = kind == 5
            interaction.original = message
        elif kind in (6, 7) and interaction.payload["type"] == 3:
            # A component's interaction: its "original" is the message the component is on.
            source = interaction.payload.get("message") or {}
            message = self.messages.get(str(source.get("id")))
            if message is None:
                raise UNKNOWN_MESSAGE
            interaction.original = message
            if kind == 7:
                self._apply_edit(message, data, files)
            else:
                message = None  # a deferred update shows nothing yet
        elif kind == 8:
            interaction.choices = list(data.get("choices", []))
        elif kind == 9:
            interaction.modal = data
        else:
            raise ApiError(400, "Invalid Form Body", 50035)
        answer: JSON = {"interaction": {"id": interaction.id, "type": interaction.payload["type"]}}
        if message is not None:
            answer["interaction"] |= {
                "response_message_id": message.id,
                "response_message_loading": message.loading,
                "response_message_ephemeral": message.ephemeral,
            }
            answer["resource"] = {"type": kind, "message": message.to_json()}
        return answer

    def _new_message(
        self, channel_id: str, data: JSON, files: list[SentFile], interaction_id: str | None
    ) -> Message:
        self._check_size(files)
        message = Message(
            id=snowflake(),
            channel_id=channel_id,
            content=str(data.get("content") or ""),
            flags=int(data.get("flags") or 0) & EPHEMERAL,
            files=list(files),
            components=list(data.get("components") or []),
            interaction_id=interaction_id,
        )
        message.history.append(message.content)
        self.messages[message.id] = message
        return message

    def _check_size(self, files: list[SentFile]) -> None:
        if sum(len(f.data) for f in files) > self.upload_limit:
            raise TOO_LARGE

    def _apply_edit(self, message: Message, data: JSON, files: list[SentFile]) -> None:
        self._check_size(files)
        if "content" in data:
            message.content = str(data["content"] or "")
        if "components" in data:
            message.components = list(data["components"] or [])
        if "attachments" in data:  # the ones listed stay; new uploads are added
            keep = {str(a.get("id")) for a in data["attachments"] or []}
            message.files = [f for f in message.files if f.id in keep]
        message.files.extend(files)
        message.loading = False
        message.history.append(message.content)

    def _webhook_message(self, params: JSON) -> tuple[Interaction, Message]:
        interaction = self._by_token(params["token"])
        mid = params["mid"]
        if mid == "@original":
            message = interaction.original
        else:
            message = self.messages.get(mid)
            if message is not None and message.interaction_id != interaction.id:
                message = None
        if message is None or message.deleted:
            raise UNKNOWN_MESSAGE
        return interaction, message

    def get_webhook_message(self, params: JSON, body: JSON, files: list[SentFile]) -> JSON:
        return self._webhook_message(params)[1].to_json()

    def edit_webhook_message(self, params: JSON, body: JSON, files: list[SentFile]) -> JSON:
        _, message = self._webhook_message(params)
        self._apply_edit(message, body, files)
        return message.to_json()

    def delete_webhook_message(self, params: JSON, body: JSON, files: list[SentFile]) -> None:
        _, message = self._webhook_message(params)
        message.deleted = True

    def followup(self, params: JSON, body: JSON, files: list[SentFile]) -> JSON:
        interaction = self._by_token(params["token"])
        if interaction.response_type is None:
            raise UNKNOWN_WEBHOOK_BEFORE_ACK
        original = interaction.original
        if original is not None and original.loading and not original.deleted:
            self._apply_edit(original, body, files)  # Discord: the first followup ends "thinking"
            return original.to_json()
        channel_id = str(interaction.payload.get("channel_id", ""))
        message = self._new_message(channel_id, body, files, interaction.id)
        interaction.followups.append(message)
        return message.to_json()

    # -- channels and DMs ---------------------------------------------------------------------

    def open_dm(self, params: JSON, body: JSON, files: list[SentFile]) -> JSON:
        user_id = str(body["recipient_id"])
        channel_id = self.dm_channels.setdefault(user_id, snowflake())
        return {
            "id": channel_id,
            "type": 1,
            "last_message_id": None,
            "recipients": [
                {
                    "id": user_id,
                    "username": "user",
                    "discriminator": "0",
                    "global_name": None,
                    "avatar": None,
                }
            ],
        }

    def channel_message(self, params: JSON, body: JSON, files: list[SentFile]) -> JSON:
        channel_id = params["cid"]
        dm_users = [u for u, c in self.dm_channels.items() if c == channel_id]
        if dm_users and dm_users[0] in self.closed_dms:
            raise DMS_CLOSED
        if not dm_users and channel_id not in self.postable_channels:
            raise MISSING_ACCESS
        return self._new_message(channel_id, body, files, None).to_json()


UNKNOWN_WEBHOOK_BEFORE_ACK = ApiError(404, "Unknown Webhook", 10015)

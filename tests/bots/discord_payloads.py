"""INTERACTION_CREATE payloads as Discord sends them: slash commands (with attachments),
autocomplete, button clicks and modal submits, in a server channel, the bot's DM or a private
channel. ``FakeDiscord.dispatch`` adds the id and token."""

from __future__ import annotations

from typing import Any

from tests.bots.discord_objects import (
    APP_ID,
    ATTACH_FILES,
    JSON,
    MANAGE_GUILD,
    SEND_MESSAGES,
    TIMESTAMP,
    VIEW_CHANNEL,
    FakeUser,
    Message,
    Place,
)

MB = 1024 * 1024
ALL_USER_PERMISSIONS = (1 << 41) - 1


def _base(kind: int, user: FakeUser, place: Place, size_limit: int) -> JSON:
    """What every interaction carries: who, where, and what the app may do there."""
    payload: JSON = {
        "type": kind,
        "application_id": str(APP_ID),
        "version": 1,
        "locale": "en-US",
        "attachment_size_limit": size_limit,
        "entitlements": [],
        "context": place.context,
        "channel_id": str(place.channel_id),
    }
    owners: JSON = {"1": str(user.id)}  # installed to the user ...
    if place.kind == "guild":
        assert place.guild_id is not None
        bot_perms = VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES if place.bot_installed else 0
        user_perms = ALL_USER_PERMISSIONS if place.admin else VIEW_CHANNEL | SEND_MESSAGES
        if place.bot_installed:
            owners["0"] = str(place.guild_id)  # ... and to the server
        payload |= {
            "guild_id": str(place.guild_id),
            "guild_locale": "en-US",
            "app_permissions": str(bot_perms),
            "channel": {
                "id": str(place.channel_id),
                "type": 0,
                "guild_id": str(place.guild_id),
                "name": "swaps",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "flags": 0,
                "permissions": str(user_perms & ~(0 if place.admin else MANAGE_GUILD)),
            },
            "member": {
                "user": user.to_json(),
                "roles": [],
                "joined_at": TIMESTAMP,
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(user_perms),
            },
        }
    else:
        channel_type = 1 if place.kind == "dm" else 3
        payload |= {
            "app_permissions": str(VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES),
            "channel": {
                "id": str(place.channel_id),
                "type": channel_type,
                "recipients": [user.to_json()],
                "last_message_id": None,
                "flags": 0,
                **(
                    {"name": "friends", "icon": None, "owner_id": str(user.id)}
                    if channel_type == 3
                    else {}
                ),
            },
            "user": user.to_json(),
        }
    payload["authorizing_integration_owners"] = owners
    return payload


def _channel(channel_id: str, place: Place) -> JSON:
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": str(place.guild_id),
        "name": "swaps",
        "permissions": str(VIEW_CHANNEL | SEND_MESSAGES),
        "parent_id": None,
        "flags": 0,
    }


def slash_command(
    name: str,
    user: FakeUser,
    place: Place,
    options: dict[str, Any] | None = None,
    *,
    sub: list[str] | None = None,
    size_limit: int = 10 * MB,
    focused: str | None = None,
) -> JSON:
    """``/name [sub ...] option:value``; attachment values are ``FakeDiscord.upload`` objects.
    ``focused`` names the option being typed: an autocomplete interaction instead."""
    resolved: JSON = {}
    opts: list[JSON] = []
    for key, value in (options or {}).items():
        if isinstance(value, dict):  # an attachment
            resolved.setdefault("attachments", {})[value["id"]] = value
            opts.append({"name": key, "type": 11, "value": value["id"]})
        else:
            kind = 4 if isinstance(value, int) and not isinstance(value, bool) else 3
            kind = 7 if str(value).startswith("<#") else kind  # a channel: "<#123>"
            given = str(value).strip("<#>") if kind == 7 else value
            if kind == 7:
                resolved.setdefault("channels", {})[given] = _channel(str(given), place)
            opt: JSON = {"name": key, "type": kind, "value": given}
            if key == focused:
                opt["focused"] = True
            opts.append(opt)
    for group in reversed(sub or []):
        opts = [{"name": group, "type": 1, "options": opts}]
    data: JSON = {"id": str(APP_ID + 7), "name": name, "type": 1, "options": opts}
    if resolved:
        data["resolved"] = resolved
    return _base(4 if focused else 2, user, place, size_limit) | {"data": data}


def button_click(
    message: Message, custom_id: str, user: FakeUser, place: Place, size_limit: int = 10 * MB
) -> JSON:
    return _base(3, user, place, size_limit) | {
        "data": {"custom_id": custom_id, "component_type": 2},
        "message": message.to_json(),
    }


def modal_submit(
    custom_id: str,
    components: list[JSON],
    user: FakeUser,
    place: Place,
    *,
    attachments: list[JSON] | None = None,
    size_limit: int = 10 * MB,
) -> JSON:
    data: JSON = {"custom_id": custom_id, "components": components}
    if attachments:
        data["resolved"] = {"attachments": {a["id"]: a for a in attachments}}
    return _base(5, user, place, size_limit) | {"data": data}

"""Playing the user in a chat with the bot against the fake Bot API: who is talking, and
waiting for what the bot shows (each step waits for the bot's answer to it, never for an older
message with the same text)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bots.telegram import texts
from tests.bots.fake_telegram import FakeTelegram
from tests.bots.telegram_objects import Call, ChatMessage, FakeChat, FakeUser, SentMedia

ALICE = FakeUser(id=1001, first_name="Alice", username="alice")
BOB = FakeUser(id=1002, first_name="Bob", username="bob")
GROUP = FakeChat.group(-4001, "Friends")
MB = 1024 * 1024
CLOUD_LIMITS = (20 * MB, 50 * MB)  # what Telegram's cloud Bot API lets a bot fetch / send
# The calls that put a text in front of the user (a new message or an edit).
SHOWING = frozenset(("sendMessage", "editMessageText", "sendAnimation", "editMessageCaption"))


# --- the user's side -------------------------------------------------------------------------


def shows_text(call: Call, chat_id: int, text: str) -> bool:
    if not call.ok or call.method not in SHOWING:
        return False
    if int(str(call.params.get("chat_id"))) != chat_id:
        return False
    return text in str(call.params.get("text") or call.params.get("caption") or "")


async def bot_says(
    fake: FakeTelegram, chat_id: int, text: str, *, after: int, timeout: float = 30.0
) -> ChatMessage:
    """The bot's message in the chat that came to show ``text`` (sent or edited by a call
    recorded from index ``after`` on), as the user sees it now."""

    def find() -> Call | None:
        return next((c for c in fake.calls[after:] if shows_text(c, chat_id, text)), None)

    try:
        await asyncio.to_thread(fake.wait_until, lambda: find() is not None, timeout)
    except TimeoutError:
        seen = [m.content for m in fake.messages_in(chat_id)]
        raise AssertionError(
            f"the bot never said {text!r} in chat {chat_id}; chat: {seen}"
        ) from None
    call = find()
    assert call is not None
    message_id = call.result["message_id"]
    shown = {m.message_id: m for m in fake.messages_in(chat_id)}
    assert message_id in shown, f"message {message_id} is not in the chat any more"
    assert text in shown[message_id].content
    return shown[message_id]


async def exchange(
    fake: FakeTelegram, chat_id: int, send: Callable[[], object], answer: str, timeout: float = 30
) -> ChatMessage:
    """Do ``send`` (play the user), then wait for the bot's message showing ``answer``."""
    mark = fake.mark()
    send()
    return await bot_says(fake, chat_id, answer, after=mark, timeout=timeout)


async def clip_sent(fake: FakeTelegram, chat_id: int, *, after: int) -> SentMedia:
    """The animation the bot sent in the chat (after call ``after``); its status message is
    gone once the delivery is over."""

    def in_chat(call: Call) -> bool:
        return call.ok and int(str(call.params.get("chat_id"))) == chat_id

    call = await fake.await_call("sendAnimation", in_chat, timeout=60, after=after)
    await fake.await_call("deleteMessage", in_chat, timeout=30, after=after)
    [media] = [m for m in fake.sent_media(chat_id) if m.message_id == call.result["message_id"]]
    assert media.kind == "animation"
    assert media.caption is not None and media.caption.startswith("Here you go! Share it: ")
    assert not any(
        m.content.startswith(("Got it!", "Queued", "Swapping", "Sending"))
        for m in fake.bot_messages_in(chat_id)
    ), "a status message stayed in the chat"
    return media


def job_of(media: SentMedia) -> str:
    caption = str(media.caption)
    return caption.split("/m/jobs/")[1].split("/", maxsplit=1)[0]


def agree(
    fake: FakeTelegram, user: FakeUser, question: ChatMessage, chat: FakeChat | None = None
) -> int:
    """Press "yes" on the one-time consent question; returns the mark before the press."""
    assert question.content == texts.CONSENT
    assert question.buttons == ((texts.CONSENT_YES, texts.CONSENT_NO),)
    mark = fake.mark()
    fake.press_button(user, chat, question.message_id, question.callback_data[texts.CONSENT_YES])
    return mark


def as_telegram_animation(gif: Path, folder: Path) -> bytes:
    """A GIF as Telegram delivers it: an MP4 ``animation``."""
    from core.config import MediaLimits
    from gpu_worker.media import load_clip, save_clip

    mp4 = folder / f"{gif.stem}.mp4"
    save_clip(load_clip(gif, MediaLimits()), mp4)
    return mp4.read_bytes()

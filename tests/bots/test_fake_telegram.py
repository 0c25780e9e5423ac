"""The fake Bot API against the real python-telegram-bot client: ``Bot`` calls and an
``Application`` polling it, as our bot will run in end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import warnings
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
import telegram
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from tests.bots.telegram_objects import FakeChat, FakeUser
from tests.web.server import serve

if TYPE_CHECKING:
    from tests.bots.fake_telegram import FakeTelegram


ALICE = FakeUser(501, first_name="Alice", username="alice")
CHAT = ALICE.private_chat()
CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8  # bytes stand for an MP4

AnyApp = Application[Any, Any, Any, Any, Any, Any]


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 20))


@contextlib.asynccontextmanager
async def polling(fake: FakeTelegram, *handlers: Any) -> AsyncIterator[AnyApp]:
    """A real PTB Application polling the fake (as ``run_polling`` does, without its signals)."""
    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.api_base_url)
        .base_file_url(fake.file_base_url)
        .build()
    )
    app.add_handlers(handlers)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=2)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


def test_get_me(fake_telegram: FakeTelegram) -> None:
    async def scenario() -> telegram.User:
        async with fake_telegram.make_bot() as bot:
            return await bot.get_me()

    me = run(scenario())
    assert (me.id, me.username, me.is_bot, me.can_join_groups) == (
        123456,
        "swapzy_test_bot",
        True,
        True,
    )
    assert fake_telegram.calls_to("getMe")[0].ok


def test_polled_animation_reaches_the_handler_and_downloads(fake_telegram: FakeTelegram) -> None:
    received: list[tuple[str, bytes]] = []

    async def on_animation(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.animation is not None
        file = await context.bot.get_file(message.animation.file_id)
        received.append(
            (message.animation.file_name or "", bytes(await file.download_as_bytearray()))
        )
        await message.reply_text("Got your GIF")

    async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        raise AssertionError("the animation filter comes first")

    async def scenario() -> None:
        handlers = (
            MessageHandler(filters.ANIMATION, on_animation),
            MessageHandler(filters.Document.ALL, on_document),
        )
        async with polling(fake_telegram, *handlers):
            update = fake_telegram.send_animation(ALICE, None, CLIP, caption="swap me")
            assert (
                update["message"]["document"]["file_id"]
                == update["message"]["animation"]["file_id"]
            )
            reply = await fake_telegram.await_call("sendMessage", timeout=10)
            assert reply.params["chat_id"] == CHAT.id

    run(scenario())
    assert received == [("animation.gif.mp4", CLIP)]
    assert fake_telegram.pending_updates() == []  # confirmed by the next getUpdates' offset
    assert fake_telegram.calls_to("deleteWebhook")  # PTB's polling bootstrap
    chat = fake_telegram.messages_in(CHAT.id)
    assert [(m.from_bot, m.media_kind, m.content) for m in chat] == [
        (False, "animation", "swap me"),
        (True, None, "Got your GIF"),
    ]
    assert chat[0].media == CLIP


def test_command_button_press_and_edit(fake_telegram: FakeTelegram) -> None:
    answered: list[str] = []

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Swap", callback_data="swap:1")]])
        await update.effective_message.reply_text("Send a GIF", reply_markup=keyboard)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        answered.append(query.data)
        await query.answer("Working on it")
        await query.edit_message_text("Swapping…")  # no reply_markup: the keyboard goes away

    async def scenario() -> None:
        handlers = (CommandHandler("start", on_start), CallbackQueryHandler(on_button))
        async with polling(fake_telegram, *handlers):
            fake_telegram.send_command(ALICE, CHAT, "/start")
            sent = await fake_telegram.await_call("sendMessage", timeout=10)
            assert fake_telegram.bot_messages_in(CHAT.id)[0].buttons == (("Swap",),)
            fake_telegram.press_button(ALICE, CHAT, sent.result["message_id"], "swap:1")
            await fake_telegram.await_call("editMessageText", timeout=10)

    run(scenario())
    assert answered == ["swap:1"]
    assert [call.params["text"] for call in fake_telegram.calls_to("answerCallbackQuery")] == [
        "Working on it"
    ]
    [bot_message] = fake_telegram.bot_messages_in(CHAT.id)
    assert (bot_message.text, bot_message.buttons, bot_message.edited) == ("Swapping…", (), True)
    with pytest.raises(ValueError, match="no button"):
        fake_telegram.press_button(ALICE, CHAT, bot_message.message_id, "swap:1")


def test_edit_with_the_same_text_is_not_modified(fake_telegram: FakeTelegram) -> None:
    fake_telegram.add_chat(CHAT)

    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            message = await bot.send_message(CHAT.id, "<b>Queued</b> &amp; waiting", "HTML")
            assert message.text == "Queued & waiting"
            with pytest.raises(BadRequest, match="Message is not modified"):
                await bot.edit_message_text("Queued & waiting", CHAT.id, message.message_id)
            edited = await bot.edit_message_text("Done", CHAT.id, message.message_id)
            assert isinstance(edited, telegram.Message) and edited.text == "Done"
            with pytest.raises(BadRequest, match="Message to edit not found"):
                await bot.edit_message_text("Done", CHAT.id, message.message_id + 5)
            with pytest.raises(BadRequest, match="Can't parse entities"):
                await bot.send_message(CHAT.id, "<blink>no</blink>", "HTML")
            with pytest.raises(BadRequest, match="Chat not found"):
                await bot.send_message(999, "hello")
            assert await bot.send_chat_action(CHAT.id, "upload_video")
            with pytest.raises(BadRequest, match="Wrong parameter action"):
                await bot.send_chat_action(CHAT.id, "dancing")
            second = await bot.send_message(CHAT.id, "temporary")
            assert await bot.delete_message(CHAT.id, second.message_id)
            with pytest.raises(BadRequest, match="Message to delete not found"):
                await bot.delete_message(CHAT.id, second.message_id)

    run(scenario())
    assert [m.text for m in fake_telegram.messages_in(CHAT.id)] == ["Done"]
    failed = [call.method for call in fake_telegram.calls if not call.ok]
    assert failed.count("editMessageText") == 2


def test_send_animation_is_recorded_and_shown(fake_telegram: FakeTelegram) -> None:
    group = FakeChat.group(-4001, "Friends")
    fake_telegram.add_chat(group)
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Again", callback_data="again")],
            [InlineKeyboardButton("Share", url="https://swapzy.example/s/abc")],
        ]
    )

    async def scenario() -> telegram.Message:
        async with fake_telegram.make_bot() as bot:
            return await bot.send_animation(
                group.id, CLIP, caption="Done!", filename="swap.mp4", reply_markup=keyboard
            )

    message = run(scenario())
    assert message.animation is not None and message.animation.file_size == len(CLIP)
    assert message.reply_markup == keyboard
    call = fake_telegram.calls_to("sendAnimation")[0]
    assert (call.files["animation"], call.file_names["animation"]) == (CLIP, "swap.mp4")
    [media] = fake_telegram.sent_media(group.id)
    assert (media.kind, media.data, media.file_name, media.caption) == (
        "animation",
        CLIP,
        "swap.mp4",
        "Done!",
    )
    assert media.buttons == [["Again"], ["Share"]]
    [shown] = fake_telegram.messages_in(group.id)
    assert (shown.media_kind, shown.media, shown.caption) == ("animation", CLIP, "Done!")
    assert shown.buttons == (("Again",), ("Share",))
    assert shown.callback_data == {"Again": "again"}


def test_limits_and_tokens(fake_telegram: FakeTelegram) -> None:
    fake_telegram.add_chat(CHAT)
    fake_telegram.download_limit_bytes = 1000
    fake_telegram.upload_limit_bytes = 1000
    big = fake_telegram.add_file(b"x" * 2000, mime_type="video/mp4", file_name="big.mp4")
    small = fake_telegram.add_file(b"y" * 10, mime_type="video/mp4", file_name="small.mp4")
    wrong = telegram.Bot(
        "654321:WRONG-token",
        base_url=fake_telegram.api_base_url,
        base_file_url=fake_telegram.file_base_url,
    )

    async def scenario() -> None:
        try:
            with pytest.raises(InvalidToken, match="was rejected by the server"):
                await wrong.initialize()  # its getMe answered 401 Unauthorized
        finally:
            await wrong.shutdown()
        async with fake_telegram.make_bot() as bot:
            with pytest.raises(BadRequest, match="File is too big"):
                await bot.get_file(big.file_id)
            assert await (await bot.get_file(small.file_id)).download_as_bytearray() == b"y" * 10
            with pytest.raises(NetworkError, match="Request Entity Too Large"):
                await bot.send_document(CHAT.id, b"z" * 2000, filename="big.bin")
            with pytest.raises(EndPointNotFound, match="noSuchMethod"):  # our 404 Not Found
                await bot.do_api_request("noSuchMethod")
            with pytest.raises(BadRequest, match="Button_data_invalid"):
                markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
                await bot.send_message(CHAT.id, "hi", reply_markup=markup)

    run(scenario())
    assert fake_telegram.calls[0].status == 401
    assert fake_telegram.downloads == [small.file_path]


def test_long_poll_returns_as_soon_as_an_update_is_queued(fake_telegram: FakeTelegram) -> None:
    async def scenario() -> tuple[float, list[Update], list[Update]]:
        async with fake_telegram.make_bot() as bot:
            started = time.monotonic()
            poll = asyncio.create_task(bot.get_updates(timeout=3))
            await asyncio.to_thread(
                fake_telegram.wait_until, lambda: fake_telegram.polls_waiting == 1, 10
            )
            fake_telegram.send_text(ALICE, None, "hello")
            first = await poll
            elapsed = time.monotonic() - started
            again = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
            return elapsed, list(first), list(again)

    elapsed, first, again = run(scenario())
    assert elapsed < 2.5
    assert [u.effective_message.text for u in first if u.effective_message] == ["hello"]
    assert again == [] and fake_telegram.pending_updates() == []


def test_webhook_mode(fake_telegram: FakeTelegram) -> None:
    seen: list[tuple[str | None, dict[str, Any]]] = []

    async def webhook(request: Request) -> JSONResponse:
        seen.append((request.headers.get("x-telegram-bot-api-secret-token"), await request.json()))
        return JSONResponse({})

    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            await bot.set_webhook("https://swapzy.example/telegram", secret_token="s3cret_1")
            info = await bot.get_webhook_info()
            assert info.url == "https://swapzy.example/telegram"
            with pytest.raises(Conflict, match="webhook is active"):
                await bot.get_updates()
            with pytest.raises(BadRequest, match="an https url must be provided"):
                await bot.set_webhook("http://swapzy.example/telegram")

    run(scenario())
    update = fake_telegram.send_text(ALICE, None, "via webhook")
    with serve(Starlette(routes=[Route("/hook", webhook, methods=["POST"])])) as base:
        response = fake_telegram.post_update_to(f"{base}/hook", update)
    assert response.status_code == 200
    assert seen == [("s3cret_1", update)]


def test_user_updates_parse_in_ptb_and_match_its_filters(fake_telegram: FakeTelegram) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), "white").save(buffer, "JPEG")
    bot = fake_telegram.make_bot()
    cases = [
        (fake_telegram.send_command(ALICE, CHAT, "/swap now"), filters.COMMAND),
        (fake_telegram.send_photo(ALICE, CHAT, buffer.getvalue()), filters.PHOTO),
        (fake_telegram.send_video(ALICE, CHAT, CLIP), filters.VIDEO),
        (
            fake_telegram.send_document(ALICE, CHAT, b"%PDF-1.4", "application/pdf", "a.pdf"),
            filters.Document.PDF,
        ),
        (fake_telegram.send_animation(ALICE, CHAT, CLIP), filters.ANIMATION),
    ]
    for data, message_filter in cases:
        update = Update.de_json(data, bot)
        assert message_filter.check_update(update), data
    photo_update = Update.de_json(cases[1][0], bot)
    assert photo_update.message is not None
    sizes = [(p.width, p.height) for p in photo_update.message.photo]
    assert sizes[-1] == (640, 480) and sizes == sorted(sizes)
    ids = [data["update_id"] for data, _ in cases]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [m.message_id for m in fake_telegram.messages_in(CHAT.id)] == [1, 2, 3, 4, 5]


def test_other_media_caption_edits_and_resending_by_file_id(fake_telegram: FakeTelegram) -> None:
    fake_telegram.add_chat(CHAT)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buffer, "JPEG")
    jpeg = buffer.getvalue()

    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            photo = await bot.send_photo(CHAT.id, jpeg, caption="<i>Preview</i>", parse_mode="HTML")
            assert (photo.photo[-1].width, photo.photo[-1].height) == (64, 48)
            assert photo.caption == "Preview"
            video = await bot.send_video(CHAT.id, CLIP, filename="swap.mp4", duration=3)
            assert video.video is not None  # (reading .duration warns unless PTB_TIMEDELTA=1)
            edited = await bot.edit_message_caption(CHAT.id, video.message_id, caption="Swapped")
            assert isinstance(edited, telegram.Message) and edited.caption == "Swapped"
            with pytest.raises(BadRequest, match="Message is not modified"):
                await bot.edit_message_caption(CHAT.id, video.message_id, caption="Swapped")
            resent = await bot.send_document(CHAT.id, video.video.file_id)
            assert resent.document is not None
            assert resent.document.file_unique_id == video.video.file_unique_id
            with pytest.raises(BadRequest, match="Wrong file identifier"):
                await bot.send_document(CHAT.id, "AgADnot-a-file")

    run(scenario())
    shown = [(m.media_kind, m.caption, m.media) for m in fake_telegram.messages_in(CHAT.id)]
    assert shown == [
        ("photo", "Preview", jpeg),
        ("video", "Swapped", CLIP),
        ("document", None, CLIP),
    ]
    assert [media.kind for media in fake_telegram.sent_media()] == ["photo", "video", "document"]
    assert fake_telegram.calls_to("sendVideo")[0].result["video"]["duration"] == 3


def test_wire_formats_and_error_bodies(fake_telegram: FakeTelegram) -> None:
    fake_telegram.add_chat(CHAT)
    api = f"{fake_telegram.api_base_url}{fake_telegram.token}"
    markup = '{"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}'
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{api}/getMe").json()["result"]["username"] == "swapzy_test_bot"
        as_json = client.post(f"{api}/sendMessage", json={"chat_id": str(CHAT.id), "text": "1"})
        assert as_json.json()["result"]["text"] == "1"
        as_form = client.post(
            f"{api}/sendMessage", data={"chat_id": CHAT.id, "text": "2", "reply_markup": markup}
        )
        assert as_form.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Go"
        unknown = client.post(f"{api}/sendTelepathy")
        wrong = client.post(f"{fake_telegram.api_base_url}123:nope/getMe")
        malformed = client.post(f"{fake_telegram.api_base_url}nope/getMe")
        misrouted = client.post(f"{api}/bot{fake_telegram.token}/getMe")  # token joined twice
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert (wrong.status_code, wrong.json()["description"]) == (401, "Unauthorized")
    assert malformed.status_code == 404
    assert misrouted.status_code == 404
    assert fake_telegram.calls[-1].method.startswith("<unrouted /bot123456:")
    assert [m.text for m in fake_telegram.messages_in(CHAT.id)] == ["1", "2"]
    assert fake_telegram.bot_messages_in(CHAT.id)[1].callback_data == {"Go": "go"}

    fake_telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)

    async def scenario() -> None:
        async with fake_telegram.make_bot() as bot:
            # PTB 22 warns about its future timedelta type while building RetryAfter.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                with pytest.raises(RetryAfter, match="Retry in 7"):
                    await bot.send_message(CHAT.id, "3")
            assert (await bot.send_message(CHAT.id, "3")).text == "3"

    run(scenario())
    assert [call.status for call in fake_telegram.calls_to("sendMessage")] == [200, 200, 429, 200]

"""The Telegram bot's two run modes as they are deployed, against the fake Bot API:

- webhook: the real web app (``web.main.build_app``) with the token and webhook secret set,
  served by uvicorn; the fake POSTs updates to it like Telegram does;
- polling: ``swapzy bot telegram`` as a separate process, stopped with SIGTERM.

Both with a real ``swapzy worker`` (``noop`` engine) making the clips. Assertions are on what
the user sees in the chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bots.telegram import texts
from bots.telegram.app import SECRET_HEADER, WEBHOOK_PATH
from tests.bots.fake_telegram import FakeTelegram
from tests.bots.telegram_chat import (
    ALICE,
    agree,
    as_telegram_animation,
    bot_says,
    clip_sent,
    exchange,
)
from tests.bots.telegram_objects import JSON
from tests.cli.test_swap_cli import assert_one_clean_line, swapzy
from tests.conftest import SampleFiles
from tests.fixtures_redis import Valkey
from tests.jobs.service import REPO, Service, service, to_env, wait_until
from tests.web.server import base_url, bind_free_socket, serve
from web.main import build_app

# What @BotFather-style secrets look like: Telegram allows A-Z, a-z, 0-9, _ and -.
SECRET = "s3cret-webhook_token-42"
STOP_WITHIN_S = 10.0  # SIGTERM to exit (it takes well under a second: a long poll is cut short)


# --- webhook mode -----------------------------------------------------------------------------


@dataclass
class WebhookSite:
    hook: str  # where the web app is reached (http; the TLS proxy in front is not played)
    public_url: str  # what Telegram is told (https)
    svc: Service


@contextlib.contextmanager
def webhook_site(
    tmp_path: Path, redis_url: str, sqlite_url: str, fake: FakeTelegram
) -> Iterator[WebhookSite]:
    """``swapzy web`` with the bot in webhook mode, and a worker. Telegram only calls HTTPS
    webhooks, so ``public_url`` is the bound socket's address as a TLS proxy would publish it."""
    sock = bind_free_socket()
    public_url = base_url(sock).replace("http://", "https://", 1)
    with service(
        tmp_path,
        redis_url,
        sqlite_url,
        public_url=public_url,
        telegram_token=fake.token,
        telegram_api_url=fake.url,
        telegram_webhook_secret=SECRET,
    ) as svc:
        svc.start_worker()
        with serve(build_app(svc.settings), sock) as base:
            yield WebhookSite(f"{base}{WEBHOOK_PATH}", public_url, svc)


@pytest.fixture(scope="session")
def gif_mp4(tmp_path_factory: pytest.TempPathFactory, sample_files: SampleFiles) -> bytes:
    return as_telegram_animation(sample_files.target, tmp_path_factory.mktemp("telegram"))


@pytest.fixture
def face(sample_files: SampleFiles) -> bytes:
    return sample_files.source.read_bytes()


def test_webhook_mode_registers_checks_the_secret_and_makes_clips(
    tmp_path: Path,
    valkey: Valkey,
    sqlite_url: str,
    fake_telegram: FakeTelegram,
    gif_mp4: bytes,
    face: bytes,
) -> None:
    fake, chat = fake_telegram, ALICE.id

    def post(update: JSON) -> Callable[[], None]:
        def send() -> None:
            response = fake.post_update_to(site.hook, update)
            assert response.status_code == 200, response.text

        return send

    async def scenario() -> None:
        # The web app told Telegram where to send updates, with the secret and the two kinds.
        [registered] = fake.calls_to("setWebhook")
        assert registered.ok
        assert fake.webhook is not None
        assert fake.webhook["url"] == f"{site.public_url}/telegram/webhook"
        assert fake.webhook["secret_token"] == SECRET
        assert fake.webhook["allowed_updates"] == ["message", "callback_query"]

        # Without the secret, or with a wrong one: 403 and the update goes nowhere.
        mark = fake.mark()
        helping = fake.send_command(ALICE, None, "/help")
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.post(site.hook, json=helping)).status_code == 403
            empty = {SECRET_HEADER: ""}
            assert (await http.post(site.hook, json=helping, headers=empty)).status_code == 403
        for wrong in (SECRET + "x", SECRET[:-1], "nope"):
            refused = fake.post_update_to(site.hook, helping, secret_token=wrong)
            assert refused.status_code == 403
        assert fake.calls[mark:] == []
        # The right secret and a body that is not an update: 400, and nothing either.
        async with httpx.AsyncClient(timeout=10) as http:
            garbled = await http.post(
                site.hook, content=b"{not json", headers={SECRET_HEADER: SECRET}
            )
        assert garbled.status_code == 400
        assert fake.calls[mark:] == []

        # With it: 200 at once, before the bot has answered (the fake answers no call while
        # its lock is held), then the answer.
        starting = fake.send_command(ALICE, None, "/start")
        with fake._lock:
            answered = fake.post_update_to(site.hook, starting)
            assert answered.status_code == 200
            assert fake.calls[mark:] == []
        shown = await bot_says(fake, chat, texts.START, after=mark)
        assert shown.content == texts.START
        # The refused /help never reached the bot.
        assert not any(m.content == texts.HELP for m in fake.bot_messages_in(chat))

        # A whole swap through the webhook: GIF, face, consent, the clip.
        await exchange(fake, chat, post(fake.send_animation(ALICE, None, gif_mp4)), texts.NEED_FACE)
        question = await exchange(
            fake, chat, post(fake.send_photo(ALICE, None, face)), texts.CONSENT
        )
        mark = agree(fake, ALICE, question)
        # press_button queued the callback query; Telegram POSTs it to the webhook.
        [*_, pressed] = fake.pending_updates()
        assert pressed["callback_query"]["data"] == "consent:yes"
        post(pressed)()
        clip = await clip_sent(fake, chat, after=mark)
        # The share link is the web app's own, and it serves the clip.
        link = str(clip.caption).removeprefix("Here you go! Share it: ")
        assert link.startswith(f"{site.public_url}/m/jobs/")
        local = link.replace(site.public_url, site.hook.removesuffix(WEBHOOK_PATH), 1)
        async with httpx.AsyncClient(timeout=10) as http:
            served = await http.get(local)
        assert served.status_code == 200
        assert served.content == clip.data
        assert fake.calls_to("getUpdates") == []  # nobody polls in webhook mode

    with webhook_site(tmp_path, valkey.url, sqlite_url, fake) as site:
        asyncio.run(scenario())


# --- polling mode: ``swapzy bot telegram`` ---------------------------------------------------


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def bot_process(svc: Service, log: Path) -> Iterator[BotProcess]:
    """``swapzy bot telegram`` with the service's settings (INFO logging to ``log``); killed
    at the end if the test left it running."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "bot", "telegram"],
            env=to_env(svc.values),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    bot = BotProcess(process, log)
    try:
        yield bot
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_swapzy_bot_telegram_polls_makes_clips_and_stops_on_sigterm(
    tmp_path: Path,
    valkey: Valkey,
    sqlite_url: str,
    fake_telegram: FakeTelegram,
    gif_mp4: bytes,
    face: bytes,
) -> None:
    fake, chat = fake_telegram, ALICE.id
    with (
        service(
            tmp_path,
            valkey.url,
            sqlite_url,
            telegram_token=fake.token,
            telegram_api_url=fake.url,
        ) as svc,
        bot_process(svc, tmp_path / "bot.log") as bot,
    ):
        svc.start_worker()
        wait_until(
            lambda: fake.polls_waiting or bot.process.poll() is not None, "the bot to poll", 60
        )
        assert bot.process.poll() is None, bot.output()
        assert fake.calls_to("deleteWebhook")  # a webhook left over would block getUpdates

        async def chat_with_it() -> None:
            await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/start"), texts.START
            )
            mark = fake.mark()
            gif_message = fake.send_animation(ALICE, None, gif_mp4)
            await bot_says(fake, chat, texts.NEED_FACE, after=mark)
            question = await exchange(
                fake, chat, lambda: fake.send_photo(ALICE, None, face), texts.CONSENT
            )
            # A failure on the way (logged with its traceback), then, trying again, the clip.
            fake.fail_next("getFile", 500, "Internal Server Error")
            await bot_says(fake, chat, texts.OOPS, after=agree(fake, ALICE, question))
            mark = fake.mark()
            fake.send_photo(ALICE, None, face, reply_to=gif_message["message"]["message_id"])
            clip = await clip_sent(fake, chat, after=mark)
            assert clip.caption is not None and "http://127.0.0.1:9/m/jobs/" in clip.caption

        asyncio.run(chat_with_it())

        started = time.monotonic()
        bot.process.send_signal(signal.SIGTERM)
        try:
            code = bot.process.wait(STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {STOP_WITHIN_S:.0f} s after SIGTERM:\n{bot.output()}")
        took = time.monotonic() - started
        output = bot.output()
        assert code == 0, output
        assert took < STOP_WITHIN_S
        assert "telegram bot @swapzy_test_bot polling" in output
        assert "ERROR" in output and "Traceback" in output  # the failure is in the log ...
        assert fake.token not in output  # ... and the token, in every URL, never is
        assert fake.token.split(":")[1] not in output


def test_swapzy_bot_telegram_without_a_token_says_what_to_set(tmp_path: Path) -> None:
    run = swapzy("bot", "telegram", cwd=tmp_path, timeout=60)
    assert run.code == 15
    line = assert_one_clean_line(run)
    assert "SWAPZY_TELEGRAM_TOKEN" in line
    assert run.stdout == ""

"""Billing as a Telegram user lives it, end to end: /pro with their own signed payment link,
the quota refusal with its Pro button, Stripe's webhook on the real web app, "You're Pro now"
in their chat (the Telegram delivery worker), /billing through the real Stripe SDK to a fake
Stripe, and "Your payment failed" with a button that opens the portal."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from billing.links import user_of
from bots.telegram import texts
from tests.billing import stripe_events as se
from tests.billing.fake_stripe import FakeStripe
from tests.bots.fake_telegram import FakeTelegram
from tests.bots.harness import polling_bot
from tests.bots.telegram_chat import ALICE, agree, exchange
from tests.bots.telegram_objects import ChatMessage
from tests.conftest import SampleFiles
from tests.fixtures_redis import Valkey
from tests.jobs.service import Service, service
from tests.web.server import serve
from web.main import build_app

KEY = "sk_test_51Qswapzy"
WEBHOOK_SECRET = "whsec_test_" + "w" * 32
REFERENCE_SECRET = "reference-secret-" * 3
PRO_LINK = "https://buy.stripe.com/test_14k9BD5Hc"


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe(api_key=KEY, customers={"cus_alice"}) as fake:
        yield fake


@pytest.fixture
def svc(
    tmp_path: Path,
    valkey: Valkey,
    sqlite_url: str,
    fake_telegram: FakeTelegram,
    fake_stripe: FakeStripe,
) -> Iterator[Service]:
    with service(
        tmp_path, valkey.url, sqlite_url,
        telegram_token=fake_telegram.token, telegram_api_url=fake_telegram.url,
        stripe_api_key=KEY, stripe_api_url=fake_stripe.url,
        stripe_webhook_secret=WEBHOOK_SECRET, billing_reference_secret=REFERENCE_SECRET,
        stripe_payment_links={"pro": PRO_LINK}, free_swaps_per_day=1,
    ) as s:  # fmt: skip
        yield s


def _url_button(message: ChatMessage) -> str:
    [[button]] = message.raw["reply_markup"]["inline_keyboard"]
    return str(button["url"])


async def _stripe_sends(base: str, event: se.Event) -> None:
    payload = se.body(event)
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{base}/stripe/webhook",
            content=payload,
            headers={"Stripe-Signature": se.signature(payload, WEBHOOK_SECRET)},
        )
    assert answer.status_code == 200, answer.text


def test_from_free_to_pro_and_a_failed_payment_in_the_chat(
    svc: Service, fake_telegram: FakeTelegram, sample_files: SampleFiles
) -> None:
    fake, chat = fake_telegram, ALICE.id
    gif, face = sample_files.target.read_bytes(), sample_files.source.read_bytes()
    settings = svc.settings

    async def swap(first: bool) -> ChatMessage:
        await exchange(
            fake, chat, lambda: fake.send_document(ALICE, None, gif, "image/gif", "d.gif"),
            texts.NEED_FACE,
        )  # fmt: skip
        if not first:
            mark = fake.mark()
            fake.send_document(ALICE, None, face, "image/jpeg", "me.jpg")
            return await _says(mark, "free swaps today")
        question = await exchange(
            fake, chat, lambda: fake.send_document(ALICE, None, face, "image/jpeg", "me.jpg"),
            texts.CONSENT,
        )  # fmt: skip
        return await _says(agree(fake, ALICE, question), "Queued")

    async def _says(mark: int, text: str) -> ChatMessage:
        from tests.bots.telegram_chat import bot_says

        return await bot_says(fake, chat, text, after=mark)

    async def scenario(base: str) -> None:
        async with polling_bot(settings):
            await swap(first=True)  # no worker: it waits in the queue, counted
            refused = await swap(first=False)
            assert refused.content == (
                "You've used your 1 free swaps today. Get /pro for more, or try again tomorrow."
            )
            assert refused.buttons == ((texts.BUTTON_PRO,),)

            offer = await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/pro"), "Swapzy Pro:"
            )
            assert offer.buttons == ((texts.BUTTON_SUBSCRIBE,),)
            link = _url_button(offer)
            assert link.startswith(PRO_LINK + "?client_reference_id=sz1_")
            (reference,) = parse_qs(urlsplit(link).query)["client_reference_id"]
            assert user_of(REFERENCE_SECRET, reference) is not None
            await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/billing"),
                texts.BILLING_NONE,
            )  # fmt: skip

            # Alice pays; Stripe calls the web app with her reference from the link.
            mark = fake.mark()
            await _stripe_sends(base, se.checkout_completed(reference, "cus_alice", "sub_a"))
            news = await _says(mark, texts.NOTICES["pro_now"])
            assert news.content == texts.NOTICES["pro_now"]
            await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/pro"), texts.PRO_ALREADY
            )
            portal = await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/billing"),
                texts.BILLING_LINK,
            )  # fmt: skip
            assert _url_button(portal).startswith("https://billing.stripe.com/p/session/")

            mark = fake.mark()
            await _stripe_sends(base, se.invoice_event("payment_failed", "sub_a", "cus_alice"))
            failed = await _says(mark, "Your payment failed, fix it here")
            assert failed.buttons == ((texts.BUTTON_FIX_PAYMENT,),)
            mark = fake.mark()
            fake.press_button(ALICE, None, failed.message_id, failed.callback_data["Fix payment"])
            fixed = await _says(mark, texts.BILLING_LINK)
            assert _url_button(fixed).startswith("https://billing.stripe.com/p/session/")

    with serve(build_app(settings)) as base:
        asyncio.run(scenario(base))

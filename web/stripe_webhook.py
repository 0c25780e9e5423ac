"""POST /stripe/webhook: Stripe's events, verified over the raw request bytes, stored under their
id and processed once (``billing.webhook``), then any notice for the user handed to the channel
they last used. Answers fast: processing is a few row updates; sending the notice is queued."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from billing.webhook import StripeWebhooks, WebhookRejected
from jobs.delivery import enqueue_notices
from web.resources import WebResources, get_resources

log = logging.getLogger("swapzy.stripe")

WEBHOOK_PATH = "/stripe/webhook"


def stripe_router() -> APIRouter:
    router = APIRouter(tags=["stripe"])

    @router.post(WEBHOOK_PATH)
    async def webhook(
        request: Request, res: Annotated[WebResources, Depends(get_resources)]
    ) -> JSONResponse:
        payload = await request.body()  # the exact bytes Stripe signed
        webhooks = StripeWebhooks(res.settings, res.db)
        try:
            outcome = await webhooks.handle(payload, request.headers.get("stripe-signature"))
        except WebhookRejected as exc:
            log.warning("%s", exc.message)
            return JSONResponse({"error": exc.message}, status_code=400)
        try:
            await enqueue_notices(res.db, res.queue, outcome.notices)
        except Exception as exc:  # the notices stay in the table, unsent; the change stands
            log.warning("stripe event %s: notices not queued (%s)", outcome.event_id, exc)
        return JSONResponse({"received": True, "outcome": outcome.outcome})

    return router

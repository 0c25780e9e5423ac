"""A local HTTP server speaking Stripe's API for the calls Swapzy makes (customer-portal
sessions), so the real ``stripe`` SDK can be pointed at it (``SWAPZY_STRIPE_API_URL``).

    with FakeStripe(api_key="sk_test_x", customers={"cus_1"}) as fake:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": fake.url}, ...)
        fake.calls                      # what the SDK sent: (method, path, form fields, headers)

Like Stripe: form-encoded requests, ``Authorization: Bearer <key>``, JSON answers, errors as
``{"error": {"type", "code", "message", "param"}}`` with Stripe's status codes.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.web.server import ServerThread


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeStripe:
    api_key: str
    customers: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    _server: ServerThread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> FakeStripe:
        app = Starlette(
            routes=[
                Route("/v1/billing_portal/sessions", self._portal_session, methods=["POST"]),
                Route("/{path:path}", self._unknown, methods=["GET", "POST", "DELETE"]),
            ]
        )
        self._server = ServerThread(app)
        self.url = self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.stop()

    async def _record(self, request: Request) -> Call:
        form = dict(parse_qsl((await request.body()).decode()))
        call = Call(request.method, request.url.path, form, dict(request.headers))
        with self._lock:
            self.calls.append(call)
        return call

    def _authorised(self, call: Call) -> JSONResponse | None:
        if call.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        given = call.headers.get("authorization", "").removeprefix("Bearer ")
        return _error(401, "invalid_request_error", None, f"Invalid API Key provided: {given}")

    async def _portal_session(self, request: Request) -> JSONResponse:
        call = await self._record(request)
        if (refused := self._authorised(call)) is not None:
            return refused
        customer = call.form.get("customer", "")
        if customer not in self.customers:
            return _error(
                400, "invalid_request_error", "customer", f"No such customer: '{customer}'"
            )
        session_id = f"bps_{uuid.uuid4().hex[:24]}"
        return JSONResponse(
            {
                "id": session_id,
                "object": "billing_portal.session",
                "configuration": "bpc_1QtestDefault",
                "created": int(time.time()),
                "customer": customer,
                "flow": None,
                "livemode": False,
                "locale": None,
                "on_behalf_of": None,
                "return_url": call.form.get("return_url"),
                "url": f"https://billing.stripe.com/p/session/test_{session_id}",
            }
        )

    async def _unknown(self, request: Request) -> JSONResponse:
        await self._record(request)
        return _error(
            404, "invalid_request_error", None, f"Unrecognized request URL ({request.url.path})."
        )


def _error(status: int, kind: str, param: str | None, message: str) -> JSONResponse:
    body: dict[str, Any] = {"type": kind, "message": message}
    if param is not None:
        body |= {"param": param, "code": "resource_missing"}
    return JSONResponse({"error": body}, status_code=status)

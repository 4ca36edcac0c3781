"""Notifications over HTTP: a signed webhook, and an SMS gateway of the same shape."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
from dataclasses import dataclass
from functools import cache

import httpx

from application.delivery import DeliveryRefused, Message

# Answers a later try may turn: a timeout, throttling, the receiver's own trouble.
TRANSIENT = {408, 425, 429}


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every request (building one per client loads the trust store each
    time, which costs more than the request)."""
    return ssl.create_default_context()


def signature(secret: str, body: bytes) -> str:
    """The webhook's signature header value: HMAC-SHA256 of the exact body, hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def _post(
    url: str, body: bytes, headers: dict[str, str], seconds: float
) -> str:  # the answer, or DeliveryRefused
    try:
        async with httpx.AsyncClient(timeout=seconds, verify=_tls()) as client:
            response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryRefused(f"{type(exc).__name__}: {exc}") from exc
    answer = f"{response.status_code} {response.text[:200]}".strip()
    if response.is_success:
        return answer
    permanent = response.status_code < 500 and response.status_code not in TRANSIENT
    raise DeliveryRefused(answer, permanent=permanent)


@dataclass(frozen=True, slots=True)
class WebhookAdapter:
    """POSTs the notification's ids as JSON, signed; the receiver de-duplicates on the
    delivery id (the same on every try of one notification)."""

    url: str
    secret: str
    timeout: float = 10.0

    async def send(self, message: Message) -> str:
        body = json.dumps(dict(message.ids), separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Radflow-Delivery": message.delivery_id,
            "X-Radflow-Signature": signature(self.secret, body),
        }
        return await _post(self.url, body, headers, self.timeout)


@dataclass(frozen=True, slots=True)
class SmsGatewayAdapter:
    """POSTs {to, from, text, reference} to an SMS gateway's HTTP API with a bearer token."""

    url: str
    token: str | None = None
    sender: str = "radflow"
    timeout: float = 10.0

    async def send(self, message: Message) -> str:
        if not message.to:
            raise DeliveryRefused("no phone number on file", permanent=True)
        body = json.dumps(
            {
                "to": message.to,
                "from": self.sender,
                "text": message.text,
                "reference": message.delivery_id,
            }
        ).encode()
        headers = {"Content-Type": "application/json", "X-Radflow-Delivery": message.delivery_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return await _post(self.url, body, headers, self.timeout)

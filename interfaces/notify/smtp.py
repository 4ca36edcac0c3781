"""E-mail over SMTP (the standard library's client, on a worker thread)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from application.delivery import DeliveryRefused, Message


@dataclass(frozen=True, slots=True)
class SmtpAdapter:
    """Sends each message as one e-mail through a relay; the delivery id is a header."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    async def send(self, message: Message) -> str:
        if not message.to:
            raise DeliveryRefused("no e-mail address on file", permanent=True)
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = self.sender, message.to, message.subject
        email["Message-ID"] = f"<{message.delivery_id}@radflow>"
        email["X-Radflow-Delivery"] = message.delivery_id
        email.set_content(message.text)
        return await asyncio.to_thread(self._send, email)

    def _send(self, email: EmailMessage) -> str:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(email)
                code, text = client.noop()
                return (
                    f"accepted by {self.host}:{self.port} ({code} {text.decode(errors='replace')})"
                )
        except smtplib.SMTPRecipientsRefused as exc:
            # The answer is shown to supervisors: the refusal's codes, never the address.
            codes = ", ".join(f"{code}" for code, _ in exc.recipients.values())
            raise DeliveryRefused(f"recipient refused ({codes})", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            reply = error.decode(errors="replace") if isinstance(error, bytes) else error
            answer = f"{exc.smtp_code} {reply}"
            raise DeliveryRefused(answer, permanent=exc.smtp_code >= 500) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryRefused(f"{type(exc).__name__}: {exc}") from exc

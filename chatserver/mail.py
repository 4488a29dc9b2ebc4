"""Email to customers who left a message: composing replies, sending them over SMTP, and
finding the inquiry an incoming email answers.

Sending uses the standard library's `smtplib` in a worker thread rather than another
dependency: it speaks plain SMTP, STARTTLS and implicit TLS with log-in, is maintained with
Python itself, and a reply a minute needs no asynchronous client (the thread keeps the event
loop free while the server answers).

Every reply carries its tracking number twice, so that the customer's answer finds its way
back whatever their mail program keeps: in the subject (``[K7PX-4QR9-M]``) and in the
Reply-To address, the sender's plus-address (``support+K7PX-4QR9-M@example.com``).
Without `CHATSERVER_SMTP_HOST` mail is off: agents are told, and replies are refused.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from chatserver.settings import Settings
from chatserver.tracking import normalize

# A tracking number as it appears in a subject or a plus-address (K7PX-4QR9-M).
_NUMBER = re.compile(r"\b([0-9A-Z]{4}-?[0-9A-Z]{4}-?[0-9A-Z])\b", re.IGNORECASE)
SMTP_TIMEOUT = 30.0


class MailDisabled(RuntimeError):
    """No SMTP server is configured."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str = ""
    port: int = 587
    tls: str = "starttls"  # none | starttls | tls
    user: str = ""
    password: str = ""
    sender: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            user=settings.smtp_user,
            password=settings.smtp_password,
            sender=settings.smtp_sender,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.host and self.sender)


def reply_address(sender: str, number: str) -> str:
    """The sender's plus-address carrying the tracking number."""
    local, _, domain = sender.rpartition("@")
    return f"{local.split('+', 1)[0]}+{number}@{domain}"


def tracking_number_in(*texts: str) -> str | None:
    """The first valid tracking number in a recipient address (its plus part) or a subject."""
    for text in texts:
        _, address = parseaddr(text)
        local = address.rpartition("@")[0] if "@" in address else ""
        if "+" in local:
            found = normalize(local.split("+", 1)[1])
            if found is not None:
                return found
        for candidate in _NUMBER.findall(text):
            found = normalize(candidate)
            if found is not None:
                return found
    return None


def compose_reply(
    config: SmtpConfig, *, to: str, number: str, subject: str, body: str
) -> EmailMessage:
    """The email an agent's reply goes out as: tracking number in subject and Reply-To."""
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = to
    message["Reply-To"] = reply_address(config.sender, number)
    message["Subject"] = f"[{number}] {subject}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    message["X-Tracking-Number"] = number
    message.set_content(body)
    return message


class Mailer:
    """Sends over the configured SMTP server (see the module docstring for why smtplib)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    async def send(self, message: EmailMessage) -> None:
        if not self.enabled:
            raise MailDisabled("no SMTP server is configured (CHATSERVER_SMTP_HOST)")
        await asyncio.to_thread(self._send_now, message)

    def _send_now(self, message: EmailMessage) -> None:
        config = self.config
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if config.tls == "tls":
            client = smtplib.SMTP_SSL(
                config.host, config.port, timeout=SMTP_TIMEOUT, context=context
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT)
        with client:
            if config.tls == "starttls":
                client.starttls(context=context)
            if config.user:
                client.login(config.user, config.password)
            client.send_message(message)

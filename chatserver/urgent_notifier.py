"""Sends an urgent chat's alert by email and to a webhook, off the desk's path.

The desk hands it an `UrgentAlert` once the unit that raised it has succeeded; each channel
goes out in a task of its own, so a slow or dead mail server or webhook never holds up the
handoff: a failure is logged and counted (`chatserver_urgent_alerts_total{channel,
outcome}`), never raised. Email goes through the inbox's `Mailer` (smtplib in a worker
thread); the webhook is one aiohttp POST with a short timeout, tried a few times. What they
say is `urgent_alerts.py`'s, in the desk's default language.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Callable, Coroutine, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiohttp

from chatserver import urgent_alerts
from chatserver.mail import Mailer
from chatserver.urgent_alerts import UrgentAlert

log = logging.getLogger(__name__)

Observe = Callable[[str, dict[str, Any]], None]

# The webhook: each try may take this long, and is tried again after these pauses.
WEBHOOK_TIMEOUT = 5.0
WEBHOOK_RETRY_DELAYS = (0.5, 1.5)
# At shutdown, alerts still being sent get this long before they are cancelled.
CLOSE_TIMEOUT = 5.0


class UrgentNotifier:
    """Email and webhook for urgent alerts; either is off when not configured."""

    def __init__(
        self,
        *,
        mailer: Mailer,
        email_to: Sequence[str],
        webhook_url: str,
        gettext: Callable[[str], str],
        console_url: str,
        observe: Observe,
        retry_delays: Sequence[float] = WEBHOOK_RETRY_DELAYS,
        timeout: float = WEBHOOK_TIMEOUT,
    ) -> None:
        self.mailer = mailer
        self.email_to = tuple(email_to)
        self.webhook_url = webhook_url
        self.gettext = gettext
        self.console_url = console_url
        self.observe = observe
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, alert: UrgentAlert) -> None:
        """Start sending the alert (called on the event loop, returns at once)."""
        if self.email_to:
            self._start(self._email(alert), f"urgent-email-{alert.conversation_id}")
        if self.webhook_url:
            self._start(self._webhook(alert), f"urgent-webhook-{alert.conversation_id}")

    def _start(self, sending: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(sending, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _email(self, alert: UrgentAlert) -> None:
        config = self.mailer.config
        subject, body = urgent_alerts.email_text(alert, self.gettext, console_url=self.console_url)
        message = EmailMessage()
        message["From"] = config.sender
        message["To"] = ", ".join(self.email_to)
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
        message["X-Tracking-Number"] = alert.tracking_number
        message.set_content(body)
        try:
            await self.mailer.send(message)
        except (OSError, ValueError, RuntimeError, smtplib.SMTPException) as exc:
            log.warning("urgent alert email for %s not sent: %s", alert.tracking_number, exc)
            self._count("email", "failed")
            return
        self._count("email", "sent")

    async def _webhook(self, alert: UrgentAlert) -> None:
        payload = urgent_alerts.webhook_payload(alert, self.gettext, console_url=self.console_url)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        problem = ""
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt, pause in enumerate((0.0, *self.retry_delays), start=1):
                await asyncio.sleep(pause)
                try:
                    async with session.post(self.webhook_url, json=payload) as response:
                        if 200 <= response.status < 300:
                            self._count("webhook", "sent")
                            return
                        problem = f"HTTP {response.status}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    problem = str(exc) or type(exc).__name__
                log.info(
                    "urgent webhook try %d for %s failed: %s",
                    attempt,
                    alert.tracking_number,
                    problem,
                )
        log.warning("urgent alert webhook for %s not delivered: %s", alert.tracking_number, problem)
        self._count("webhook", "failed")

    def _count(self, channel: str, outcome: str) -> None:
        self.observe("urgent_alert", {"channel": channel, "outcome": outcome})

    async def aclose(self) -> None:
        """Let the alerts being sent finish (a little while), then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=CLOSE_TIMEOUT)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

"""Urgent chats are notified on every channel, end to end: a real server on a fake clock,
real Socket.IO customers and consoles, the real SMTP server of tests/conftest.py and a real
aiohttp server on a free port as the webhook's receiver."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from chatserver.keys import SERVICES
from tests.conftest import FakeClock, free_port
from tests.test_handoff_e2e import connect_agent, desk_settings, metrics_text
from tests.test_isolation import until

URGENT_JA = "さっきロスカットされて全部のポジションが消えました"
SENDER = "support@example.com"
ON_CALL = ("desk-lead@example.com", "oncall@example.com")


class Receiver:
    """The webhook's other end: keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.posted.append(await request.json())
        return web.json_response({"ok": True})


@pytest.fixture
async def receiver(aiohttp_server: Any) -> tuple[Receiver, str]:
    received = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/urgent", received.handle)
    server = await aiohttp_server(app, port=free_port())
    return received, str(server.make_url("/hooks/urgent"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def urgent_settings(settings: Any, *, smtp_port: int, webhook: str) -> Any:
    return desk_settings(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_tls="none",
        smtp_sender=SENDER,
        urgent_email=ON_CALL,
        urgent_webhook_url=webhook,
    )


@pytest.fixture
async def desk(start_server, settings, clock, smtp, receiver):
    _, port = smtp
    _, url = receiver
    return await start_server(urgent_settings(settings, smtp_port=port, webhook=url), clock=clock)


async def customer_says(desk: Any, connect: Any, text: str) -> tuple[Any, str]:
    customer = await connect(desk)
    started = await customer.call("start", {"language": "ja"})
    assert (await customer.call("message", {"text": text}))["ok"] is True
    await customer.wait_pushed("queued")
    return customer, started["conversation"]["id"]


async def test_an_urgent_japanese_chat_reaches_every_japanese_console_mail_and_webhook(
    desk, connect, smtp, receiver, clock
):
    mailbox, _ = smtp
    received, _ = receiver
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja", "en"])
    ken = await connect_agent(desk, "ken", "Ken Sato", ["ja"])
    emma = await connect_agent(desk, "emma", "Emma Clarke", ["en", "de"])
    sam = await connect_agent(desk, "sam", "Sam Okafor", ["en"], role="supervisor")
    handed_off_at = clock.now()
    _customer, conversation_id = await customer_says(desk, connect, URGENT_JA)

    # Every online Japanese speaker and the supervisor, not only the one it is offered to.
    (alert,) = await aiko.wait_pushed("urgent")
    assert (await ken.wait_pushed("urgent")) == [alert]
    assert (await sam.wait_pushed("urgent")) == [alert]
    stored = await desk.app[SERVICES].store.get_conversation(conversation_id)
    number = stored.tracking_number
    assert number
    assert alert == {
        "conversation_id": conversation_id,
        "tracking_number": number,
        "language": "ja",
        "language_name": alert["language_name"],
        "team": "trading",
        "topic": "trading",
        "faq_id": alert["faq_id"],
        "queued_at": handed_off_at.isoformat(),
        "first_response_due": "2026-11-24T09:00:30+00:00",
        "resolution_due": "2026-11-24T10:00:00+00:00",
    }
    assert alert["faq_id"]  # the FAQ entry it was handed off from
    offered = [a for a in (aiko, ken) if a.pushed("offer")]
    assert len(offered) == 1  # offered to one, told to both

    # The mail: to the on-call addresses, the tracking number in the subject, in English.
    (mail,) = await mailbox.wait()
    assert mail["To"] == ", ".join(ON_CALL)
    assert mail["From"] == SENDER
    assert number in mail["Subject"]
    assert mail["Subject"] == f"Urgent chat waiting: {number}"
    body = mail.get_content()
    assert f"Tracking number: {number}" in body
    assert "First response due: 2026-11-24 09:00:30 UTC" in body
    assert "/console/" in body

    # The webhook: its JSON, with the text Slack and Mattermost show.
    await until(lambda: len(received.posted) == 1)
    (posted,) = received.posted
    assert set(posted) == {
        "text",
        "conversation_id",
        "tracking_number",
        "language",
        "topic",
        "queued_at",
        "console_url",
    }
    assert (posted["conversation_id"], posted["tracking_number"]) == (conversation_id, number)
    assert (posted["language"], posted["topic"]) == ("ja", "trading")
    assert posted["queued_at"] == handed_off_at.isoformat()
    assert number in posted["text"]
    assert posted["console_url"].endswith("/console/")

    # Taken by one: the alert comes down everywhere it went up.
    taker = offered[0]
    assert (await taker.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    cleared = {"conversation_id": conversation_id, "reason": "taken"}
    for console in (aiko, ken, sam):
        assert (await console.wait_pushed("urgent_cleared")) == [cleared]
    assert emma.pushed("urgent") == []
    assert emma.pushed("urgent_cleared") == []

    metrics = await metrics_text(desk)
    for channel in ("console", "email", "webhook"):
        assert (
            f'chatserver_urgent_alerts_total{{channel="{channel}",outcome="sent"}} 1.0' in metrics
        )
    for agent in (aiko, ken, emma, sam):
        await agent.client.disconnect()


async def test_a_chat_that_is_not_urgent_raises_no_alert(desk, connect, smtp, receiver):
    mailbox, _ = smtp
    received, _ = receiver
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja"])
    sam = await connect_agent(desk, "sam", "Sam Okafor", ["en"], role="supervisor")
    _, conversation_id = await customer_says(desk, connect, "オペレーターと話したい")
    (offer,) = await aiko.wait_pushed("offer")
    assert offer["conversation_id"] == conversation_id
    await asyncio.sleep(1)  # time for any mail or post to arrive
    assert aiko.pushed("urgent") == []
    assert sam.pushed("urgent") == []
    assert mailbox.received == []
    assert received.posted == []
    assert "chatserver_urgent_alerts_total{" not in await metrics_text(desk)
    for agent in (aiko, sam):
        await agent.client.disconnect()


async def test_the_alert_is_raised_once_even_when_the_chat_is_requeued_or_transferred(
    desk, connect, smtp, receiver
):
    mailbox, _ = smtp
    received, _ = receiver
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja"])
    mei = await connect_agent(desk, "mei", "Mei Lin", ["ja", "zh-Hans"])
    sam = await connect_agent(desk, "sam", "Sam Okafor", ["en"], role="supervisor")
    # Mei is busy elsewhere (away), so the chat is offered to Aiko alone.
    assert (await mei.call("status", {"status": "away"}))["ok"] is True
    _, conversation_id = await customer_says(desk, connect, URGENT_JA)
    await aiko.wait_pushed("urgent")
    await sam.wait_pushed("urgent")
    assert mei.pushed("urgent") == []  # away: not among those who can take it now
    await aiko.wait_pushed("offer")
    await aiko.call("accept", {"conversation_id": conversation_id})
    await sam.wait_pushed("urgent_cleared")
    await mailbox.wait()
    await until(lambda: len(received.posted) == 1)

    # Passed back to the queue, then its agent leaves (grace 0): it waits again each time.
    moved = await aiko.call(
        "transfer",
        {
            "conversation_id": conversation_id,
            "to_queue": {"language": "ja", "team": "trading"},
            "reason": "needs a dealer",
        },
    )
    assert moved["ok"] is True, moved
    assert (await mei.call("status", {"status": "online"}))["ok"] is True
    taken = await mei.call("accept", {"conversation_id": conversation_id})  # anyone eligible
    assert taken["ok"] is True, taken
    await mei.wait_pushed("conversation")
    await mei.client.disconnect()
    await aiko.wait_pushed("offer", count=2)
    await asyncio.sleep(1)  # time for a second alert, mail or post, if one were raised
    assert len(sam.pushed("urgent")) == 1
    assert len(aiko.pushed("urgent")) == 1
    assert len(mailbox.received) == 1
    assert len(received.posted) == 1
    metrics = await metrics_text(desk)
    assert 'chatserver_urgent_alerts_total{channel="console",outcome="sent"} 1.0' in metrics
    for agent in (aiko, sam):
        await agent.client.disconnect()


async def test_a_waiting_urgent_chat_that_ends_takes_its_alert_down(desk, connect):
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja"])
    customer, conversation_id = await customer_says(desk, connect, URGENT_JA)
    await aiko.wait_pushed("urgent")
    assert (await customer.call("end", {}))["ok"] is True
    (cleared,) = await aiko.wait_pushed("urgent_cleared")
    assert cleared == {"conversation_id": conversation_id, "reason": "closed"}
    await aiko.client.disconnect()


async def test_a_dead_mail_server_and_webhook_do_not_stop_the_chat(
    start_server, settings, connect, clock
):
    desk = await start_server(
        urgent_settings(
            settings,
            smtp_port=free_port(),  # nothing listens there
            webhook=f"http://127.0.0.1:{free_port()}/hooks/urgent",
        ),
        clock=clock,
    )
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja"])
    _, conversation_id = await customer_says(desk, connect, URGENT_JA)
    (offer,) = await aiko.wait_pushed("offer")
    assert offer["conversation_id"] == conversation_id
    await aiko.wait_pushed("urgent")
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await aiko.wait_pushed("conversation")

    async def failures_counted() -> None:
        async with asyncio.timeout(15):
            while True:
                metrics = await metrics_text(desk)
                if all(
                    f'chatserver_urgent_alerts_total{{channel="{c}",outcome="failed"}} 1.0'
                    in metrics
                    for c in ("email", "webhook")
                ):
                    return
                await asyncio.sleep(0.1)

    await failures_counted()
    await aiko.client.disconnect()

"""The offline inbox end to end: a real server, real Socket.IO customers and consoles, a
real SMTP server (aiosmtpd) receiving the replies, and the inbound-email webhook over HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from chatserver.inbox import InboxStatus
from chatserver.keys import SERVICES
from tests.conftest import FakeClock, free_port
from tests.test_handoff_e2e import connect_agent, desk_settings

SECRET = "inbound-secret-0123456789"
SENDER = "support@desk.example"
# Tuesday 2026-11-24 09:00 UTC: 18:00 in Tokyo, the callback desk has just closed.
TUESDAY_18_TOKYO = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TUESDAY_18_TOKYO)


@pytest.fixture
async def desk(start_server, settings, clock, smtp):
    _, port = smtp
    return await start_server(
        desk_settings(
            settings,
            timezone="Asia/Tokyo",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls="none",
            smtp_sender=SENDER,
            inbound_email_secret=SECRET,
        ),
        clock=clock,
    )


async def left_message(desk, connect, kind: str, contact: str, **extra: Any) -> tuple[Any, str]:
    """A Japanese customer nobody can chat with leaves a message; their token and number."""
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    (offline,) = await customer.wait_pushed("offline")
    left = await customer.call(
        "leave_message", {"kind": kind, "contact": contact, "text": "出金がまだです", **extra}
    )
    assert left == {"ok": True, "tracking_number": offline["tracking_number"]}
    return started["token"], offline["tracking_number"]


async def inbound(desk, body: dict[str, Any], secret: str = SECRET) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"}) as session,
        session.post(desk.make_url("/api/v1/inbound-email"), json=body) as response,
    ):
        return response.status, await response.json()


async def inquiry(desk, number: str, token: str) -> Any:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(desk.make_url(f"/api/v1/inquiries/{number}")) as response,
    ):
        assert response.status == 200
        return await response.json()


def latest_inbox(agent) -> list[dict[str, Any]]:
    return agent.pushed("inbox")[-1]["items"]


async def test_a_message_is_answered_by_email_and_the_reply_comes_back(desk, connect, smtp, clock):
    mailbox, _ = smtp
    token, number = await left_message(desk, connect, "email", "kenji@example.com")
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja", "en"])
    emma = await connect_agent(desk, "emma", "Emma Clarke", ["en", "de"])

    # Only the agent with the customer's language sees it, with an hour on the clock.
    (shown,) = (await aiko.wait_pushed("inbox"))[-1]["items"]
    assert (shown["kind"], shown["language"], shown["status"]) == ("message", "ja", "open")
    assert shown["contact"] == "kenji@example.com"
    assert shown["tracking_number"] == number
    assert shown["remaining_seconds"] == 3600
    assert (await aiko.wait_pushed("inbox"))[-1]["mail_enabled"] is True
    assert (await emma.wait_pushed("inbox"))[-1]["items"] == []
    refused = await emma.call("inbox_take", {"item_id": shown["id"]})
    assert refused["error"]["code"] == "unknown_item"

    # Answering needs the item taken first.
    early = await aiko.call("inbox_reply", {"item_id": shown["id"], "text": "確認します"})
    assert early["error"]["code"] == "inbox_not_taken"
    taken = await aiko.call("inbox_take", {"item_id": shown["id"]})
    assert (taken["ok"], taken["item"]["status"], taken["item"]["taken_by"]) == (
        True,
        "taken",
        aiko.id,
    )
    replied = await aiko.call(
        "inbox_reply", {"item_id": shown["id"], "text": "出金は本日中に着金予定です。"}
    )
    assert replied["item"]["status"] == "answered"
    assert [e["direction"] for e in replied["item"]["thread"]] == ["out"]

    (mail,) = await mailbox.wait()
    assert mail["To"] == "kenji@example.com"
    assert mail["From"] == SENDER
    assert mail["Subject"] == f"[{number}] お問い合わせについて"  # the customer's language
    assert mail["Reply-To"] == f"support+{number}@desk.example"
    body = mail.get_content()
    assert "出金は本日中に着金予定です。" in body
    assert f"このメールにご返信ください。お問い合わせ番号は{number}です。" in body

    # Ten minutes later the customer answers; the provider posts it to the webhook.
    clock.advance(600)
    reply = {
        "to": mail["Reply-To"],
        "sender": "Kenji <KENJI@example.com>",
        "subject": f"Re: {mail['Subject']}",
        "text": "ありがとうございます。まだ届いていません。",
    }
    assert (await inbound(desk, reply, secret="wrong-secret-0123456789"))[0] == 401
    stranger = {**reply, "sender": "someone@example.com"}
    assert (await inbound(desk, stranger))[1]["error"]["code"] == "unknown_inquiry"
    status, answer = await inbound(desk, reply)
    assert (status, answer) == (200, {"ok": True, "item_id": shown["id"]})

    async with asyncio.timeout(5):
        while [e["direction"] for e in latest_inbox(aiko)[0]["thread"]] != ["out", "in"]:
            await asyncio.sleep(0.01)
    (reopened,) = latest_inbox(aiko)
    assert (reopened["status"], reopened["taken_by"]) == ("taken", aiko.id)
    assert reopened["thread"][1]["text"] == "ありがとうございます。まだ届いていません。"

    # The customer follows it with the tracking number.
    followed = await inquiry(desk, number, token)
    assert followed["tracking_number"] == number
    assert followed["inbox"] == [
        {
            "kind": "message",
            "status": "taken",
            "outcome": None,
            "created_at": "2026-11-24T09:00:00+00:00",
            "due_at": "2026-11-24T10:10:00+00:00",  # an hour from the customer's reply
            "responded_at": "2026-11-24T09:00:00+00:00",
            "replies": 1,
        }
    ]

    done = await aiko.call("inbox_outcome", {"item_id": shown["id"], "outcome": "resolved"})
    assert done["item"]["status"] == "closed"
    assert (await inquiry(desk, number, token))["inbox"][0]["status"] == "closed"
    async with asyncio.timeout(5):
        while latest_inbox(aiko):
            await asyncio.sleep(0.01)
    for agent in (aiko, emma):
        await agent.client.disconnect()


async def test_a_callback_is_due_in_business_hours_and_its_outcomes_recorded(desk, connect, clock):
    token, number = await left_message(
        desk, connect, "callback", "+81 90 1234 5678", preferred_time="明日の午前"
    )
    mei = await connect_agent(desk, "mei", "Mei Chen", ["zh-Hans", "en"])
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja", "en"])
    (item,) = (await aiko.wait_pushed("inbox"))[-1]["items"]
    assert (await mei.wait_pushed("inbox"))[-1]["items"] == []
    assert (item["kind"], item["preferred_time"]) == ("callback", "明日の午前")
    # Left at 18:00 Tokyo, closing time: due 15 minutes after Wednesday's 09:00 opening.
    assert item["due_at"] == "2026-11-25T00:15:00+00:00"

    await aiko.call("inbox_take", {"item_id": item["id"]})
    wrong = await aiko.call("inbox_outcome", {"item_id": item["id"], "outcome": "maybe"})
    assert wrong["error"]["code"] == "invalid_payload"
    nobody = await aiko.call("inbox_outcome", {"item_id": item["id"], "outcome": "no_answer"})
    assert (nobody["item"]["status"], nobody["item"]["outcome"]) == ("open", "no_answer")
    no_email = await aiko.call("inbox_reply", {"item_id": item["id"], "text": "x"})
    assert no_email["error"]["code"] == "inbox_not_taken"

    clock.advance(3600)
    await aiko.call("inbox_take", {"item_id": item["id"]})
    called = await aiko.call("inbox_outcome", {"item_id": item["id"], "outcome": "called_back"})
    assert (called["item"]["status"], called["item"]["outcome"]) == ("answered", "called_back")
    followed = (await inquiry(desk, number, token))["inbox"][0]
    assert (followed["status"], followed["outcome"]) == ("answered", "called_back")
    assert followed["responded_at"] == "2026-11-24T10:00:00+00:00"
    for agent in (aiko, mei):
        await agent.client.disconnect()


async def test_without_an_smtp_server_the_inbox_says_mail_is_off(start_server, settings, connect):
    desk = await start_server(desk_settings(settings), clock=FakeClock(TUESDAY_18_TOKYO))
    await left_message(desk, connect, "email", "kenji@example.com")
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja"])
    payload = (await aiko.wait_pushed("inbox"))[-1]
    assert payload["mail_enabled"] is False
    (item,) = payload["items"]
    await aiko.call("inbox_take", {"item_id": item["id"]})
    refused = await aiko.call("inbox_reply", {"item_id": item["id"], "text": "確認します"})
    assert refused["error"]["code"] == "mail_disabled"
    # The webhook is off without its secret.
    assert (await inbound(desk, {"to": "a@b.c", "sender": "a@b.c", "text": "x"}))[0] == 404
    await aiko.client.disconnect()


async def test_a_mail_server_that_cannot_be_reached_leaves_the_item_unanswered(
    start_server, settings, connect
):
    nobody_listens = free_port()
    desk = await start_server(
        desk_settings(
            settings,
            smtp_host="127.0.0.1",
            smtp_port=nobody_listens,
            smtp_tls="none",
            smtp_sender=SENDER,
        ),
        clock=FakeClock(TUESDAY_18_TOKYO),
    )
    await left_message(desk, connect, "email", "kenji@example.com")
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja"])
    (item,) = (await aiko.wait_pushed("inbox"))[-1]["items"]
    await aiko.call("inbox_take", {"item_id": item["id"]})
    refused = await aiko.call("inbox_reply", {"item_id": item["id"], "text": "確認します"})
    assert refused["error"]["code"] == "mail_failed"
    stored = await desk.app[SERVICES].store.inbox_item(item["id"])
    assert (stored.status, stored.responded_at) == (InboxStatus.TAKEN, None)
    assert await desk.app[SERVICES].store.inbox_entries(item["id"]) == []
    await aiko.client.disconnect()

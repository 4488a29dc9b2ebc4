""" "Email me the transcript" through the real server: a real SMTP server (aiosmtpd)
receives the customer's copy; bad addresses, other tokens, mail off and the rate limit are
refused with clear codes."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from chatserver.keys import SERVICES
from tests.conftest import FakeClock, free_port
from tests.test_bad_input import tracebacks
from tests.test_handoff_e2e import desk_settings
from tests.test_inbox_e2e import TUESDAY_18_TOKYO, left_message
from tests.test_transcript_e2e import chat_with_a_note, staff_token

PATH = "/api/v1/conversations/{}/transcript/email"
SENDER = "support@desk.example"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # 2026-11-24 09:00 UTC: 04:00 in New York, 18:00 in Tokyo


def mail_settings(settings, port: int, **changes: Any):
    return desk_settings(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_sender=SENDER,
        **changes,
    )


@pytest.fixture
async def desk(start_server, settings, clock, smtp) -> TestServer:
    server: TestServer = await start_server(
        mail_settings(settings, smtp[1]), clock=clock, monotonic=clock.monotonic
    )
    return server


async def post(
    server: TestServer, conversation_id: str, token: str | None, body: Any
) -> tuple[int, dict[str, str], Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(server.make_url(PATH.format(conversation_id)), json=body) as response,
    ):
        return response.status, dict(response.headers), await response.json()


async def status_of(server: TestServer, conversation_id: str, token: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(server.make_url(PATH.format(conversation_id))) as response,
    ):
        return response.status, await response.json()


async def test_the_customer_gets_their_transcript_by_email(desk, connect, clock, smtp):
    mailbox, _ = smtp
    _customer, started, aiko = await chat_with_a_note(desk, connect, clock)
    conversation_id, token = started["conversation"]["id"], started["token"]
    number = (await desk.app[SERVICES].store.get_conversation(conversation_id)).tracking_number
    assert number
    assert await status_of(desk, conversation_id, token) == (
        200,
        {"enabled": True, "address": None},
    )

    status, _headers, body = await post(
        desk, conversation_id, token, {"address": " yuki@example.jp ", "tz": "America/New_York"}
    )
    assert (status, body) == (200, {"ok": True, "address": "yuki@example.jp"})
    (mail,) = await mailbox.wait(1)
    assert mail["To"] == "yuki@example.jp"
    assert mail["From"] == SENDER
    assert mail["Subject"] == f"会話履歴 {number}"
    assert mail["X-Tracking-Number"] == number
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    text_body, html_body = text.get_content(), html.get_content()
    # In Japanese, times in New York: 09:00 UTC is 4:00 there.
    assert "タイムゾーン: America/New_York" in text_body
    assert "[4:00] あなた:\n  オペレーターと話したい" in text_body
    assert "[4:00] Aiko Tanaka:\n  お待たせしました <b>です</b>" in text_body
    assert '<html lang="ja" dir="ltr">' in html_body
    assert "お待たせしました &lt;b&gt;です&lt;/b&gt;" in html_body
    for part in (text_body, html_body):
        assert "VIP候補" not in part  # the agent's internal note
        assert "社内メモ" not in part
    await aiko.client.disconnect()


async def test_bad_requests_are_clear_400s_naming_the_field(desk, connect, smtp, caplog):
    mailbox, _ = smtp
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["en"]})
    conversation_id, token = started["conversation"]["id"], started["token"]
    for address in ("not-an-address", "a@b.c, victim@example.com", "x@y.z\r\nBcc: v@e.com", 7):
        status, _headers, body = await post(desk, conversation_id, token, {"address": address})
        assert status == 400, address
        assert body["error"]["code"] == "invalid_payload"
        assert body["error"]["message"].startswith("'address' must be one email address")
    status, _headers, body = await post(desk, conversation_id, token, {"tz": "Asia/Tokyo"})
    assert (status, body["error"]["code"]) == (400, "invalid_payload")
    assert "'address'" in body["error"]["message"]
    status, _headers, body = await post(
        desk, conversation_id, token, {"address": "a@example.com", "tz": "Mars/Olympus_Mons"}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_time_zone")
    status, _headers, body = await post(desk, conversation_id, token, ["a@example.com"])
    assert (status, body["error"]["code"]) == (400, "invalid_payload")
    assert mailbox.received == []
    assert tracebacks(caplog) == []


async def test_only_the_conversations_customer_may_have_it_sent(desk, connect, clock, smtp):
    mailbox, _ = smtp
    _customer, started, aiko = await chat_with_a_note(desk, connect, clock)
    conversation_id = started["conversation"]["id"]
    other = await connect(desk)
    theirs = await other.call("start", {"languages": ["en"]})
    body = {"address": "attacker@example.com"}
    status, _headers, answer = await post(desk, conversation_id, theirs["token"], body)
    assert (status, answer["error"]["code"]) == (404, "unknown_conversation")
    assert (await post(desk, conversation_id, None, body))[0] == 401
    # Staff export transcripts; they do not mail them to addresses typed in a request.
    aiko_token = await staff_token(desk, "aiko")
    status, _headers, answer = await post(desk, conversation_id, aiko_token, body)
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    assert mailbox.received == []
    await aiko.client.disconnect()


async def test_a_conversation_gets_a_few_emails_an_hour(desk, connect, clock, smtp):
    mailbox, _ = smtp
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["en"]})
    conversation_id, token = started["conversation"]["id"], started["token"]
    body = {"address": "me@example.com", "tz": "Europe/London"}
    for _ in range(3):
        assert (await post(desk, conversation_id, token, body))[0] == 200
    status, headers, answer = await post(desk, conversation_id, token, body)
    assert (status, answer["error"]["code"]) == (429, "rate_limited")
    assert int(headers["Retry-After"]) > 60
    # Another address does not help: the limit is the conversation's.
    other = {"address": "someone-else@example.com"}
    assert (await post(desk, conversation_id, token, other))[0] == 429
    assert len(await mailbox.wait(3)) == 3
    clock.advance(20 * 60)  # 3 an hour: one more every 20 minutes
    assert (await post(desk, conversation_id, token, body))[0] == 200
    assert (await post(desk, conversation_id, token, body))[0] == 429
    assert len(await mailbox.wait(4)) == 4


async def test_mail_off_is_a_clear_error_and_the_widget_can_tell(start_server, settings, connect):
    desk = await start_server(desk_settings(settings, smtp_host=""))
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["en"]})
    conversation_id, token = started["conversation"]["id"], started["token"]
    assert await status_of(desk, conversation_id, token) == (
        200,
        {"enabled": False, "address": None},
    )
    status, _headers, body = await post(desk, conversation_id, token, {"address": "a@example.com"})
    assert (status, body["error"]["code"]) == (503, "mail_disabled")


async def test_the_address_left_for_the_inbox_is_offered(start_server, settings, connect, smtp):
    tokyo = FakeClock(TUESDAY_18_TOKYO)
    desk = await start_server(mail_settings(settings, smtp[1], timezone="Asia/Tokyo"), clock=tokyo)
    token, number = await left_message(desk, connect, "email", "yuki@example.jp")
    conversation = await desk.app[SERVICES].store.conversation_by_tracking_number(number)
    assert conversation is not None
    assert await status_of(desk, conversation.id, token) == (
        200,
        {"enabled": True, "address": "yuki@example.jp"},
    )


async def test_a_mail_server_that_does_not_answer_is_a_clear_502(
    start_server, settings, connect, caplog
):
    closed_port = free_port()  # nothing listens there
    desk = await start_server(mail_settings(settings, closed_port))
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["en"]})
    conversation_id, token = started["conversation"]["id"], started["token"]
    status, _headers, body = await post(desk, conversation_id, token, {"address": "a@example.com"})
    assert (status, body["error"]["code"]) == (502, "mail_failed")
    assert tracebacks(caplog) == []

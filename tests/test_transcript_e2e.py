"""Transcripts through the real server: the customer downloads their own, agents export
the chats they hold or held (notes included), supervisors any; nobody else gets one."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from chatserver.keys import SERVICES
from tests.conftest import Customer, CustomerFactory, FakeClock
from tests.test_bad_input import raw_http, tracebacks
from tests.test_handoff_e2e import PASSWORD, Agent, connect_agent, desk_settings

PATH = "/api/v1/conversations/{}/transcript"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # 2026-11-24 09:00 UTC: 04:00 in New York, 18:00 in Tokyo


@pytest.fixture
async def desk(start_server, settings, clock) -> TestServer:
    server: TestServer = await start_server(desk_settings(settings), clock=clock)
    return server


async def get(
    server: TestServer, conversation_id: str, token: str | None, **params: str
) -> tuple[int, dict[str, str], str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(server.make_url(PATH.format(conversation_id)), params=params) as response,
    ):
        return response.status, dict(response.headers), await response.text()


async def staff_token(server: TestServer, username: str) -> str:
    return (await server.app[SERVICES].accounts.login(username, PASSWORD)).token


async def chat_with_a_note(
    desk: TestServer, connect: CustomerFactory, clock: FakeClock
) -> tuple[Customer, dict[str, Any], Agent]:
    """A Japanese customer served by Aiko, who replies and leaves a note."""
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja", "en"])
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ja"]})
    await customer.call("message", {"text": "オペレーターと話したい", "client_id": "c1"})
    (offer,) = await aiko.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    clock.advance(12)
    reply = {"conversation_id": conversation_id, "text": "お待たせしました <b>です</b>"}
    assert (await aiko.call("message", {**reply, "client_id": "a1"}))["ok"] is True
    note = {"conversation_id": conversation_id, "text": "VIP候補、丁寧に", "client_id": "n1"}
    assert (await aiko.call("note", note))["ok"] is True
    async with asyncio.timeout(5):
        while not any(m["author"] == "agent" for m in customer.pushed("message")):
            await asyncio.sleep(0.01)
    return customer, started, aiko


async def test_the_customer_downloads_their_own_transcript_without_notes(desk, connect, clock):
    _customer, started, aiko = await chat_with_a_note(desk, connect, clock)
    conversation_id = started["conversation"]["id"]
    number = (await desk.app[SERVICES].store.get_conversation(conversation_id)).tracking_number
    assert number

    status, headers, text = await get(
        desk, conversation_id, started["token"], format="txt", tz="America/New_York"
    )
    assert status == 200
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Disposition"] == f'attachment; filename="transcript-{number}.txt"'
    assert headers["Cache-Control"] == "no-store"
    assert "会話履歴" in text
    assert f"お問い合わせ番号: {number}" in text
    assert "タイムゾーン: America/New_York" in text
    # 09:00 UTC is 4:00 in New York (in Japanese notation); Aiko wrote 12 s later.
    assert "[4:00] あなた:\n  オペレーターと話したい" in text
    assert "[4:00] Aiko Tanaka:\n  お待たせしました" in text
    assert "お客様" not in text  # the customer is "you" in their own copy
    assert "お待たせしました <b>です</b>" in text
    assert "VIP候補" not in text
    assert "社内メモ" not in text

    status, headers, html = await get(desk, conversation_id, started["token"], format="html")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Disposition"] == f'attachment; filename="transcript-{number}.html"'
    assert '<html lang="ja" dir="ltr">' in html
    assert "お待たせしました &lt;b&gt;です&lt;/b&gt;" in html
    assert "<b>です" not in html
    assert "タイムゾーン" in html
    assert "UTC" in html
    assert "VIP候補" not in html
    await aiko.client.disconnect()


async def test_another_conversations_token_gets_nothing(desk, connect, clock):
    _customer, started, aiko = await chat_with_a_note(desk, connect, clock)
    other = await connect(desk)
    theirs = await other.call("start", {"languages": ["en"]})
    status, _headers, body = await get(desk, started["conversation"]["id"], theirs["token"])
    assert status == 404
    assert '"unknown_conversation"' in body
    assert "VIP" not in body
    # Their own is fine, and an unknown id is the same 404 as someone else's.
    assert (await get(desk, theirs["conversation"]["id"], theirs["token"]))[0] == 200
    assert (await get(desk, "no-such-id", theirs["token"]))[0] == 404
    assert (await get(desk, started["conversation"]["id"], None))[0] == 401
    assert (await get(desk, started["conversation"]["id"], "not-a-token"))[0] == 401
    await aiko.client.disconnect()


async def test_bad_query_is_a_clear_400(desk, connect):
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["en"]})
    conversation_id, token = started["conversation"]["id"], started["token"]
    status, _headers, body = await get(desk, conversation_id, token, tz="Mars/Olympus_Mons")
    assert status == 400
    assert '"invalid_time_zone"' in body
    assert "unknown time zone 'Mars/Olympus_Mons'" in body
    status, _headers, body = await get(desk, conversation_id, token, format="pdf")
    assert status == 400
    assert '"invalid_query"' in body
    assert "txt or html" in body
    for zone in ("../../etc/passwd", "Asia"):  # a path; a region, which is a directory
        status, _headers, body = await get(desk, conversation_id, token, tz=zone)
        assert status == 400
        assert '"invalid_time_zone"' in body


async def test_agents_export_what_they_held_supervisors_anything(desk, connect, clock):
    _customer, started, aiko = await chat_with_a_note(desk, connect, clock)
    emma = await connect_agent(desk, "emma", "Emma Clarke", ["en"])
    sam = await connect_agent(desk, "sam", "Sam Okafor", ["en"], role="supervisor")
    conversation_id = started["conversation"]["id"]

    status, _headers, text = await get(
        desk, conversation_id, await staff_token(desk, "aiko"), tz="Asia/Tokyo"
    )
    assert status == 200
    assert "Aiko Tanaka [社内メモ]:" in text
    assert "VIP候補、丁寧に" in text
    assert "[18:00] お客様:" in text  # labels in Aiko's first language, times in Tokyo

    status, _headers, body = await get(desk, conversation_id, await staff_token(desk, "emma"))
    assert status == 403
    assert '"forbidden"' in body
    assert "VIP" not in body

    status, _headers, html = await get(
        desk, conversation_id, await staff_token(desk, "sam"), format="html"
    )
    assert status == 200
    assert '<li class="agent note">' in html
    assert "VIP候補、丁寧に" in html
    assert "Internal note" in html
    assert "Customer" in html

    # After a transfer Aiko no longer holds it, but held it: still hers to export.
    mei = await connect_agent(desk, "mei", "Mei Lin", ["ja", "zh-Hans"])
    moved = {"conversation_id": conversation_id, "to_agent": mei.id, "reason": "MT5 expert"}
    assert (await aiko.call("transfer", moved))["ok"] is True
    async with asyncio.timeout(5):
        while (
            await desk.app[SERVICES].store.get_conversation(conversation_id)
        ).agent_id == aiko.id:
            await asyncio.sleep(0.01)
    assert (await get(desk, conversation_id, await staff_token(desk, "aiko")))[0] == 200
    assert (await get(desk, conversation_id, await staff_token(desk, "mei")))[0] == 200
    assert (await get(desk, conversation_id, await staff_token(desk, "emma")))[0] == 403
    for agent in (aiko, emma, sam, mei):
        await agent.client.disconnect()


ODD_ZONES = ["", " ", "\x00", "%", "Asia/", "/UTC", "UTC/..", "Europe/Paris" * 6, "١", "EST5EDT"]
ODD_FORMATS = ["", "HTML", "pdf", "txt\x00", "txt,html"]
ODD_IDS = ["x" * 1000, "\u202e", "c1;drop", "%00", "c1 c2"]


async def test_odd_input_is_an_error_with_a_code_never_a_failure(desk, connect, caplog):
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ar"]})
    conversation_id, token = started["conversation"]["id"], started["token"]
    answers = [await get(desk, conversation_id, token, tz=zone) for zone in ODD_ZONES]
    answers += [await get(desk, conversation_id, token, format=fmt) for fmt in ODD_FORMATS]
    answers += [await get(desk, odd, token) for odd in ODD_IDS]
    for status, headers, body in answers:
        assert status in {200, 400, 404}, (status, body)
        if status != 200:
            assert headers["Content-Type"].startswith("application/json"), (status, body)
            assert '"code"' in body
    # Empty and blank tz mean the desk's zone; EST5EDT is a zone the database has.
    assert [status for status, _, _ in answers[:2]] == [200, 200]
    assert answers[len(ODD_ZONES) - 1][0] == 200
    status, _headers, html = await get(desk, conversation_id, token, format="html")
    assert '<html lang="ar" dir="rtl">' in html
    assert tracebacks(caplog) == []

    raw_status, raw_body = await raw_http(
        desk,
        f"GET {PATH.format(conversation_id)} HTTP/1.1\r\nHost: x\r\n".encode()
        + b"Authorization: Bearer \xed\xa0\x80\xff\r\nConnection: close\r\n\r\n",
    )
    assert raw_status == 400
    assert b'"invalid_payload"' in raw_body
    assert tracebacks(caplog) == []

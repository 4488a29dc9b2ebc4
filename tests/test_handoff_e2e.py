"""Handoff end to end: real Socket.IO customers and agents against a real server."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import socketio

from chatserver.keys import SERVICES
from chatserver.settings import Settings
from tests.conftest import FakeClock

THAI = re.compile(r"[\u0e00-\u0e7f]")
PASSWORD = "a long password"


@dataclass
class Agent:
    client: socketio.AsyncClient
    id: str
    received: list[tuple[str, Any]] = field(default_factory=list)

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.client.call(event, data, namespace="/agent", timeout=10)

    def pushed(self, event: str) -> list[Any]:
        return [data for name, data in self.received if name == event]

    async def wait_pushed(self, event: str, count: int = 1, timeout: float = 5) -> list[Any]:
        async with asyncio.timeout(timeout):
            while len(self.pushed(event)) < count:
                await asyncio.sleep(0.005)
        return self.pushed(event)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def desk(start_server, settings, clock):
    return await start_server(desk_settings(settings), clock=clock)


async def open_console(server: Any, token: str, status: str | None = None) -> Agent:
    """An agent console connected to `server` with a log-in token (and `status`, the one
    its page remembers, in its `auth` as the console page sends it)."""
    account = await server.app[SERVICES].accounts.authenticate(token)
    assert account is not None
    client = socketio.AsyncClient(reconnection=False)
    agent = Agent(client, account.id)

    @client.on("*", namespace="/agent")  # type: ignore[misc]
    async def record(event: str, data: Any = None) -> None:
        agent.received.append((event, data))

    await client.connect(
        str(server.make_url("/")),
        namespaces=["/agent"],
        transports=["websocket"],
        auth={"token": token} if status is None else {"token": token, "status": status},
        wait_timeout=10,
    )
    return agent


async def connect_agent(
    server: Any,
    username: str,
    name: str,
    languages: list[str],
    role: str = "agent",
    *,
    takes_chats: bool = False,
) -> Agent:
    """An account on `server` and its console, connected with a fresh log-in
    (`takes_chats`: a supervisor who is offered chats)."""
    accounts = server.app[SERVICES].accounts
    await accounts.add(
        username=username,
        name=name,
        languages=languages,
        teams=["technical", "account", "trading"],
        capacity=3,
        role=role,
        password=PASSWORD,
        takes_chats=takes_chats,
    )
    return await open_console(server, (await accounts.login(username, PASSWORD)).token)


@pytest.fixture
async def agent_for(desk):
    agents: list[Agent] = []

    async def make(
        username: str, name: str, languages: list[str], role: str = "agent", **options: Any
    ) -> Agent:
        agents.append(await connect_agent(desk, username, name, languages, role, **options))
        return agents[-1]

    yield make
    for agent in agents:
        if agent.client.connected:
            await agent.client.disconnect()


def desk_settings(settings: Settings, **changes: Any) -> Settings:
    fields = {name: getattr(settings, name) for name in settings.__slots__}
    return Settings.defaults(**{**fields, "agent_grace_seconds": 0, **changes})


async def metrics_text(server) -> str:
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/metrics")) as r:
        return await r.text()


async def test_a_japanese_customer_reaches_a_japanese_agent(desk, connect, agent_for, clock):
    emma = await agent_for("emma", "Emma Clarke", ["en"])
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja", "en"])
    customer = await connect(desk)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("message", {"text": "オペレーターと話したい"})
    (queued,) = await customer.wait_pushed("queued")
    assert queued["position"] == 1
    assert queued["fallback"] is False

    (offer,) = await aiko.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    assert not emma.pushed("offer")  # a native speaker is offered first
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    (briefing,) = await aiko.wait_pushed("conversation")
    assert briefing["conversation"]["language"] == "ja"
    assert briefing["original_text"] == "オペレーターと話したい"
    (assigned,) = await customer.wait_pushed("assigned")
    assert assigned["agent"]["name"] == "Aiko Tanaka"

    clock.advance(12)
    sent = await aiko.call(
        "message",
        {"conversation_id": conversation_id, "text": "お待たせしました。", "client_id": "a1"},
    )
    assert sent["ok"] is True
    async with asyncio.timeout(5):
        while not any(m["author"] == "agent" for m in customer.pushed("message")):
            await asyncio.sleep(0.01)
    reply = next(m for m in customer.pushed("message") if m["author"] == "agent")
    assert reply["text"] == "お待たせしました。"

    text = await metrics_text(desk)
    frt = 'chatserver_first_response_seconds_count{language="ja",priority="medium",team="account"}'
    assert f"{frt} 1.0" in text
    assert (
        'chatserver_first_responses_total{language="ja",priority="medium",status="hit",'
        'team="account"} 1.0'
    ) in text


async def test_a_thai_customer_without_a_thai_agent_reaches_english_told_in_thai(
    desk, connect, agent_for, clock
):
    emma = await agent_for("emma", "Emma Clarke", ["en"])
    sam = await agent_for("sam", "Sam Okafor", ["en"], role="supervisor")
    customer = await connect(desk)
    await customer.call("start", {"languages": ["th-TH"]})
    await customer.call("message", {"text": "ลืมรหัสผ่านMT5ต้องทำยังไง"})
    assert (await customer.call("request_agent", {}))["ok"] is True

    async with asyncio.timeout(5):
        while not any(q["fallback"] for q in customer.pushed("queued")):
            await asyncio.sleep(0.01)
    system = [m for m in customer.pushed("message") if m["author"] == "system"]
    assert any(THAI.search(m["text"]) and "ภาษาอังกฤษ" in m["text"] for m in system), system

    offers = [*emma.pushed("offer"), *sam.pushed("offer")]
    if not offers:
        offers = (await emma.wait_pushed("offer")) or []
    conversation_id = offers[0]["conversation_id"]
    assert (await emma.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    (briefing,) = await emma.wait_pushed("conversation")
    assert briefing["widened"] is True
    assert briefing["detected_language"] == "th"
    assert briefing["agent_language"] == "en"
    assert briefing["original_text"] == "ลืมรหัสผ่านMT5ต้องทำยังไง"
    assert briefing["faq"]["question_en"]  # the matched entry, in English

    clock.advance(20)
    await emma.call("message", {"conversation_id": conversation_id, "text": "Hello! I can help."})
    text = await metrics_text(desk)
    assert 'chatserver_first_response_seconds_count{language="th"' in text
    assert 'chatserver_fallbacks_total{reason="no_agent"} 1.0' in text

    token = (await desk.app[SERVICES].accounts.login("sam", PASSWORD)).token
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(desk.make_url("/api/v1/reports/sla"), params={"by": "day"}) as response,
    ):
        report = await response.json()
    (row,) = [r for r in report["rows"] if r["language"] == "th"]
    assert (row["handoffs"], row["within_target"], row["frt_p50_seconds"]) == (1, 1, 20.0)
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(desk.make_url("/api/v1/reports/sla"), params={"format": "csv"}) as response,
    ):
        csv_text = await response.text()
    assert csv_text.splitlines()[0].startswith("period,language,team,priority,handoffs")
    assert ",th," in csv_text


async def test_nobody_online_offers_a_message_and_a_tracking_number(desk, connect):
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    (offline,) = await customer.wait_pushed("offline")
    number = offline["tracking_number"]
    assert re.fullmatch(r"[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]", number)
    left = await customer.call(
        "leave_message", {"kind": "email", "contact": "kenji@example.com", "text": "Call me"}
    )
    assert left == {"ok": True, "tracking_number": number}

    async with aiohttp.ClientSession() as session:
        async with session.get(
            desk.make_url(f"/api/v1/inquiries/{number.lower()}"),
            headers={"Authorization": f"Bearer {started['token']}"},
        ) as response:
            assert response.status == 200
            status = await response.json()
        async with session.get(
            desk.make_url(f"/api/v1/inquiries/{number}"),
            headers={"Authorization": "Bearer someone-elses-token"},
        ) as response:
            assert response.status == 404
    assert status["status"] == "offline"
    assert status["tracking_number"] == number


async def test_the_breach_reaches_supervisors_once(desk, connect, agent_for, clock):
    sam = await agent_for("sam", "Sam Okafor", ["ja", "en"], role="supervisor", takes_chats=True)
    customer = await connect(desk)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    await sam.wait_pushed("offer")
    clock.advance(21)
    (warning,) = await sam.wait_pushed("sla_warning")
    assert warning["kind"] == "first_response"
    clock.advance(10)
    (breach,) = await sam.wait_pushed("sla_breach")
    assert breach["language"] == "ja"
    await asyncio.sleep(0.6)  # more ticks: still one of each
    assert len(sam.pushed("sla_breach")) == 1
    assert len(sam.pushed("sla_warning")) == 1


async def test_an_agent_who_leaves_has_their_chats_requeued(desk, connect, agent_for):
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja"])
    customer = await connect(desk)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    (offer,) = await aiko.wait_pushed("offer")
    await aiko.call("accept", {"conversation_id": offer["conversation_id"]})
    await customer.wait_pushed("assigned")
    mei = await agent_for("mei", "Mei Lin", ["ja", "zh-Hans"])
    await aiko.client.disconnect()  # grace period 0 in this desk
    (second_offer,) = await mei.wait_pushed("offer")
    assert second_offer["conversation_id"] == offer["conversation_id"]


async def test_an_agent_without_a_valid_token_is_refused(desk):
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            str(desk.make_url("/")),
            namespaces=["/agent"],
            transports=["websocket"],
            auth={"token": "forged"},
            wait_timeout=5,
        )


async def test_supervisors_see_every_waiting_chat_agents_only_theirs(desk, connect, agent_for):
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja"])
    emma = await agent_for("emma", "Emma Clarke", ["en"])
    sam = await agent_for("sam", "Sam Okafor", ["en"], role="supervisor")
    customer = await connect(desk)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    (offer,) = await aiko.wait_pushed("offer")
    waiting_id = offer["conversation_id"]

    async with asyncio.timeout(5):
        while not any(
            w["conversation_id"] == waiting_id for q in sam.pushed("queue") for w in q["waiting"]
        ):
            await asyncio.sleep(0.01)
    # Emma (English only, not a supervisor) is never shown a Japanese chat she cannot take.
    assert all(
        w["conversation_id"] != waiting_id for q in emma.pushed("queue") for w in q["waiting"]
    )
    assert any(
        w["conversation_id"] == waiting_id for q in aiko.pushed("queue") for w in q["waiting"]
    )


async def test_out_of_hours_a_handoff_offers_a_message_even_with_agents_online(
    start_server, settings, connect, clock
):
    # The clock reads Tuesday 09:00 UTC = 18:00 in Tokyo: the desk has just closed.
    closed = desk_settings(settings, chat_hours="mon-fri 09:00-18:00", timezone="Asia/Tokyo")
    server = await start_server(closed, clock=clock)
    aiko = await connect_agent(server, "aiko", "Aiko Tanaka", ["ja"])
    try:
        customer = await connect(server)
        await customer.call("start", {"languages": ["ja"]})
        assert (await customer.call("request_agent", {}))["ok"] is True
        (offline,) = await customer.wait_pushed("offline")
        assert offline["reason"] == "out_of_hours"
        assert offline["tracking_number"]
        assert not customer.pushed("queued")
        assert 'chatserver_offline_total{reason="out_of_hours"} 1.0' in await metrics_text(server)

        clock.advance(-60)  # 17:59 in Tokyo: open, and Aiko is there
        later = await connect(server)
        await later.call("start", {"languages": ["ja"]})
        await later.call("request_agent", {})
        (queued,) = await later.wait_pushed("queued")
        assert queued["position"] == 1
    finally:
        await aiko.client.disconnect()


async def test_the_sla_file_sets_the_target_and_the_warning(
    start_server, settings, connect, clock, tmp_path
):
    sla_file = tmp_path / "sla.yaml"
    sla_file.write_text("chat:\n  first_response: 20s\n  warn_before: 5s\n", encoding="utf-8")
    server = await start_server(desk_settings(settings, sla_file=sla_file), clock=clock)
    aiko = await connect_agent(server, "aiko", "Aiko Tanaka", ["ja"])
    try:
        customer = await connect(server)
        await customer.call("start", {"languages": ["ja"]})
        await customer.call("request_agent", {})
        (offer,) = await aiko.wait_pushed("offer")
        await aiko.call("accept", {"conversation_id": offer["conversation_id"]})
        (briefing,) = await aiko.wait_pushed("conversation")
        assert briefing["sla"]["remaining_seconds"] == 20
        clock.advance(14)
        await asyncio.sleep(0.6)  # a few ticks: 6 s left is not yet a warning
        assert not aiko.pushed("sla_warning")
        clock.advance(1.5)
        (warning,) = await aiko.wait_pushed("sla_warning")
        assert warning["remaining_seconds"] == 4.5
    finally:
        await aiko.client.disconnect()


async def test_a_transfer_keeps_the_clock_and_notes_never_reach_the_customer(
    desk, connect, agent_for, clock
):
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja"])
    customer = await connect(desk)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    (offer,) = await aiko.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    await aiko.call("accept", {"conversation_id": conversation_id})
    await aiko.wait_pushed("conversation")
    mei = await agent_for("mei", "Mei Lin", ["ja", "zh-Hans"])
    noted = await aiko.call(
        "note", {"conversation_id": conversation_id, "text": "VIP, be careful", "client_id": "n1"}
    )
    assert noted["ok"] is True

    clock.advance(12)
    moved = await aiko.call(
        "transfer",
        {"conversation_id": conversation_id, "to_agent": mei.id, "reason": "MT5 expert"},
    )
    assert moved["ok"] is True
    (released,) = await aiko.wait_pushed("released")
    assert released["conversation_id"] == conversation_id
    (briefing,) = await mei.wait_pushed("conversation")
    # The first-response clock kept running from the handoff: 30 - 12 s left.
    assert briefing["sla"]["remaining_seconds"] == 18
    transfer_notes = [m for m in briefing["messages"] if m["meta"].get("kind") == "transfer"]
    assert [
        (m["internal"], m["meta"]["agent_name"], m["meta"]["reason"]) for m in transfer_notes
    ] == [(True, "Aiko Tanaka", "MT5 expert")]
    assert any(m["text"] == "VIP, be careful" and m["internal"] for m in briefing["messages"])

    clock.advance(3)
    await mei.call("message", {"conversation_id": conversation_id, "text": "お待たせしました"})
    async with asyncio.timeout(5):
        while not any(m["author"] == "agent" for m in customer.pushed("message")):
            await asyncio.sleep(0.01)
    seen = [m["text"] for m in customer.pushed("message")]
    assert "お待たせしました" in seen
    assert not any("VIP" in text or "MT5 expert" in text for text in seen)
    assert all(not m["internal"] for m in customer.pushed("message"))
    assert (
        'chatserver_first_responses_total{language="ja",priority="medium",status="hit",team='
        in (await metrics_text(desk))
    )


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("de", "Hilfe, jemand hat mein Konto gehackt und handelt damit!"),
        ("ja", "さっきロスカットされて全部のポジションが消えました"),
        ("en", "got a margin call email, is my money gone??"),
        ("fr", "au secours mon compte a été piraté, il y a des ordres que j'ai pas passés"),
        ("es", "me llegó un margin call y no sé qué hacer, ayuda"),
        ("it", "mi hanno fatto stop out su tutto stamattina, perché?"),
        ("pt", "minha conta foi hackeada, alguém sacou meu dinheiro"),
        ("id", "akun saya diretas, ada transaksi yang bukan saya"),
        ("ms", "akaun saya kena margin call semalam, apa nak buat"),
        ("vi", "tài khoản của tôi bị hack rồi, cứu với"),
        ("th", "พอร์ตโดนบังคับปิดหมดเลยครับ ทำไมเป็นแบบนี้"),
        ("ko", "계좌가 해킹당한 것 같아요 모르는 거래가 있어요"),
        ("zh-Hans", "我的仓位昨晚全部被强制平仓了，怎么回事"),
        ("zh-Hant", "我的帳戶好像被駭了，有陌生的登入紀錄"),
        ("ar", "حسابي تعرض للاختراق وفيه صفقات ما سويتها"),
    ],
)
async def test_an_urgent_message_reaches_a_person_at_once_with_the_answer(
    desk, connect, agent_for, language, text
):
    """No "talk to a person" needed: the chat is queued as urgent, and the customer also
    gets the bot's reply (the FAQ's advice) to read while they wait."""
    await agent_for("emma", "Emma Clarke", ["en"])
    customer = await connect(desk)
    started = await customer.call("start", {"language": language})
    assert (await customer.call("message", {"text": text}))["ok"] is True
    (queued,) = await customer.wait_pushed("queued")
    assert queued["position"] == 1
    bot = [m for m in customer.pushed("message") if m["author"] == "bot"]
    assert bot  # the answer or suggestions came first
    stored = await desk.app[SERVICES].store.get_conversation(started["conversation"]["id"])
    assert stored is not None
    assert str(stored.status) == "queued"
    assert str(stored.priority) == "urgent"


async def test_each_chat_is_measured_in_its_cell_of_the_sla_matrix(desk, connect, agent_for, clock):
    emma = await agent_for("emma", "Emma", ["en"])
    sam = await agent_for("sam", "Sam", ["en"], role="supervisor")
    customer = await connect(desk)
    await customer.call("start", {"languages": ["en"]})
    await customer.call("message", {"text": "How do I open an account?"})  # the FAQ answers
    assert (await customer.call("request_agent", {}))["ok"] is True
    offers = [*emma.pushed("offer"), *sam.pushed("offer")]
    if not offers:
        offers = (await emma.wait_pushed("offer")) or []
    conversation_id = offers[0]["conversation_id"]
    applied = desk.app[SERVICES].dispatcher.sla_of(conversation_id)
    assert applied is not None
    assert applied.policy.name == "chat/account-opening/standard/medium"
    assert applied.resolution is not None
    assert applied.resolution.due_at - applied.resolution.started_at == timedelta(hours=48)

    agent = (
        emma if any(o["conversation_id"] == conversation_id for o in emma.pushed("offer")) else sam
    )
    assert (await agent.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    clock.advance(12)
    await agent.call("message", {"conversation_id": conversation_id, "text": "Happy to help."})

    token = (await desk.app[SERVICES].accounts.login("sam", PASSWORD)).token
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(desk.make_url("/api/v1/reports/sla"), params={"by": "cell"}) as response,
    ):
        report = await response.json()
    (row,) = report["rows"]
    assert row["cell"] == "chat/account-opening/standard/medium"
    assert (row["frt_target_seconds"], row["within_target"], row["frt_p50_seconds"]) == (
        30.0,
        1,
        12.0,
    )
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(
            desk.make_url("/api/v1/reports/sla"), params={"by": "cell", "format": "csv"}
        ) as response,
    ):
        lines = (await response.text()).splitlines()
    assert lines[0].startswith("cell,channel,topic,tier,priority,frt_target_seconds")
    assert lines[1].startswith("chat/account-opening/standard/medium,chat,account-opening,")


async def test_a_resend_after_the_chat_went_offline_is_acknowledged_not_refused(desk, connect):
    customer = await connect(desk)
    await customer.call("start", {"languages": ["ja"]})
    first = await customer.call("message", {"text": "口座を開設したい", "client_id": "k1"})
    await customer.call("request_agent", {})
    await customer.wait_pushed("offline")  # nobody online: the chat now takes a message only

    # The widget resends what it has no acknowledgement for (the first one was lost).
    resent = await customer.call("message", {"text": "口座を開設したい", "client_id": "k1"})
    assert resent["ok"] is True
    assert resent["duplicate"] is True
    assert resent["message"]["seq"] == first["message"]["seq"]
    # Anything new is refused: the chat takes a left message now, not chat messages.
    new = await customer.call("message", {"text": "まだですか", "client_id": "k2"})
    assert new["error"]["code"] == "conversation_closed"


async def test_a_customer_who_moved_up_hears_their_new_place_from_the_tick(
    desk, connect, agent_for
):
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja"])
    first, second = await connect(desk), await connect(desk)
    chats = []
    for customer in (first, second):
        started = await customer.call("start", {"languages": ["ja"]})
        chats.append(started["conversation"]["id"])
        await customer.call("message", {"text": "オペレーターと話したい"})
    (told,) = await second.wait_pushed("queued")
    assert told["position"] == 2  # queued: told at once
    assert (await aiko.call("accept", {"conversation_id": chats[0]}))["ok"]
    await first.wait_pushed("assigned")
    # Moved up: told by the tick's flush, within a second or so, once.
    async with asyncio.timeout(5):
        while second.pushed("queued")[-1]["position"] != 1:
            await asyncio.sleep(0.01)
    await asyncio.sleep(1.5)  # another flush or two: nothing more is owed
    assert [q["position"] for q in second.pushed("queued")] == [2, 1]

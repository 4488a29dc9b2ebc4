"""Bad input from clients, end to end: every refusal is an error code naming the field, one
log line (never a traceback) and nothing stored; the server keeps serving everyone else.

Real servers, real python-socketio clients, and raw websockets or HTTP bytes where a real
client would refuse to send the malformed thing.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer

from chatserver.keys import SERVICES
from chatserver.logs import MalformedTrafficFilter
from chatserver.settings import Settings
from tests.conftest import Customer, CustomerFactory, FakeClock, ServerFactory
from tests.test_handoff_e2e import Agent, connect_agent, desk_settings

SURROGATE = "\ud800"  # what python-socketio's JSON decoder makes of "\\ud800"
AgentFactory = Callable[..., Awaitable[Agent]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def desk(start_server: ServerFactory, settings: Settings, clock: FakeClock) -> TestServer:
    return await start_server(desk_settings(settings), clock=clock)


@pytest.fixture
async def agent_for(desk: TestServer) -> AsyncIterator[AgentFactory]:
    agents: list[Agent] = []

    async def make(username: str, languages: list[str]) -> Agent:
        agents.append(await connect_agent(desk, username, username.title(), languages))
        return agents[-1]

    yield make
    for agent in agents:
        if agent.client.connected:
            await agent.client.disconnect()


async def held_chat(
    desk: TestServer, connect: CustomerFactory, agent: Agent
) -> tuple[Customer, str]:
    """A Japanese customer's chat, accepted by `agent`."""
    customer = await connect(desk)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    (offer,) = await agent.wait_pushed("offer")
    conversation_id = str(offer["conversation_id"])
    assert (await agent.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await agent.wait_pushed("conversation")
    return customer, conversation_id


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Records that carry a stack trace, or span several lines: a log flood's raw material."""
    gc.collect()  # "Task exception was never retrieved" is logged when the task is collected
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.exc_info or r.exc_text or "\n" in r.getMessage()
    ]


async def transcript(server: TestServer, conversation_id: str) -> list[tuple[str, str]]:
    stored = await server.app[SERVICES].store.messages(conversation_id)
    return [(str(m.author), m.text) for m in stored]


# --- 1. languages: validated against the desk's, one spelling per queue ------------------


async def test_a_transfer_to_a_language_the_desk_does_not_serve_is_refused(
    desk, connect, agent_for, caplog
):
    aiko = await agent_for("aiko", ["ja", "en"])
    _customer, conversation_id = await held_chat(desk, connect, aiko)
    ack = await aiko.call(
        "transfer",
        {"conversation_id": conversation_id, "to_queue": {"language": "xx", "team": "technical"}},
    )
    assert ack["ok"] is False
    assert ack["error"]["code"] == "unsupported_language"
    # Nothing moved: the chat is still Aiko's, and consoles still connect and get the queue.
    replied = await aiko.call("message", {"conversation_id": conversation_id, "text": "はい"})
    assert replied["ok"] is True
    emma = await agent_for("emma", ["en"])
    (queue,) = await emma.wait_pushed("queue")
    assert queue["waiting"] == []
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("spelling", ["JA", "ja-JP"])
async def test_every_spelling_of_a_language_is_the_one_queue(desk, connect, agent_for, spelling):
    aiko = await agent_for("aiko", ["ja", "en"])
    _customer, conversation_id = await held_chat(desk, connect, aiko)
    mei = await agent_for("mei", ["ja"])
    ack = await aiko.call(
        "transfer",
        {
            "conversation_id": conversation_id,
            "to_queue": {"language": spelling, "team": "technical"},
        },
    )
    assert ack["ok"] is True
    (offer,) = await mei.wait_pushed("offer")
    assert offer["conversation_id"] == conversation_id
    assert offer["queue"] == "ja/technical"


@pytest.mark.parametrize(
    ("to_queue", "field"),
    [
        ({"language": "not a tag", "team": "technical"}, "to_queue.language"),
        ({"language": SURROGATE, "team": "technical"}, "to_queue.language"),
        ({"language": ["ja"], "team": "technical"}, "to_queue.language"),
        ({"language": "ja", "team": "sales"}, "to_queue.team"),
        ("ja/technical", "to_queue"),
    ],
)
async def test_a_malformed_transfer_target_is_an_invalid_payload(
    desk, connect, agent_for, caplog, to_queue, field
):
    aiko = await agent_for("aiko", ["ja", "en"])
    _customer, conversation_id = await held_chat(desk, connect, aiko)
    ack = await aiko.call("transfer", {"conversation_id": conversation_id, "to_queue": to_queue})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_payload"
    assert f"'{field}'" in ack["error"]["message"]
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    ("language", "code", "expected"),
    [
        ("EN", None, "en"),
        ("zh-hans", None, "zh-Hans"),
        ("zh-TW", None, "zh-Hant"),
        ("xx", "unsupported_language", None),
        ("not a tag", "invalid_payload", None),
        (f"ja{SURROGATE}", "invalid_payload", None),
        ("ja\x00", "invalid_payload", None),
    ],
)
async def test_choose_language_normalises_or_refuses(server, connect, language, code, expected):
    customer = await connect(server)
    await customer.call("start", {})
    ack = await customer.call("choose_language", {"language": language})
    if code is None:
        assert ack["ok"] is True
        assert ack["conversation"]["language"] == expected
    else:
        assert ack["ok"] is False
        assert ack["error"]["code"] == code


@pytest.mark.parametrize(
    ("payload", "language", "confirmed"),
    [
        ({"language": "JA"}, "ja", True),
        ({"language": "zh-hant"}, "zh-Hant", True),
        # A stale choice the desk no longer serves (the widget keeps it in localStorage):
        # the conversation starts as if there were none.
        ({"language": "xx", "languages": ["ko"]}, "ko", False),
    ],
)
async def test_start_normalises_the_chosen_language(server, connect, payload, language, confirmed):
    customer = await connect(server)
    ack = await customer.call("start", payload)
    assert ack["ok"] is True
    assert ack["conversation"]["language"] == language
    assert ack["conversation"]["language_confirmed"] is confirmed


# --- 2. text: invalid surrogates and control characters ----------------------------------


@pytest.mark.parametrize(
    ("event", "payload", "field"),
    [
        ("message", {"text": f"hi {SURROGATE}", "client_id": "c-1"}, "text"),
        ("message", {"text": "hi", "client_id": SURROGATE}, "client_id"),
        ("message", {"text": "hi", "client_id": "c\x00"}, "client_id"),
        ("message", {"text": "hi", "conversation_id": f"x{SURROGATE}"}, "conversation_id"),
        ("choose_suggestion", {"faq_id": SURROGATE}, "faq_id"),
        (
            "faq_feedback",
            {"seq": 3, "helpful": True, "conversation_id": SURROGATE},
            "conversation_id",
        ),
        ("leave_message", {"kind": "email", "contact": f"a{SURROGATE}@b.c"}, "contact"),
        ("leave_message", {"kind": "callback", "contact": "+81 3\x00"}, "contact"),
        ("leave_message", {"kind": "email", "contact": "a@b.c", "text": SURROGATE}, "text"),
        ("end", {"conversation_id": "\x00"}, "conversation_id"),
    ],
)
async def test_bad_characters_in_any_customer_field_are_an_invalid_payload(
    server, connect, caplog, event, payload, field
):
    customer = await connect(server)
    started = await customer.call("start", {})
    ack = await customer.call(event, payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_payload"
    assert f"'{field}'" in ack["error"]["message"]
    assert tracebacks(caplog) == []
    conversation_id = started["conversation"]["id"]
    assert len(await transcript(server, conversation_id)) == 1  # the greeting, nothing else
    # The conversation still works.
    assert (await customer.call("message", {"text": "hello", "client_id": "c-1"}))["ok"] is True


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"token": SURROGATE}, "token"),
        ({"token": "tok\x00en"}, "token"),
        ({"languages": ["ja", SURROGATE]}, "languages"),
        ({"language": SURROGATE}, "language"),
        ({"identity": {"customer_id": SURROGATE, "signature": "00"}}, "identity"),
    ],
)
async def test_bad_characters_at_start_are_an_invalid_payload(
    server, connect, caplog, payload, field
):
    customer = await connect(server)
    ack = await customer.call("start", payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_payload"
    assert f"'{field}" in ack["error"]["message"]
    assert tracebacks(caplog) == []


async def test_control_characters_are_dropped_from_message_text(server, connect):
    customer = await connect(server)
    await customer.call("start", {})
    ack = await customer.call(
        "message", {"text": "a\x00b\x07c\x1b[31m\r\nline two\tend\x7f", "client_id": "c-1"}
    )
    assert ack["ok"] is True
    expected = "abc[31m\nline two\tend"
    assert ack["message"]["text"] == expected
    conversation_id = ack["message"]["conversation_id"]
    assert ("customer", expected) in await transcript(server, conversation_id)


async def test_a_message_of_nothing_but_control_characters_is_refused(server, connect):
    customer = await connect(server)
    started = await customer.call("start", {})
    ack = await customer.call("message", {"text": "\x00\x01 \x02"})
    assert ack["error"]["code"] == "invalid_payload"
    assert len(await transcript(server, started["conversation"]["id"])) == 1


@pytest.mark.parametrize(
    ("event", "payload", "field"),
    [
        ("message", {"text": SURROGATE}, "text"),
        ("note", {"text": "ok", "client_id": f"n{SURROGATE}"}, "client_id"),
        ("note", {"text": "ok", "client_id": "n\x00"}, "client_id"),
        ("transfer", {"to_agent": SURROGATE}, "to_agent"),
        (
            "transfer",
            {"to_queue": {"language": "en", "team": "account"}, "reason": SURROGATE},
            "reason",
        ),
        ("accept", {"conversation_id": SURROGATE}, "conversation_id"),
        ("close", {"conversation_id": "\x00"}, "conversation_id"),
    ],
)
async def test_bad_characters_in_any_agent_field_are_an_invalid_payload(
    desk, connect, agent_for, caplog, event, payload, field
):
    aiko = await agent_for("aiko", ["ja", "en"])
    _customer, conversation_id = await held_chat(desk, connect, aiko)
    before = await transcript(desk, conversation_id)
    ack = await aiko.call(event, {"conversation_id": conversation_id, **payload})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_payload"
    assert f"'{field}'" in ack["error"]["message"]
    assert tracebacks(caplog) == []
    assert await transcript(desk, conversation_id) == before


@pytest.mark.parametrize("event", [42, ["message"], None])
async def test_an_event_name_that_is_not_a_string_is_an_invalid_payload(
    server, connect, caplog, event
):
    customer = await connect(server)
    await customer.call("start", {})
    ack = await customer.client.call(event, {"text": "hi"}, namespace="/customer", timeout=5)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_payload"
    assert tracebacks(caplog) == []
    assert (await customer.call("message", {"text": "hello"}))["ok"] is True


async def test_a_binary_event_is_an_invalid_payload_and_replies_stay_json(server, connect, caplog):
    """The server's packets are JSON only (chatserver.sockets.base.JsonPacket); a client's
    binary event is still decoded, and its bytes refused where text is expected."""
    customer = await connect(server)
    await customer.call("start", {"language": "en"})
    ack = await customer.call("message", {"text": b"\x00\xffhello", "client_id": "b1"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_payload"
    assert "text" in ack["error"]["message"]
    assert tracebacks(caplog) == []
    sent = await customer.call("message", {"text": "How do I install MT5?", "client_id": "t1"})
    assert sent["ok"] is True
    (reply,) = await customer.wait_pushed("message")
    assert reply["author"] == "bot"
    assert reply["seq"] == sent["message"]["seq"] + 1


@pytest.mark.parametrize("event", ["connect", "disconnect", "connect_error"])
async def test_reserved_event_names_sent_by_a_client_change_nothing(
    desk, connect, agent_for, event
):
    """python-socketio would run its own connect or disconnect handler for them: the
    customer's conversation forgotten, an agent taken offline while still connected."""
    aiko = await agent_for("aiko", ["ja"])
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ja"]})
    for client, namespace in ((customer.client, "/customer"), (aiko.client, "/agent")):
        ack = await client.call(event, {}, namespace=namespace, timeout=5)
        assert ack["ok"] is False
        assert ack["error"]["code"] == "unknown_event"
    sent = await customer.call("message", {"text": "hello", "client_id": "c1"})
    assert sent["message"]["conversation_id"] == started["conversation"]["id"]
    assert str(desk.app[SERVICES].dispatcher.router.agent_status(aiko.id)) == "online"
    assert (await aiko.call("status", {"status": "away"}))["ok"] is True


@pytest.mark.parametrize(
    "auth", [{"token": ["a", "list"]}, {"token": 12345}, {"token": SURROGATE}, ["token"], "x"]
)
async def test_a_malformed_agent_token_is_a_clean_refusal(desk, caplog, auth):
    client = socketio.AsyncClient(reconnection=False)
    refusals: list[Any] = []

    @client.on("connect_error", namespace="/agent")  # type: ignore[misc]
    async def refused(data: Any = None) -> None:
        refusals.append(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            str(desk.make_url("/")),
            namespaces=["/agent"],
            transports=["websocket"],
            auth=auth,
            wait_timeout=5,
        )
    await client.disconnect()
    assert len(refusals) == 1
    assert "unauthorized" in str(refusals[0])  # the refusal log-in failures get
    assert tracebacks(caplog) == []


async def raw_http(server: TestServer, request: bytes) -> tuple[int, bytes]:
    """Send bytes no HTTP client library would (invalid UTF-8 in a header)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET /api/v1/inquiries/K7PX-4QR9-M",
        b"GET /api/v1/reports/sla",
        b"GET /api/v1/reports/inbox",
        b"POST /api/v1/logout",
    ],
)
async def test_a_bearer_token_that_is_not_text_is_a_400(server, caplog, request_line):
    status, body = await raw_http(
        server,
        request_line + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xed\xa0\x80\xff\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n",
    )
    assert status == 400
    assert b'"invalid_payload"' in body
    assert b"Authorization" in body
    assert tracebacks(caplog) == []


async def test_a_request_line_that_is_not_a_url_logs_one_line(server, caplog):
    status, _body = await raw_http(
        server, b"GET /api/v1/widget/strings?lang=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert status == 400
    assert tracebacks(caplog) == []
    assert any("malformed client traffic" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"username": "\\ud800", "password": "a long password"}', "username"),
        ('{"username": "aiko", "password": "pass\\udfff"}', "password"),
        ('{"username": "ai\\u0000ko", "password": "a long password"}', "username"),
    ],
)
async def test_login_with_bad_characters_is_a_400(server, caplog, body, field):
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/api/v1/login"), data=body) as response,
    ):
        assert response.status == 400
        answer = await response.json()
    assert answer["error"]["code"] == "invalid_payload"
    assert f"'{field}'" in answer["error"]["message"]
    assert tracebacks(caplog) == []


# --- 3. malformed Engine.IO / Socket.IO packets: one line each, no traceback -------------

GARBAGE: tuple[str | bytes, ...] = (
    "zzz",  # not an Engine.IO packet type
    "",
    "\x00",
    "9",  # an Engine.IO type that does not exist
    "4",  # a message without a Socket.IO packet
    "42",
    "4{}",
    "42[",  # broken JSON
    "40/customer,{",
    "42/customer,[[1],2]",  # an event name that is a list
    "42/customer,7[null]",
    "49/customer,[]",  # a Socket.IO type that does not exist
    "44/customer,{}",  # CONNECT_ERROR from a client
    "45-/customer,[]",  # binary event without its attachment
    b"\xff\xfe\x00",
)


async def test_malformed_packets_log_one_line_each_and_the_server_still_serves(
    server, connect, caplog
):
    url = server.make_url("/socket.io/").with_query(EIO="4", transport="websocket")
    async with aiohttp.ClientSession() as session:
        for number in range(30):
            garbage = GARBAGE[number % len(GARBAGE)]
            async with session.ws_connect(url) as ws:
                opened = await ws.receive(timeout=5)
                assert str(opened.data).startswith("0{")
                await ws.send_str("40/customer,")
                connected = await ws.receive(timeout=5)
                assert str(connected.data).startswith("40/customer,")
                if isinstance(garbage, bytes):
                    await ws.send_bytes(garbage)
                else:
                    await ws.send_str(garbage)
                # A well-formed event after it: acknowledged unless the garbage closed the
                # connection (which is fine too).
                await ws.send_str('42/customer,1["ping"]')
                async with asyncio.timeout(5):
                    async for frame in ws:
                        if frame.type is not aiohttp.WSMsgType.TEXT:
                            break
                        if frame.data.startswith("43/customer,1["):
                            assert "unknown_event" in frame.data
                            break
    customer = await connect(server)
    assert (await customer.call("start", {}))["ok"] is True
    assert (await customer.call("message", {"text": "hello"}))["ok"] is True
    await asyncio.sleep(0.1)  # background handlers of the last packets
    assert tracebacks(caplog) == []


async def test_malformed_polling_bodies_log_one_line_each(server, connect, caplog):
    base = server.make_url("/socket.io/")
    async with aiohttp.ClientSession() as session:
        for garbage in (b"zzz", b"4\x1e\xff", b"42[", b"9", b"40/customer,{", b"\x1e\x1e"):
            async with session.get(base.with_query(EIO="4", transport="polling")) as response:
                handshake = await response.text()
            sid = handshake[handshake.index('"sid":"') + 7 :].split('"', 1)[0]
            polling = base.with_query(EIO="4", transport="polling", sid=sid)
            async with session.post(polling, data=b"40/customer,") as response:
                assert response.status == 200
            async with session.post(polling, data=garbage) as response:
                assert response.status in (200, 400)
            # Hang up (an Engine.IO close packet) if the garbage left the session open: the
            # server's shutdown waits for each open polling session to collect its close.
            async with session.post(polling, data=b"1") as response:
                assert response.status in (200, 400)
    customer = await connect(server, transport="polling")
    assert (await customer.call("start", {}))["ok"] is True
    await asyncio.sleep(0.1)
    assert tracebacks(caplog) == []


def raising_through(*modules: str) -> Callable[[], None]:
    """A function that raises ValueError after calling through a function of each module."""

    def fail() -> None:
        raise ValueError("bad\npacket")

    call: Callable[[], None] = fail
    for module in reversed(modules):
        namespace: dict[str, Any] = {"__name__": module, "inner": call}
        exec("def outer():\n    inner()\n", namespace)
        call = namespace["outer"]
    return call


@pytest.mark.parametrize(
    ("modules", "quiet"),
    [
        (("aiohttp.web_protocol", "engineio.async_socket", "engineio.packet"), True),
        (("engineio.async_server", "socketio.async_server", "json.decoder"), True),
        # Our own bug, reached through the libraries (a connect handler): keep the traceback.
        (("engineio.async_server", "socketio.async_server", "chatserver.sockets.agent"), False),
        (("aiohttp.web_protocol", "chatserver.api"), False),
    ],
)
def test_only_failures_inside_the_transport_libraries_lose_their_traceback(modules, quiet):
    try:
        raising_through(*modules)()
    except ValueError:
        record = logging.LogRecord(
            "engineio.server", logging.ERROR, __file__, 1, "message async handler error", None,
            sys.exc_info(),
        )  # fmt: skip
    assert MalformedTrafficFilter().filter(record) is True
    if quiet:
        assert record.exc_info is None
        assert record.levelno == logging.WARNING
        assert record.getMessage() == (
            "malformed client traffic: message async handler error: ValueError 'bad\\npacket'"
        )
    else:
        assert record.exc_info is not None
        assert record.levelno == logging.ERROR


# --- 4. frames: every message the text limit admits fits in a frame ----------------------


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_message_of_the_most_emoji_allowed_is_stored(
    start_server, settings, connect, transport
):
    defaults = Settings.defaults()
    server = await start_server(
        desk_settings(settings, max_message_chars=defaults.max_message_chars), clock=FakeClock()
    )
    customer = await connect(server, transport=transport)
    await customer.call("start", {})
    text = "😀" * defaults.max_message_chars  # 12 bytes each once JSON-escaped
    ack = await customer.call("message", {"text": text, "client_id": "emoji"})
    assert ack["ok"] is True
    assert ack["message"]["text"] == text
    assert ("customer", text) in await transcript(server, ack["message"]["conversation_id"])
    # One character more is refused by the handler, not by the transport.
    ack = await customer.call("message", {"text": text + "😀"})
    assert ack["error"]["code"] == "text_too_long"


# --- 5. client_id de-duplication is per author -------------------------------------------


async def test_a_customer_reusing_an_agents_client_id_never_sees_the_agents_note(
    desk, connect, agent_for
):
    aiko = await agent_for("aiko", ["ja", "en"])
    customer, conversation_id = await held_chat(desk, connect, aiko)
    noted = await aiko.call(
        "note", {"conversation_id": conversation_id, "text": "VIP, be careful", "client_id": "x1"}
    )
    assert noted["ok"] is True
    sent = await customer.call("message", {"text": "こんにちは", "client_id": "x1"})
    assert sent["ok"] is True
    assert sent["duplicate"] is False
    assert sent["message"]["text"] == "こんにちは"
    assert sent["message"]["author"] == "customer"
    # The customer's own resend is still stored once, and so is the agent's.
    again = await customer.call("message", {"text": "こんにちは", "client_id": "x1"})
    assert (again["duplicate"], again["message"]["id"]) == (True, sent["message"]["id"])
    renote = await aiko.call(
        "note", {"conversation_id": conversation_id, "text": "VIP, be careful", "client_id": "x1"}
    )
    assert (renote["duplicate"], renote["message"]["id"]) == (True, noted["message"]["id"])
    stored = await transcript(desk, conversation_id)
    assert stored[-2:] == [("agent", "VIP, be careful"), ("customer", "こんにちは")]


async def test_two_agents_of_a_conversation_have_their_own_client_ids(desk, connect, agent_for):
    aiko = await agent_for("aiko", ["ja", "en"])
    _customer, conversation_id = await held_chat(desk, connect, aiko)
    mei = await agent_for("mei", ["ja"])
    await aiko.call(
        "note", {"conversation_id": conversation_id, "text": "Aiko's", "client_id": "1"}
    )
    moved = await aiko.call("transfer", {"conversation_id": conversation_id, "to_agent": mei.id})
    assert moved["ok"] is True
    await mei.wait_pushed("conversation")
    sent = await mei.call(
        "message", {"conversation_id": conversation_id, "text": "Mei here", "client_id": "1"}
    )
    assert (sent["ok"], sent["duplicate"], sent["message"]["text"]) == (True, False, "Mei here")

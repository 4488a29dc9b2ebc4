"""bench/sio_wire.py, the load harness's raw Socket.IO client, against a real python-socketio
server: the encoding is what python-socketio speaks (connect with auth, events, acks,
pings, a refused connect). Correctness only; its speed is measured by bench/load.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.sio_wire import (
    ACK,
    CONNECT,
    EVENT,
    ConnectRefused,
    Packet,
    WireClient,
    decode,
    encode_ack,
    encode_connect,
    encode_event,
)


def test_encoding() -> None:
    assert encode_connect("/customer") == "40/customer,"
    assert encode_connect("/agent", {"token": "t"}) == '40/agent,{"token":"t"}'
    assert encode_connect("/") == "40"
    assert encode_event("/customer", "start", {"a": 1}, 7) == '42/customer,7["start",{"a":1}]'
    assert encode_event("/", "ping") == '42["ping"]'
    assert encode_ack("/customer", 3, [{"ok": True}]) == '43/customer,3[{"ok":true}]'


def test_decoding() -> None:
    assert decode('43/customer,12[{"ok":true}]') == Packet(ACK, "/customer", 12, [{"ok": True}])
    assert decode('42["message",{"x":1}]') == Packet(EVENT, "/", None, ["message", {"x": 1}])
    assert decode('40/agent,{"sid":"abc"}') == Packet(CONNECT, "/agent", None, {"sid": "abc"})
    assert decode("40/agent,") == Packet(CONNECT, "/agent", None, None)
    assert decode("40/agent") == Packet(CONNECT, "/agent", None, None)
    assert decode("2") is None  # an Engine.IO ping, not a Socket.IO packet
    assert decode('42/customer,["a",[1,2]]') == Packet(EVENT, "/customer", None, ["a", [1, 2]])


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, socketio.AsyncServer, dict[str, Any]]]:
    """python-socketio on aiohttp, pinging every 0.1 s so the client must answer."""
    sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=0.1, ping_timeout=0.5)
    app = web.Application()
    sio.attach(app)
    seen: dict[str, Any] = {"auth": [], "events": [], "disconnects": 0}

    @sio.on("connect", namespace="/customer")  # type: ignore[misc]
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        seen["auth"].append(auth)
        return not (isinstance(auth, dict) and auth.get("refuse"))

    @sio.on("disconnect", namespace="/customer")  # type: ignore[misc]
    async def disconnect(sid: str, *_: Any) -> None:
        seen["disconnects"] += 1

    @sio.on("start", namespace="/customer")  # type: ignore[misc]
    async def start(sid: str, data: Any) -> dict[str, Any]:
        seen["events"].append(data)
        await sio.emit("message", {"author": "bot", "echo": data}, to=sid, namespace="/customer")
        return {"ok": True, "token": "secret", "got": data}

    @sio.on("note", namespace="/customer")  # type: ignore[misc]
    async def note(sid: str, data: Any) -> None:
        seen["events"].append(data)

    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield str(test_server.make_url("/")), sio, seen
    finally:
        await test_server.close()


async def test_talks_to_python_socketio(
    server: tuple[str, socketio.AsyncServer, dict[str, Any]],
) -> None:
    url, _, seen = server
    received: list[Any] = []
    async with aiohttp.ClientSession() as session:
        client = WireClient(session, url, "/customer")
        client.handlers["message"] = received.append
        await client.connect(auth={"token": "t"})
        assert client.sid
        assert seen["auth"] == [{"token": "t"}]
        ack = await client.call("start", {"languages": ["ja"], "text": '日本語 "quoted"'})
        assert ack == {"ok": True, "token": "secret", "got": seen["events"][0]}
        assert seen["events"][0] == {"languages": ["ja"], "text": '日本語 "quoted"'}
        for _ in range(50):
            if received:
                break
            await asyncio.sleep(0.01)
        assert received == [{"author": "bot", "echo": seen["events"][0]}]
        await client.emit("note", [1, 2])  # no ack asked for
        # Several ping intervals: the client answered each ping, so the server kept it.
        await asyncio.sleep(1.0)
        assert (await client.call("start", {"n": 2}))["got"] == {"n": 2}
        assert seen["events"][1] == [1, 2]
        await client.close()
        for _ in range(100):
            if seen["disconnects"]:
                break
            await asyncio.sleep(0.01)
        assert seen["disconnects"] == 1


async def test_refused_connect(server: tuple[str, socketio.AsyncServer, dict[str, Any]]) -> None:
    url, _, _ = server
    async with aiohttp.ClientSession() as session:
        client = WireClient(session, url, "/customer")
        with pytest.raises(ConnectRefused):
            await client.connect(auth={"refuse": True})
        await client.close()

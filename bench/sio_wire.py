"""Socket.IO v5 over Engine.IO v4, websocket transport only, spoken directly over aiohttp's
websocket client: the load harness (bench/load.py) runs thousands of these per process,
where python-socketio's own client would cost the load generator more than the server.

Text packets only (no binary attachments, no polling, no reconnection):

    0{"sid": ..., "pingInterval": ...}     Engine.IO open (server -> client)
    2 / 3                                   ping (server) / pong (client)
    40/customer,{auth}                      connect to a namespace; answered 40/customer,{"sid"}
                                            or 44/customer,{"message", "data"} (refused)
    42/customer,7["start",{...}]            event with ack id 7
    43/customer,7[{...}]                    the ack of event 7
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

# What Chromium sends with a websocket handshake besides the websocket's own headers
# (--browser in bench/load.py); Origin is the server's, where the widget's page is.
BROWSER_HEADERS = {
    "Pragma": "no-cache",
    "Cache-Control": "no-cache",
    "User-Agent": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    ),
    "Accept-Encoding": "gzip, deflate, br, zstd",
    "Accept-Language": "th-TH,th;q=0.9,en-US;q=0.8,en;q=0.7",
}

# Engine.IO packet types (first character of a websocket text frame).
EIO_OPEN, EIO_CLOSE, EIO_PING, EIO_PONG, EIO_MESSAGE = "0", "1", "2", "3", "4"
# Socket.IO packet types (second character, after EIO_MESSAGE).
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR = "0", "1", "2", "3", "4"


def _prefix(namespace: str) -> str:
    return "" if namespace in ("", "/") else f"{namespace},"


def encode_connect(namespace: str, auth: Any = None) -> str:
    body = "" if auth is None else json.dumps(auth, separators=(",", ":"))
    return f"{EIO_MESSAGE}{CONNECT}{_prefix(namespace)}{body}"


def encode_event(namespace: str, event: str, data: Any = None, ack_id: int | None = None) -> str:
    args = [event] if data is None else [event, data]
    ack = "" if ack_id is None else str(ack_id)
    return f"{EIO_MESSAGE}{EVENT}{_prefix(namespace)}{ack}{json.dumps(args, separators=(',', ':'))}"


def encode_ack(namespace: str, ack_id: int, args: list[Any]) -> str:
    return (
        f"{EIO_MESSAGE}{ACK}{_prefix(namespace)}{ack_id}{json.dumps(args, separators=(',', ':'))}"
    )


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet (`kind` is CONNECT, EVENT, ...); `data` is the decoded JSON."""

    kind: str
    namespace: str
    ack_id: int | None
    data: Any


def decode(frame: str) -> Packet | None:
    """A Socket.IO packet from an Engine.IO message frame; None for any other frame."""
    if len(frame) < 2 or frame[0] != EIO_MESSAGE:
        return None
    kind, i = frame[1], 2
    if kind in ("5", "6"):  # binary event / ack: "<n>-" attachments; not used here
        i = frame.index("-", i) + 1
    namespace = "/"
    if i < len(frame) and frame[i] == "/":
        comma = frame.find(",", i)
        namespace, i = (frame[i:], len(frame)) if comma < 0 else (frame[i:comma], comma + 1)
    start = i
    while i < len(frame) and frame[i].isdigit():
        i += 1
    ack_id = int(frame[start:i]) if i > start else None
    data = json.loads(frame[i:]) if i < len(frame) else None
    return Packet(kind, namespace, ack_id, data)


class ConnectRefused(Exception):
    """The server answered the namespace connect with CONNECT_ERROR."""


class WireClient:
    """One Socket.IO client on one namespace over one websocket.

    `call` sends an event and returns its ack's first argument; `handlers[event]` is called
    (synchronously, in the reader) with the event's first argument.
    """

    def __init__(
        self, session: aiohttp.ClientSession, url: str, namespace: str, *, browser: bool = False
    ) -> None:
        base = url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.ws_url = f"{base}/socket.io/?EIO=4&transport=websocket"
        self.session = session
        self.namespace = namespace
        # As a browser connects: its headers, and permessage-deflate offered (aiohttp's
        # client offers it only if asked).
        origin = base.replace("ws://", "http://", 1).replace("wss://", "https://", 1)
        self.headers = {**BROWSER_HEADERS, "Origin": origin} if browser else {}
        self.compress = 15 if browser else 0
        self.handlers: dict[str, Callable[[Any], None]] = {}
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.sid: str | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_ack = 0
        self._connected: asyncio.Future[Any] | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, auth: Any = None, wait: float = 30) -> None:
        self.ws = await self.session.ws_connect(
            self.ws_url, max_msg_size=0, compress=self.compress, headers=self.headers
        )
        opened = await asyncio.wait_for(self.ws.receive(), wait)
        if opened.type != aiohttp.WSMsgType.TEXT or not opened.data.startswith(EIO_OPEN):
            raise ConnectionError(f"no Engine.IO open packet: {opened.type} {opened.data!r}")
        self._connected = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        await self.ws.send_str(encode_connect(self.namespace, auth))
        self.sid = (await asyncio.wait_for(self._connected, wait) or {}).get("sid")

    async def emit(self, event: str, data: Any = None) -> None:
        assert self.ws is not None
        await self.ws.send_str(encode_event(self.namespace, event, data))

    async def call(self, event: str, data: Any = None, wait: float = 60) -> Any:
        assert self.ws is not None
        self._next_ack += 1
        ack_id = self._next_ack
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        try:
            await self.ws.send_str(encode_event(self.namespace, event, data, ack_id))
            return await asyncio.wait_for(future, wait)
        finally:
            self._acks.pop(ack_id, None)

    async def _read(self) -> None:
        assert self.ws is not None
        ws = self.ws
        try:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                frame: str = message.data
                if frame == EIO_PING:
                    await ws.send_str(EIO_PONG)
                    continue
                packet = decode(frame)
                if packet is None or packet.namespace != self.namespace:
                    continue
                if packet.kind == EVENT and isinstance(packet.data, list) and packet.data:
                    handler = self.handlers.get(packet.data[0])
                    if handler is not None:
                        handler(packet.data[1] if len(packet.data) > 1 else None)
                elif packet.kind == ACK and packet.ack_id is not None:
                    future = self._acks.get(packet.ack_id)
                    if future is not None and not future.done():
                        future.set_result(packet.data[0] if packet.data else None)
                elif packet.kind == CONNECT and self._connected and not self._connected.done():
                    self._connected.set_result(packet.data)
                elif (
                    packet.kind == CONNECT_ERROR
                    and self._connected is not None
                    and not self._connected.done()
                ):
                    self._connected.set_exception(ConnectRefused(packet.data))
        finally:
            error = ConnectionError("websocket closed")
            if self._connected is not None and not self._connected.done():
                self._connected.set_exception(error)
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(error)

    @property
    def closed(self) -> bool:
        return self.ws is None or self.ws.closed

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.send_str(f"{EIO_MESSAGE}{DISCONNECT}{_prefix(self.namespace)}")
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

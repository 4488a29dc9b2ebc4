"""The websocket transport declines permessage-deflate (chatserver/sockets/websocket.py):
a client that offers it, as every browser does, gets plain frames and chats as before."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

# What Chromium sends on every websocket it opens.
BROWSER_OFFER = "permessage-deflate; client_max_window_bits"


async def frames_until(ws: aiohttp.ClientWebSocketResponse, prefix: str) -> str:
    """The first text frame starting with `prefix`, answering pings on the way."""
    while True:
        message = await ws.receive(timeout=10)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        if message.data == "2":
            await ws.send_str("3")
        elif message.data.startswith(prefix):
            return str(message.data)


async def test_a_client_offering_compression_as_browsers_do_gets_plain_frames(server: Any) -> None:
    url = server.make_url("/socket.io/?EIO=4&transport=websocket")
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers={"Sec-WebSocket-Extensions": BROWSER_OFFER}) as ws,
    ):
        # The handshake answers without the extension: the client may not compress, and
        # aiohttp's client refuses a compressed frame it did not agree to (reserved bit).
        assert ws.compress == 0
        assert "Sec-WebSocket-Extensions" not in ws._response.headers
        opened = json.loads((await frames_until(ws, "0"))[1:])
        assert opened["sid"]

        await ws.send_str("40/customer,")
        await frames_until(ws, "40/customer,")
        await ws.send_str('42/customer,1["start",{"languages":["en"]}]')
        started = json.loads((await frames_until(ws, "43/customer,1"))[len("43/customer,1") :])
        assert started[0]["ok"], started
        ask = {"text": "How do I install MT5?", "client_id": "c1"}
        await ws.send_str("42/customer,2" + json.dumps(["message", ask]))
        # The bot's answer and the message's ack, in whichever order they come.
        reply = json.loads(
            (await frames_until(ws, '42/customer,["message"'))[len("42/customer,") :]
        )
        assert reply[1]["author"] == "bot"
        assert reply[1]["text"]

"""The websocket transport without per-message compression.

Browsers offer permessage-deflate on every websocket, and aiohttp's `WebSocketResponse`,
which Engine.IO's aiohttp driver creates, accepts it by default. Each connection then
keeps a zlib compressor and decompressor for its whole life: with 10,000 customers
offering it as browsers do, 137.6 KiB of server memory a connection, against 29.9 KiB
with it declined, and connecting took twice as long (`bench/load.py --browser`,
docs/benchmarks.md). The desk's frames are a few hundred bytes of JSON, which deflate
shortens little. Engine.IO's own server for Node.js turned it off by default (Socket.IO
2.4 and 3) for the same reason: "huge memory usage in production deployments".

`PlainWebSocket` is the driver's class, its one step the same, with compression declined:
the handshake answers without the extension and the browser sends plain frames. Garbage
from a client still fails inside Engine.IO, through this step: chatserver/logs.py counts
this module as part of the library, so such a failure stays one line, not a traceback.
"""

from __future__ import annotations

from typing import Any

from aiohttp.web import WebSocketResponse
from engineio.async_drivers import aiohttp as engineio_aiohttp


class PlainWebSocket(engineio_aiohttp.WebSocket):  # type: ignore[misc]
    """Engine.IO's aiohttp websocket, declining permessage-deflate."""

    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


def declining_compression(drivers: dict[str, Any]) -> dict[str, Any]:
    """Engine.IO's drivers with `PlainWebSocket` for aiohttp's websocket (others as they are)."""
    if drivers.get("websocket") is engineio_aiohttp.WebSocket:
        return {**drivers, "websocket": PlainWebSocket}
    return drivers

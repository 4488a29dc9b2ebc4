"""The baseline bench/load.py compares the chat server with: a bare python-socketio
AsyncServer on aiohttp whose `/customer` namespace answers like ours, with nothing behind
it (no store, no bot, no desk).

    python bench/echo_server.py --port 8100 [--tuned]

`start` is acknowledged with a token and a conversation; `message` is acknowledged with the
stored-message shape (a `seq`) and answered by a `message` event from the "bot" carrying
`meta.in_reply_to`, so the harness times both servers with the same client code.
`--tuned` does what chatserver/runtime.py does at start-up: uvloop, a large first GC
generation and gc.freeze() once serving; without it: asyncio's loop and default GC.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import secrets
from typing import Any

import socketio
from aiohttp import web

GC_THRESHOLD = (50000, 50, 100)  # chatserver's default (CHATSERVER_GC_THRESHOLD)


def build_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
    app = web.Application()
    sio.attach(app)
    seqs: dict[str, int] = {}

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/readyz", healthz)

    @sio.on("connect", namespace="/customer")  # type: ignore[misc]
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        seqs[sid] = 0

    @sio.on("disconnect", namespace="/customer")  # type: ignore[misc]
    async def disconnect(sid: str, *args: Any) -> None:
        seqs.pop(sid, None)

    @sio.on("start", namespace="/customer")  # type: ignore[misc]
    async def start(sid: str, data: Any = None) -> dict[str, Any]:
        seqs[sid] = 1
        return {
            "ok": True,
            "token": secrets.token_urlsafe(32),
            "conversation": {"id": sid, "status": "bot", "language": "en", "last_seq": 1},
            "resumed": False,
            "messages": [],
        }

    @sio.on("message", namespace="/customer")  # type: ignore[misc]
    async def message(sid: str, data: Any = None) -> dict[str, Any]:
        seq = seqs.get(sid, 0) + 1
        seqs[sid] = seq + 1
        text = data.get("text", "") if isinstance(data, dict) else ""
        await sio.emit(
            "message",
            {"author": "bot", "seq": seq + 1, "text": text, "meta": {"in_reply_to": seq}},
            to=sid,
            namespace="/customer",
        )
        return {"ok": True, "message": {"author": "customer", "seq": seq, "text": text}}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tuned", action="store_true", help="uvloop, GC thresholds, gc.freeze")
    args = parser.parse_args()
    if args.tuned:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        gc.set_threshold(*GC_THRESHOLD)
    app = build_app()

    async def frozen(_: web.Application) -> None:
        gc.collect()
        gc.freeze()

    if args.tuned:
        app.on_startup.append(frozen)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()

"""HTTP routes: health, readiness and metrics; and what every HTTP response is sent with.

Every response leaves with `X-Content-Type-Options: nosniff`, a `Server` header that names
no versions, and `Cache-Control: no-store` unless its handler chose otherwise (pages,
static files and the widget's public strings do, in chatserver/widget.py): log-ins,
tokens, reports and inquiries must never sit in a browser's or a proxy's cache. A websocket's
upgrade (101) carries no content to sniff or cache, so it gets only the `Server` header: its
response object lives as long as the socket, and the other two headers cost every open
socket about 0.4 KiB.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import hdrs, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chatserver import __version__
from chatserver.keys import METRICS, SERVICES, SETTINGS
from chatserver.redis_state import RedisDeskState

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

SERVER_NAME = "chatserver"  # instead of aiohttp's "Python/3.x aiohttp/3.x"
DEFAULT_CACHE_CONTROL = "no-store"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the headers every response gets (see the module's docstring)."""
    headers = response.headers
    headers[hdrs.SERVER] = SERVER_NAME
    if response.status == 101:  # a websocket's upgrade: no body (see the module's docstring)
        return
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault(hdrs.CACHE_CONTROL, DEFAULT_CACHE_CONTROL)


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving HTTP."""
    return web.json_response({"status": "ok", "version": __version__})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready for customers: start-up finished and the database answers."""
    services = request.app.get(SERVICES)
    if services is None:
        return web.json_response({"status": "starting"}, status=503)
    try:
        await services.store.ping()
    except Exception as exc:
        log.warning("readiness check: database unreachable: %s", exc)
        return web.json_response({"status": "unavailable", "reason": "database"}, status=503)
    ready: dict[str, Any] = {
        "status": "ready",
        "faq_languages": list(services.bot.matcher.faq.languages),
    }
    state = services.dispatcher.ledger.state
    if isinstance(state, RedisDeskState):  # one of several processes: which, and Redis up
        try:
            await state.client.ping()
        except Exception as exc:
            log.warning("readiness check: Redis unreachable: %s", exc)
            return web.json_response({"status": "unavailable", "reason": "redis"}, status=503)
        ready["node"] = state.node
    return web.json_response(ready)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text; with CHATSERVER_METRICS_TOKEN set, only for `Bearer <token>`."""
    expected = request.app[SETTINGS].metrics_token
    if expected:
        scheme, _, given = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), expected.encode()
        ):
            return web.json_response(
                {"error": {"code": "unauthorized", "message": "send the metrics bearer token"}},
                status=401,
                headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="metrics"'},
            )
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response

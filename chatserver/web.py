"""HTTP routes: health, readiness and metrics (the API grows here in later issues)."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chatserver import __version__
from chatserver.keys import METRICS, SERVICES

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


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
    return web.json_response(
        {"status": "ready", "faq_languages": list(services.bot.matcher.faq.languages)}
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response

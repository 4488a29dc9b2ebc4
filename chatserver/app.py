"""`create_app(settings)`: the one module that wires the server together."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial

import socketio
from aiohttp import web

from chatserver import api, widget
from chatserver.accounts import Accounts
from chatserver.bot import Bot
from chatserver.clock import Clock, IdFactory, SystemClock, new_id
from chatserver.demo import add_demo_agents
from chatserver.desk import Desk
from chatserver.faq_reload import FaqReloader, faq_fingerprint, load_matcher
from chatserver.i18n import Catalogs
from chatserver.keys import METRICS, SERVICES, SETTINGS, SIO, Services
from chatserver.language import LanguageDetector
from chatserver.metrics import Metrics
from chatserver.runtime import monitoring
from chatserver.settings import Settings
from chatserver.sockets.customer import CustomerNamespace
from chatserver.store import open_store
from chatserver.web import routes

log = logging.getLogger(__name__)

# Socket.IO frames above this are refused by the transport before any handler runs; it is
# the text limit with room for the JSON around it (UTF-8 may need 4 bytes a character).
FRAME_OVERHEAD_BYTES = 16 * 1024


def create_app(
    settings: Settings, *, clock: Clock | None = None, ids: IdFactory | None = None
) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app[METRICS] = Metrics.create()
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins=settings.cors_allowed_origins,
        max_http_buffer_size=settings.max_message_chars * 4 + FRAME_OVERHEAD_BYTES,
        transports=["websocket", "polling"],
    )
    sio.register_namespace(CustomerNamespace(app))
    sio.attach(app)
    app[SIO] = sio
    app.add_routes(routes)
    app.add_routes(api.routes)
    app.add_routes(widget.routes)
    app.cleanup_ctx.append(partial(_services, clock=clock or SystemClock(), ids=ids or new_id))
    app.cleanup_ctx.append(_monitoring)
    app.on_shutdown.append(_disconnect_sockets)
    return app


async def _services(app: web.Application, *, clock: Clock, ids: IdFactory) -> AsyncIterator[None]:
    """Load the FAQ, catalogs and language models off the event loop, open the store."""
    settings = app[SETTINGS]
    loop = asyncio.get_running_loop()
    fingerprint = faq_fingerprint(settings.faq_dir)
    loaded, matcher = await loop.run_in_executor(
        None, load_matcher, settings.faq_dir, fingerprint, settings.faq_skip_invalid
    )
    for problem in loaded.problems:
        log.warning("FAQ entry skipped: %s", problem)
    catalogs = await loop.run_in_executor(
        None, Catalogs.load, settings.locales_dir, settings.languages, settings.default_language
    )
    detector = await loop.run_in_executor(
        None,
        load_detector,
        settings.languages,
        settings.language_backend,
        settings.default_language,
    )
    store = await open_store(settings.database_url)
    desk = Desk(
        store=store,
        bot=Bot(matcher, catalogs),
        detector=detector,
        clock=clock,
        new_id=ids,
        languages=settings.languages,
        default_language=settings.default_language,
    )
    bot = desk.bot
    reloader = FaqReloader(
        bot,
        settings.faq_dir,
        skip_invalid=settings.faq_skip_invalid,
        loaded=fingerprint,
    )
    accounts = Accounts(
        store=store,
        clock=clock,
        new_id=ids,
        languages=settings.languages,
        session_lifetime=timedelta(hours=settings.session_hours),
    )
    if settings.demo_agents:
        await add_demo_agents(accounts)
    app[SERVICES] = Services(
        store=store,
        bot=bot,
        catalogs=catalogs,
        desk=desk,
        faq_reloader=reloader,
        accounts=accounts,
    )
    watcher = (
        asyncio.create_task(reloader.watch(settings.faq_reload_interval), name="faq-reloader")
        if settings.faq_reload_interval > 0
        else None
    )
    log.info(
        "ready: FAQ in %s, catalogs for %s",
        ", ".join(loaded.faq.languages),
        ", ".join(lang for lang in settings.languages if catalogs.has_catalog(lang)),
    )
    try:
        yield
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await store.close()


@functools.cache
def load_detector(languages: tuple[str, ...], backend: str, default: str) -> LanguageDetector:
    """Build (once per process and configuration: models are large and read-only) and warm up."""
    detector = LanguageDetector(languages, backend=backend, default=default)
    # The models' first calls page their data in (~15 ms); pay that now, not on a customer.
    for text in ("Hello, I cannot log in", "Olá, não consigo entrar", "パスワード", "密碼"):
        detector.detect(text)
    return detector


async def _monitoring(app: web.Application) -> AsyncIterator[None]:
    metrics = app[METRICS]
    async with monitoring(metrics.event_loop_lag, metrics.gc_pause):
        yield


async def _disconnect_sockets(app: web.Application) -> None:
    """Close every socket (clients reconnect, to another node if there is one), then stop
    Socket.IO's background tasks; this runs before the store closes."""
    sio = app[SIO]
    if sio.eio.sockets:  # engine.io's disconnect-all fails on an empty set
        await sio.eio.disconnect()
    await sio.shutdown()

"""`create_app(settings)`: the one module that wires the server together.

Start-up is one context per resource in `app.cleanup_ctx`, in dependency order; aiohttp
enters them in this order when the server starts and closes them in reverse when it stops:

    faq         the FAQ matcher and the catalogs (built off the event loop), the bot that
                answers from them, and the reloader that swaps in an edited FAQ (its task)
    store       the store `store_factory` opens (by default the settings' database)
    redis       with CHATSERVER_REDIS_URL: the Redis several processes share the desk in
    desk        the language detector, the dispatcher (the human side's rooms, behind
                one facade) with its queue restored from the store, the customer desk
                and agent accounts (and demo agents): `SERVICES`
    heartbeat   with Redis: this process's heartbeat, and its copy of the shared desk kept
                within a beat of the others' changes (redis_state.py)
    ticker      the desk's clock: offer timeouts, fallbacks, SLA warnings, queue lists
    monitoring  event-loop lag and GC pauses

A context whose start fails closes the ones opened before it (`_starting`), and the start
fails: with the step's own error (a FAQ mistake), or `StartupFailed` naming the step
(`_step`). What the server observes becomes Prometheus series in `metrics.py`; this module
only connects the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from chatserver import (
    announcement_api,
    api,
    canned_api,
    customer_api,
    dashboard_api,
    inbound_email,
    openapi,
    sla_topics,
    transcript_api,
    transcript_email_api,
    widget,
)
from chatserver.accounts import WAITING_PER_SLOT, Accounts
from chatserver.announcement_desk import AnnouncementDesk
from chatserver.bot import Bot
from chatserver.clock import Clock, IdFactory, SystemClock, new_id
from chatserver.demo import add_demo_agents
from chatserver.desk_state import DeskMemory
from chatserver.events import Notify
from chatserver.faq_reload import FaqReloader, faq_fingerprint, load_matcher
from chatserver.i18n import Catalogs
from chatserver.isolation import Isolation
from chatserver.keys import LIMITS, METRICS, SERVICES, SETTINGS, SIO, Services
from chatserver.language import LanguageDetector
from chatserver.limits import Buckets, Monotonic, RateLimiter, Slots
from chatserver.logs import quiet_transport_tracebacks
from chatserver.metrics import Metrics
from chatserver.models import AgentStatus
from chatserver.redis_state import RedisDeskState
from chatserver.routing import UnknownAgent
from chatserver.runtime import monitoring, running
from chatserver.settings import Settings, read_sla_file
from chatserver.sockets.agent import AgentNamespace
from chatserver.sockets.base import (
    AGENT_NAMESPACE,
    AGENT_ROOM_PREFIX,
    CONVERSATION_ROOM_PREFIX,
    CUSTOMER_NAMESPACE,
    JsonPacket,
    SocketServer,
    publish,
)
from chatserver.sockets.customer import CustomerNamespace
from chatserver.sockets.manager import LocalManager, SharedManager
from chatserver.store import SqlStore, open_store
from chatserver.surveys import Changed, Surveys
from chatserver.web import routes, security_headers
from chatserver.wiring import build_desk, build_inbox, build_urgent_notifier

log = logging.getLogger(__name__)

# Socket.IO frames above `frame_limit(settings)` are refused by the transport (the
# connection is closed) before any handler runs, so the limit must admit every message the
# text limit admits, in the worst encoding a client may choose: JSON clients (the JS
# client, python-socketio) may escape every character, a BMP one as \uXXXX (6 bytes) and
# an astral one (an emoji) as a surrogate pair of escapes, \ud83d\ude00 (12 bytes), while
# the text limit counts code points. The other fields of the largest payload (ids, a
# contact, a reason, a signed identity; also escaped) and the packet framing fit in 64 KiB.
WORST_BYTES_PER_CHAR = 12
FRAME_OVERHEAD_BYTES = 64 * 1024
# The desk's clock ticks this often: offers expire, SLA warnings fire and consoles get the
# queue within a quarter of a second, whatever the number of changes in between.
TICK_SECONDS = 0.25
# Consoles get the queue at most every half second: a busy desk changes it many times a
# second, and a list that moves faster than that cannot be read anyway.
QUEUE_EVERY_TICKS = 2
# Queue and agent gauges are refreshed every second (four ticks).
GAUGE_EVERY_TICKS = 4
# Follow-ups of negative ratings are due in 24 hours: a look every second is plenty.
FOLLOWUPS_EVERY_TICKS = 4
# Inbox items are due in 15 minutes or more: a look every second, as for follow-ups.
INBOX_EVERY_TICKS = 4
# Customers who moved up in line hear their new place at most once a second (a customer
# just queued hears it at once): in a surge, one event per customer per second rather
# than one per customer per change of the queue.
POSITIONS_EVERY_TICKS = 4


# On stop, sockets get this long to take their close before the server goes on stopping.
DISCONNECT_SECONDS = 3.0


StoreFactory = Callable[[Settings], Awaitable[SqlStore]]


def frame_limit(settings: Settings) -> int:
    """The largest Engine.IO packet (websocket frame or polling body) accepted, in bytes."""
    return settings.max_message_chars * WORST_BYTES_PER_CHAR + FRAME_OVERHEAD_BYTES


class StartupFailed(RuntimeError):
    """A named start-up step failed; the contexts opened before it are closed again."""


def socketio_origins(settings: Settings) -> Any:
    """Who may open a Socket.IO connection: python-socketio's form, except that a list of
    allowed origins (host sites) also keeps this server's own origin, where the widget lives
    (framed by a host site, it still talks from here); a plain list would refuse it."""
    allowed = settings.cors_allowed_origins
    if not isinstance(allowed, list):
        return allowed

    def check(origin: str | None, environ: Mapping[str, Any]) -> bool:
        return origin is not None and (origin in allowed or origin in _own_origins(environ))

    return check


def _own_origins(environ: Mapping[str, Any]) -> set[str]:
    """This server's origin as the request names it (engineio's same-origin rule)."""
    scheme, host = environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST")
    if not scheme or not host:
        return set()
    own = {f"{scheme}://{host}"}
    if "HTTP_X_FORWARDED_PROTO" in environ or "HTTP_X_FORWARDED_HOST" in environ:
        proto = str(environ.get("HTTP_X_FORWARDED_PROTO", scheme)).split(",")[0].strip()
        forwarded = str(environ.get("HTTP_X_FORWARDED_HOST", host)).split(",")[0].strip()
        own.add(f"{proto}://{forwarded}")
    return own


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: IdFactory | None = None,
    store_factory: StoreFactory | None = None,
    monotonic: Monotonic | None = None,
) -> web.Application:
    """The server. `store_factory` opens the store at start-up (default: `open_store` on
    the settings' database URL); the application closes it when it stops. `clock`, `ids`
    and `monotonic` (rate limits' time) are for tests."""
    monotonic = monotonic or time.monotonic
    quiet_transport_tracebacks()
    app = web.Application()
    app[SETTINGS] = settings
    app[METRICS] = Metrics.create()
    app[LIMITS] = RateLimiter(settings.event_limits, monotonic)
    sharing: dict[str, Any] = {}
    if settings.redis_url:  # emits reach the sockets of every process serving the desk
        sharing["client_manager"] = SharedManager(
            settings.redis_url, channel=f"{settings.redis_prefix}:socketio"
        )
    else:  # one process: an emit that reaches nobody is not encoded
        sharing["client_manager"] = LocalManager()
    sio = SocketServer(
        async_mode="aiohttp",
        serializer=JsonPacket,
        cors_allowed_origins=socketio_origins(settings),
        max_http_buffer_size=frame_limit(settings),
        transports=["websocket", "polling"],
        **sharing,
    )
    sio.register_namespace(CustomerNamespace(app))
    sio.register_namespace(AgentNamespace(app))
    sio.attach(app)
    app[SIO] = sio
    app.on_response_prepare.append(security_headers)
    for table in (
        routes,
        api.routes,
        announcement_api.routes,
        dashboard_api.routes,
        inbound_email.routes,
        widget.routes,
        transcript_api.routes,
        customer_api.routes,
        canned_api.routes,
        transcript_email_api.routes,
        openapi.routes,
    ):
        app.add_routes(api.guarded(table))
    app.cleanup_ctx.extend(
        [
            _faq,
            partial(_store, store_factory=store_factory or _open_store),
            _redis,
            partial(_desk, clock=clock or SystemClock(), ids=ids or new_id, monotonic=monotonic),
            _heartbeat,
            _ticker,
            _monitoring,
        ]
    )
    app.on_shutdown.append(_disconnect_sockets)
    app.on_cleanup.append(_close_client_manager)
    return app


# What one start-up context hands to the next; handlers reach all of it through `SERVICES`.
_BOT = web.AppKey("bot", Bot)
_FAQ_RELOADER = web.AppKey("faq_reloader", FaqReloader)
_STORE = web.AppKey("store", SqlStore)
_REDIS = web.AppKey("redis", Redis)
_SHARED = web.AppKey("shared_desk_state", RedisDeskState)


async def _faq(app: web.Application) -> AsyncIterator[None]:
    """The FAQ and the catalogs, built off the event loop; the bot answering from them; the
    reloader, watching the FAQ directory while the server runs (when it polls).

    First of the contexts: a FAQ mistake stops the start with its own error."""
    settings = app[SETTINGS]
    loop = asyncio.get_running_loop()
    async with _starting(app):
        fingerprint = faq_fingerprint(settings.faq_dir)
        loaded, matcher = await loop.run_in_executor(
            None,
            load_matcher,
            settings.faq_dir,
            fingerprint,
            settings.faq_skip_invalid,
            settings.faq_embeddings,
        )
        for problem in loaded.problems:
            log.warning("FAQ entry skipped: %s", problem)
        catalogs = await loop.run_in_executor(
            None,
            Catalogs.load,
            settings.locales_dir,
            settings.languages,
            settings.default_language,
        )
    bot = Bot(matcher, catalogs)
    del loaded, matcher  # the bot holds it; this frame lives as long as the app: a reload frees it
    reloader = FaqReloader(
        bot,
        settings.faq_dir,
        skip_invalid=settings.faq_skip_invalid,
        loaded=fingerprint,
        embeddings=settings.faq_embeddings,
    )
    app[_BOT] = bot
    app[_FAQ_RELOADER] = reloader
    watching: contextlib.AbstractAsyncContextManager[None] = (
        running(reloader.watch(settings.faq_reload_interval), "faq-reloader")
        if settings.faq_reload_interval > 0
        else contextlib.nullcontext()
    )
    async with watching:
        yield


async def _store(app: web.Application, *, store_factory: StoreFactory) -> AsyncIterator[None]:
    """The store, open until everything that uses it has stopped."""
    async with _starting(app), _step("opening the store"):
        store = await store_factory(app[SETTINGS])
    store.observe_with(app[METRICS].observe)
    app[_STORE] = store
    try:
        yield
    finally:
        await store.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    """The Redis several processes share the desk through, when the settings name one."""
    settings = app[SETTINGS]
    if not settings.redis_url:
        yield
        return
    client = Redis.from_url(settings.redis_url)
    async with _starting(app), _step(f"connecting to Redis at {settings.redis_url}"):
        try:
            await client.ping()
        except BaseException:
            await client.aclose()
            raise
    app[_REDIS] = client
    try:
        yield
    finally:
        await client.aclose()


async def _desk(
    app: web.Application, *, clock: Clock, ids: IdFactory, monotonic: Monotonic
) -> AsyncIterator[None]:
    """The use cases over the store: the dispatcher (its queue restored from the store), the
    customer desk and agent accounts (and the demo agents), published as `SERVICES`.

    Nothing to close: they only move when called, or when the ticker (next) calls them."""
    settings = app[SETTINGS]
    store, bot = app[_STORE], app[_BOT]
    async with _starting(app):
        detector = await asyncio.get_running_loop().run_in_executor(
            None,
            load_detector,
            settings.languages,
            settings.language_backend,
            settings.default_language,
        )
        policies = (
            read_sla_file(settings.sla_file) if settings.sla_file else sla_topics.default_matrix()
        )
        notifier = build_urgent_notifier(
            settings,
            catalogs=bot.catalogs,
            observe=app[METRICS].observe,
            console_url=console_url(settings),
        )
        desk = build_desk(
            settings,
            store=store,
            bot=bot,
            detector=detector,
            clock=clock,
            new_id=ids,
            policies=policies,
            observe=app[METRICS].observe,
            send_urgent=notifier,
        )
        dispatcher = desk.dispatcher
        agent_grace = timedelta(seconds=settings.agent_grace_seconds)
        if _REDIS in app:
            async with _step("joining the desk shared in Redis"):
                await _share_desk(app, dispatcher, agent_grace)
        else:
            async with _step("restoring the queue from the store"):
                await dispatcher.restore(agent_grace=agent_grace)
        logins = settings.rate_logins_per_address
        accounts = Accounts(
            store=store,
            clock=clock,
            new_id=ids,
            languages=settings.languages,
            session_lifetime=timedelta(hours=settings.session_hours),
            attempts=Buckets(logins, monotonic) if logins is not None else None,
            hashing=Slots(
                settings.login_concurrency, settings.login_concurrency * WAITING_PER_SLOT
            ),
        )
        inbox = build_inbox(
            settings,
            store=store,
            dispatcher=dispatcher,
            catalogs=bot.catalogs,
            clock=clock,
            new_id=ids,
            policies=policies,
            observe=app[METRICS].observe,
        )
        if settings.demo_agents:
            async with _step("adding the demo agents"):
                await add_demo_agents(accounts)
    app[SERVICES] = Services(
        store=store,
        bot=bot,
        catalogs=bot.catalogs,
        desk=desk,
        faq_reloader=app[_FAQ_RELOADER],
        accounts=accounts,
        dispatcher=dispatcher,
        announcements=AnnouncementDesk(
            store=store,
            clock=clock,
            new_id=ids,
            languages=settings.languages,
            fallbacks=settings.fallbacks,
        ),
        surveys=Surveys(store=store, clock=clock, new_id=ids),
        inbox=inbox,
    )
    log.info(
        "ready: FAQ in %s, catalogs for %s",
        ", ".join(bot.matcher.faq.languages),
        ", ".join(lang for lang in settings.languages if bot.catalogs.has_catalog(lang)),
    )
    try:
        yield
    finally:
        await notifier.aclose()  # urgent alerts being sent: a little time, then cancelled


async def _share_desk(app: web.Application, dispatcher: Any, agent_grace: timedelta) -> None:
    """Put the desk's memory in Redis (redis_state.py): the first process, or the first after
    Redis lost it, rebuilds it from the store as a single process restores its own; the
    others read it. A process that finds a rebuilt desk drops its sockets, so that their
    clients come back and the presence knows them again."""
    settings = app[SETTINGS]
    ledger = dispatcher.ledger
    state = RedisDeskState.sharing(app[_REDIS], ledger.state.memory, prefix=settings.redis_prefix)

    async def rebuild() -> None:
        await dispatcher.restore(agent_grace=agent_grace)

    async def announce_sockets() -> None:
        log.warning("the desk was rebuilt: this process's sockets announce themselves again")
        await state.beat()  # its heartbeat went with the old Redis too
        before, state.before_epoch = state.before_epoch, None  # the lost desk, used once
        await publish(app[SIO], app, await _local_sockets_back(app, dispatcher, before))

    def loaded() -> None:
        ledger.queue_dirty = True  # another process may have changed the queues

    state.rebuild, state.on_new_epoch, state.on_loaded = rebuild, announce_sockets, loaded
    ledger.state = state
    app[_SHARED] = state
    await state.beat()
    async with state.hold():  # joins the shared desk, or rebuilds it
        pass


async def _local_sockets_back(
    app: web.Application, dispatcher: Any, before: DeskMemory | None
) -> list[Notify]:
    """After a rebuild the shared presence knows nobody: this process's customers are in
    their conversations again, and its agents' consoles in the status their agents had
    chosen, as `before` (this process's last copy of the lost desk) says (their rooms say
    who is here; a Redis manager's rooms are this process's own)."""
    rooms = app[SIO].manager.rooms
    notifications: list[Notify] = []
    failures = Isolation(app[METRICS].count_isolated_failure, log)
    for room, sids in list(rooms.get(CUSTOMER_NAMESPACE, {}).items()):
        if isinstance(room, str) and room.startswith(CONVERSATION_ROOM_PREFIX):
            for sid in list(sids):
                with failures.item("announce", room):
                    await dispatcher.customer_joined(room[len(CONVERSATION_ROOM_PREFIX) :], sid)
    store = app[_STORE]
    for room, sids in list(rooms.get(AGENT_NAMESPACE, {}).items()):
        if not (isinstance(room, str) and room.startswith(AGENT_ROOM_PREFIX)):
            continue
        agent_id = room[len(AGENT_ROOM_PREFIX) :]
        with failures.item("announce", room):
            account = await store.agent(agent_id)
            if account is None or account.disabled:
                continue
            for sid in list(sids):
                await dispatcher.console_connected(agent_id, sid)
            status = _chosen_status(before, agent_id)
            online = await dispatcher.agent_online(account, status=status, status_stands=False)
            notifications += online.notifications
    return notifications


def _chosen_status(before: DeskMemory | None, agent_id: str) -> str:
    """The status the agent was in on the lost desk; online when it did not know them."""
    if before is None:
        return str(AgentStatus.ONLINE)
    try:
        return str(before.router.agent_status(agent_id))
    except UnknownAgent:
        return str(AgentStatus.ONLINE)


async def _heartbeat(app: web.Application) -> AsyncIterator[None]:
    """A process sharing the desk beats (others let go of its sockets when it stops) and
    follows the shared memory when nothing happens here."""
    state = app.get(_SHARED)
    if state is None:
        yield
        return
    failures = Isolation(app[METRICS].count_isolated_failure, log)

    async def beat() -> None:
        while True:
            await asyncio.sleep(state.heartbeat_seconds)
            with failures.item("heartbeat", state.node):
                await state.beat()
                await state.refresh_if_moved()

    try:
        async with running(beat(), "desk-heartbeat"):
            yield
    finally:
        await state.leave()


def console_url(settings: Settings) -> str:
    """The console's address in urgent alerts: the server's own host and port (a desk
    behind a proxy would want a public-URL setting; there is none yet)."""
    return f"http://{settings.host}:{settings.port}/console/"


async def _ticker(app: web.Application) -> AsyncIterator[None]:
    """The desk's clock (`_tick`), stopped before the desk and the store close."""
    async with running(_tick(app), "dispatch-ticker"):
        yield


async def _monitoring(app: web.Application) -> AsyncIterator[None]:
    metrics = app[METRICS]
    async with monitoring(metrics.event_loop_lag, metrics.gc_pause):
        yield


@contextlib.asynccontextmanager
async def _starting(app: web.Application) -> AsyncIterator[None]:
    """The opening half of a start-up context. If it fails, the contexts opened before it
    are closed at once (aiohttp's `cleanup` during start-up closes the contexts it has
    entered; a second call, as `run_app` makes, finds nothing left to do), then the error
    goes on and the start fails."""
    try:
        yield
    except BaseException:
        await app.cleanup()
        raise


@contextlib.asynccontextmanager
async def _step(name: str) -> AsyncIterator[None]:
    """A start-up step: its failure stops the start with an error that names it."""
    try:
        yield
    except Exception as exc:
        raise StartupFailed(f"start-up failed while {name}: {exc}") from exc


async def _open_store(settings: Settings) -> SqlStore:
    return await open_store(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.database_pool_size,
    )


@functools.cache
def load_detector(languages: tuple[str, ...], backend: str, default: str) -> LanguageDetector:
    """Build (once per process and configuration: models are large and read-only) and warm up."""
    detector = LanguageDetector(languages, backend=backend, default=default)
    # The models' first calls page their data in (~15 ms); pay that now, not on a customer.
    for text in ("Hello, I cannot log in", "Olá, não consigo entrar", "パスワード", "密碼"):
        detector.detect(text)
    return detector


async def _tick(app: web.Application) -> None:
    """Move time forward for the desk: offer timeouts, fallbacks, SLA warnings, breaches.

    Each stage, and each agent's queue list, on its own: one that fails is logged and
    counted (the dispatcher does the same per conversation inside its tick), and the rest
    of the beat and the next beats go on."""
    services = app[SERVICES]
    metrics = app[METRICS]
    sio = app[SIO]
    dispatcher = services.dispatcher
    failures = Isolation(metrics.count_isolated_failure, log)
    beats = 0
    while True:
        await asyncio.sleep(TICK_SECONDS)
        beats += 1
        with failures.item("tick", "dispatcher"):
            await publish(sio, app, await dispatcher.tick())
        owner = await dispatcher.ledger.state.owns_tick()  # one process tells the rooms
        availability: list[Notify] = []
        if owner:
            with failures.item("availability", "all languages"):
                availability = dispatcher.take_availability_update()
        await publish(sio, app, availability)
        if beats % QUEUE_EVERY_TICKS == 0 and owner:
            updates: list[Notify] = []
            with failures.item("queue_update", "all agents"):
                updates = dispatcher.take_queue_update()
            await publish(sio, app, updates)  # each agent's list on its own
        if beats % POSITIONS_EVERY_TICKS == 0:  # every process, for the moves it applied
            positions: list[Notify] = []
            with failures.item("positions", "waiting customers"):
                positions = await dispatcher.due_positions()
            await publish(sio, app, positions)
        if beats % FOLLOWUPS_EVERY_TICKS == 0 and owner:
            missed = Changed([])
            with failures.item("tick", "followups"):
                missed = await services.surveys.tick()
            metrics.count_missed_followups(missed.followups)
            await publish(sio, app, missed.notifications)
        if beats % INBOX_EVERY_TICKS == 0 and owner:
            inbox: list[Notify] = []
            with failures.item("tick", "inbox"):
                inbox = await services.inbox.tick()
                metrics.observe_inbox(await services.store.inbox_counts())
            await publish(sio, app, inbox)
        if beats % GAUGE_EVERY_TICKS == 0:
            with failures.item("gauges", "desk"):
                metrics.observe_desk(dispatcher.router, dispatcher.clock.now(), dispatcher.accounts)


async def _disconnect_sockets(app: web.Application) -> None:
    """Close every socket (clients reconnect, to another node if there is one), then stop
    Socket.IO's background tasks; this runs before the store closes."""
    sio = app[SIO]
    agents = sio.namespace_handlers.get("/agent")
    if isinstance(agents, AgentNamespace):
        await agents.close_all()  # no grace-period timer may outlive the store
    if sio.eio.sockets:  # engine.io's disconnect-all fails on an empty set
        # A polling client that never polls again would hold this forever (its close
        # message waits to be collected): everyone else has been told by then.
        try:
            async with asyncio.timeout(DISCONNECT_SECONDS):
                await sio.eio.disconnect()
        except TimeoutError:
            log.warning("some sockets did not take their close in %s s", DISCONNECT_SECONDS)
    await sio.shutdown()


async def _close_client_manager(app: web.Application) -> None:
    """The Socket.IO client manager's own connections (Redis's listener and publisher)."""
    await app[SIO].manager.close()

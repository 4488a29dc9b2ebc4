"""HTTP for the supervisors' dashboard: `GET /api/v1/dashboard` (the snapshot, JSON or
`?format=csv`) and `GET /api/v1/dashboard/alerts` (the warnings and breaches still standing,
which a supervisor's console reads when it connects: pushes only carry what happens after).

Thin: read the desk's last copy and the store, let `dashboard.py` compute, present."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from chatserver import dashboard, protocol
from chatserver.agents import AgentAccount
from chatserver.api import api_error, bearer_token
from chatserver.keys import SERVICES, SETTINGS, Services
from chatserver.routing import Router, UnknownAgent

routes = web.RouteTableDef()
# The store's ranges end before `until`; what happened at this very instant is today's too.
_INCLUSIVE = timedelta(microseconds=1)


async def _supervisor(request: web.Request) -> web.Response | None:
    """None for a supervisor's token, else the refusal to send."""
    token = bearer_token(request)
    account = await request.app[SERVICES].accounts.authenticate(token) if token else None
    if account is None or not account.role.supervises:
        return api_error(403, "forbidden", "a supervisor's token is required")
    return None


async def _alerts(services: Services, now: datetime) -> list[protocol.SlaAlertPayload]:
    """The standing alerts, each chat's language, team and priority read from the store
    (only for the clocks that warned or breached: the desk's clocks know just the id)."""
    clocks = list(services.dispatcher.ledger.clocks.values())
    facts: dict[str, dashboard.ChatFacts] = {}
    for applied in clocks:
        if any(clock.warned or clock.breached for clock in applied.clocks):
            conversation = await services.store.get_conversation(applied.conversation_id)
            if conversation is not None:
                facts[conversation.id] = dashboard.ChatFacts(
                    conversation.language,
                    str(conversation.team or ""),
                    str(conversation.priority or ""),
                )
    inbox = await services.store.open_inbox_items()
    alerts = []
    for alert in dashboard.current_alerts(clocks, facts, inbox, now=now):
        language = alert.item.language if alert.item is not None else ""
        about = alert.facts or dashboard.ChatFacts(language, "", "")
        alerts.append(
            protocol.sla_alert(
                alert.type,
                alert.conversation_id,
                kind=alert.kind,
                raised_at=alert.raised_at,
                due_at=alert.due_at,
                remaining_seconds=alert.remaining_seconds,
                language=about.language,
                team=about.team,
                priority=about.priority,
                item=alert.item,
            )
        )
    return alerts


def _loads(accounts: list[AgentAccount], router: Router) -> list[dashboard.AgentLoad]:
    """Every enabled account with its presence and chats held; one the desk has not seen
    since the server started is offline, holding nothing."""
    loads = []
    for account in accounts:
        if account.disabled:
            continue
        try:
            status = str(router.agent_status(account.id))
            held = len(router.agent_conversations(account.id))
        except UnknownAgent:
            status, held = "offline", 0
        loads.append(
            dashboard.AgentLoad(
                account.id, account.name, str(account.role), status, held, account.capacity
            )
        )
    return loads


@routes.get("/api/v1/dashboard")
async def dashboard_snapshot(request: web.Request) -> web.Response:
    """The desk now and today so far (docs/protocol.md): JSON, or the day's figures as CSV
    with `?format=csv`. Supervisors only."""
    if (refused := await _supervisor(request)) is not None:
        return refused
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        return api_error(400, "invalid_query", "'format' must be json or csv")
    services = request.app[SERVICES]
    timezone = request.app[SETTINGS].timezone
    router = services.dispatcher.router
    now = services.dispatcher.clock.now()
    since, _ = dashboard.today(now, timezone)
    figures = dashboard.snapshot(
        now=now,
        timezone=timezone,
        agents=_loads(await services.store.agents(), router),
        queue_lengths=router.queue_lengths(),
        waiting=router.waiting(now),
        sla_rows=await services.store.sla_rows(since, now + _INCLUSIVE),
        ratings=await services.store.ratings_between(since, now + _INCLUSIVE),
    )
    figures["alerts"] = await _alerts(services, now)
    if fmt == "csv":
        return web.Response(
            text=dashboard.snapshot_csv(figures),
            content_type="text/csv",
            charset="utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="dashboard-{figures["day"]}.csv"'
            },
        )
    return web.json_response(figures)


@routes.get("/api/v1/dashboard/alerts")
async def dashboard_alerts(request: web.Request) -> web.Response:
    """`{"alerts": [...]}`: the SLA warnings and breaches still standing. Supervisors only."""
    if (refused := await _supervisor(request)) is not None:
        return refused
    services = request.app[SERVICES]
    return web.json_response({"alerts": await _alerts(services, services.dispatcher.clock.now())})

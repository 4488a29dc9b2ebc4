"""HTTP for the supervisors' dashboard: `GET /api/v1/dashboard` (the snapshot, JSON or
`?format=csv`) and `GET /api/v1/dashboard/alerts` (the warnings and breaches still standing,
which a supervisor's console reads when it connects: pushes only carry what happens after).

Thin: read the desk's last copy and the store, let `dashboard.py` compute, present."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from chatserver import dashboard, protocol
from chatserver.api import api_error, bearer_token
from chatserver.keys import SERVICES, SETTINGS, Services
from chatserver.routing import UnknownAgent

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
    dispatcher = services.dispatcher
    found = dashboard.current_alerts(
        list(dispatcher.ledger.clocks.values()),
        {},
        await services.store.open_inbox_items(),
        now=now,
    )
    alerts = []
    for alert in found:
        conversation = await services.store.get_conversation(alert.conversation_id)
        language = alert.item.language if alert.item is not None else ""
        alerts.append(
            protocol.sla_alert(
                alert.type,
                alert.conversation_id,
                kind=alert.kind,
                raised_at=alert.raised_at,
                due_at=alert.due_at,
                remaining_seconds=alert.remaining_seconds,
                language=conversation.language if conversation else language,
                team=str(conversation.team or "") if conversation else "",
                priority=str(conversation.priority or "") if conversation else "",
                item=alert.item,
            )
        )
    return alerts


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
    loads = []
    for account in await services.store.agents():
        if account.disabled:
            continue
        try:
            status, held = (
                str(router.agent_status(account.id)),
                router.agent_conversations(account.id),
            )
        except UnknownAgent:  # not on the desk since the server started
            status, held = "offline", frozenset()
        loads.append(
            dashboard.AgentLoad(
                account.id, account.name, str(account.role), status, len(held), account.capacity
            )
        )
    figures = dashboard.snapshot(
        now=now,
        timezone=timezone,
        agents=loads,
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

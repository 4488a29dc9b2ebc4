"""HTTP API: console log-in, log-out and revoke, inquiry status by tracking number, reports
(SLA, FAQ gaps, CSAT, the monthly service-quality review), follow-ups of negative ratings."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from chatserver import csat_reports, inbox_sla, protocol
from chatserver.accounts import InvalidCredentials, TooManyAttempts
from chatserver.agents import AgentAccount
from chatserver.clock import hash_token
from chatserver.faq_gaps import GapsQuery, InvalidQuery, find_gaps, render
from chatserver.keys import METRICS, SERVICES, SETTINGS, SIO
from chatserver.limits import RateLimited, client_address, retry_after
from chatserver.reports import (
    CELL_COLUMNS,
    COLUMNS,
    ReportQuery,
    build_cell_report,
    build_report,
    report_csv,
)
from chatserver.satisfaction import AlreadyHandled, UnknownFollowUp
from chatserver.sockets.agent import agent_namespace
from chatserver.sockets.base import publish
from chatserver.sockets.payloads import BadRequest, HandleFollowUpRequest, LoginRequest
from chatserver.sockets.payloads import bearer_token as parse_bearer
from chatserver.tracking import normalize as normalize_tracking_number

routes = web.RouteTableDef()
MAX_LOGIN_BODY = 4096


def api_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def too_many(code: str, message: str, wait: float) -> web.Response:
    """429 with the wait: `Retry-After` in whole seconds, `retry_after` as a float."""
    seconds = retry_after(wait)
    return web.json_response(
        {"error": {"code": code, "message": message, "retry_after": seconds}},
        status=429,
        headers={"Retry-After": str(max(1, math.ceil(seconds)))},
    )


def request_address(request: web.Request) -> str:
    """The client's address: the peer, or X-Forwarded-For when the peer is a trusted proxy."""
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
    return client_address(request.remote, forwarded, request.app[SETTINGS].trusted_proxies)


def bearer_token(request: web.Request) -> str | None:
    """The request's bearer token, None without one; a header that is not a token (bytes
    that are not UTF-8, control characters) is a 400 (`refuse_bad_input`)."""
    return parse_bearer(request.headers.get("Authorization", ""))


def refuse_bad_input(handler: Handler) -> Handler:
    """`handler`, where a payload the shared schemas refuse is a 400 with the field named,
    never a 500.

    Put on each HTTP route (`guarded`) rather than as a middleware: a middleware also wraps
    the Socket.IO endpoint, whose request lasts as long as its websocket, and so held two
    coroutine frames (ours and aiohttp's chain) for every open socket, about 0.4 KiB each.
    """

    @functools.wraps(handler)
    async def refusing(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadRequest as exc:
            return api_error(400, exc.code, exc.message)

    return refusing


def guarded(table: Iterable[web.AbstractRouteDef]) -> list[web.AbstractRouteDef]:
    """A route table's routes, each handler behind `refuse_bad_input`."""
    return [
        web.RouteDef(route.method, route.path, refuse_bad_input(route.handler), route.kwargs)
        if isinstance(route, web.RouteDef)
        else route
        for route in table
    ]


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    if request.content_length is not None and request.content_length > MAX_LOGIN_BODY:
        return None
    try:
        body = json.loads(await request.content.read(MAX_LOGIN_BODY + 1))
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


@routes.post("/api/v1/login")
async def login(request: web.Request) -> web.Response:
    """`{"username", "password"}` -> `{"token", "expires_at", "agent"}`; 401 when wrong."""
    body = await _json_body(request)
    if body is None:
        return api_error(400, "invalid_payload", 'send JSON {"username": ..., "password": ...}')
    credentials = LoginRequest.parse(body)
    accounts = request.app[SERVICES].accounts
    username = credentials.username.lower()
    try:
        logged_in = await accounts.login(username, credentials.password, request_address(request))
    except InvalidCredentials as exc:
        return api_error(401, exc.code, str(exc))
    except (TooManyAttempts, RateLimited) as exc:
        return too_many(exc.code, str(exc), exc.retry_after)
    return web.json_response(
        {
            "token": logged_in.token,
            "expires_at": logged_in.session.expires_at.isoformat(),
            "agent": protocol.agent(logged_in.account),
        }
    )


@routes.post("/api/v1/logout")
async def logout(request: web.Request) -> web.Response:
    token = bearer_token(request)
    if token is None:
        return api_error(401, "unauthorized", "send Authorization: Bearer <token>")
    token_hash = await request.app[SERVICES].accounts.logout(token)
    # The consoles opened with this log-in end too; the agent's other log-ins do not.
    await agent_namespace(request.app).end_session(token_hash, "logout")
    return web.json_response({"ok": True})


@routes.post("/api/v1/agents/{agent_id}/revoke")
async def revoke(request: web.Request) -> web.Response:
    """End every session of an agent and close their consoles. Supervisors only."""
    account = await _staff(request)
    if account is None:
        return api_error(401, "unauthorized", "send Authorization: Bearer <token>")
    if not account.role.supervises:
        return api_error(403, "forbidden", "a supervisor's token is required")
    agent_id = request.match_info["agent_id"]
    services = request.app[SERVICES]
    if await services.store.agent(agent_id) is None:
        return api_error(404, "unknown_agent", "no agent with this id")
    sessions = await services.accounts.revoke(agent_id)
    sockets = await agent_namespace(request.app).end_agent(agent_id, "revoked")
    return web.json_response({"ok": True, "sessions": sessions, "sockets": sockets})


@routes.get("/api/v1/inquiries/{number}")
async def inquiry(request: web.Request) -> web.Response:
    """An inquiry's status, for the customer holding its conversation's token."""
    token = bearer_token(request)
    if token is None:
        return api_error(401, "unauthorized", "send Authorization: Bearer <customer token>")
    number = normalize_tracking_number(request.match_info["number"])
    store = request.app[SERVICES].store
    conversation = await store.conversation_by_tracking_number(number) if number else None
    owner = await store.conversation_by_token(hash_token(token))
    if conversation is None or owner is None or owner.id != conversation.id:
        # The same answer for "no such number" and "not yours": numbers are not enumerable.
        return api_error(404, "unknown_inquiry", "no inquiry with this number for this token")
    left = [
        protocol.inquiry_inbox_status(
            item,
            replies=sum(e.direction == "out" for e in await store.inbox_entries(item.id)),
        )
        for item in await store.inbox_items_by_tracking_number(conversation.tracking_number or "")
    ]
    return web.json_response(
        {
            "tracking_number": conversation.tracking_number,
            "status": str(conversation.status),
            "language": conversation.language,
            "team": str(conversation.team) if conversation.team else None,
            "priority": str(conversation.priority) if conversation.priority else None,
            "created_at": conversation.created_at.isoformat(),
            "handed_off_at": _iso(conversation.handed_off_at),
            "closed_at": _iso(conversation.closed_at),
            "inbox": left,
        }
    )


@routes.get("/api/v1/reports/sla")
async def sla_report(request: web.Request) -> web.Response:
    """First-response SLA by hour or day, or per cell of the SLA matrix (`by=cell`): JSON,
    or CSV with `?format=csv`. Supervisors only."""
    account = await _staff(request)
    if account is None or not account.role.supervises:
        return api_error(403, "forbidden", "a supervisor's token is required")
    try:
        query = ReportQuery.parse(request.query, now=request.app[SERVICES].dispatcher.clock.now())
    except ValueError as exc:
        return api_error(400, "invalid_query", str(exc))
    rows = await request.app[SERVICES].store.sla_rows(query.since, query.until)
    by_cell = query.bucket == "cell"
    report = build_cell_report(rows) if by_cell else build_report(rows, bucket=query.bucket)
    if query.format == "csv":
        return web.Response(
            text=report_csv(report, CELL_COLUMNS if by_cell else COLUMNS),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="sla-report.csv"'},
        )
    return web.json_response(
        {
            "since": query.since.isoformat(),
            "until": query.until.isoformat(),
            "bucket": query.bucket,
            "rows": report,
        }
    )


@routes.get("/api/v1/reports/inbox")
async def inbox_report(request: web.Request) -> web.Response:
    """The offline inbox's first-response attainment per channel, language and SLA cell of
    the items left in the range: JSON, or CSV with `?format=csv`. Supervisors only."""
    account = await _staff(request)
    if account is None or not account.role.supervises:
        return api_error(403, "forbidden", "a supervisor's token is required")
    now = request.app[SERVICES].dispatcher.clock.now()
    try:
        query = ReportQuery.parse(request.query, now=now)
    except ValueError as exc:
        return api_error(400, "invalid_query", str(exc))
    items = await request.app[SERVICES].store.inbox_items_left(query.since, query.until)
    report = inbox_sla.build_inbox_report(items, now=now)
    if query.format == "csv":
        return web.Response(
            text=report_csv(report, inbox_sla.INBOX_COLUMNS),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="inbox-report.csv"'},
        )
    return web.json_response(
        {"since": query.since.isoformat(), "until": query.until.isoformat(), "rows": report}
    )


GAP_CONTENT_TYPES = {
    "json": ("application/json", None),
    "csv": ("text/csv", "faq-gaps.csv"),
    "markdown": ("text/markdown", "faq-gaps.md"),
}


@routes.get("/api/v1/reports/faq-gaps")
async def faq_gaps_report(request: web.Request) -> web.Response:
    """The questions the FAQ did not answer well, per language, most frequent first: JSON,
    or CSV or Markdown with `?format=`. Supervisors only."""
    account = await _staff(request)
    if account is None or not account.role.supervises:
        return api_error(403, "forbidden", "a supervisor's token is required")
    services = request.app[SERVICES]
    try:
        query = GapsQuery.parse(
            request.query,
            now=services.dispatcher.clock.now(),
            languages=request.app[SETTINGS].languages,
        )
    except InvalidQuery as exc:
        return api_error(400, "invalid_query", str(exc))
    rows = await services.store.faq_gap_rows(query.since, query.until, query.language)
    report = find_gaps(
        rows, since=query.since, until=query.until, kinds=query.kinds, limit=query.limit
    )
    content_type, filename = GAP_CONTENT_TYPES[query.format]
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else {}
    return web.Response(
        text=render(report, query.format),
        content_type=content_type,
        charset="utf-8",
        headers=headers,
    )


@routes.get("/api/v1/followups")
async def followups(request: web.Request) -> web.Response:
    """Negative ratings not yet handled (open and missed), soonest deadline first, with
    their conversation ids and the seconds left. Supervisors only."""
    if (refused := await _not_supervisor(request)) is not None:
        return refused
    return web.json_response({"followups": await request.app[SERVICES].surveys.unhandled()})


@routes.post("/api/v1/followups/{followup_id}/handled")
async def followup_handled(request: web.Request) -> web.Response:
    """`{"note"}`: the customer's negative feedback was answered. Supervisors only."""
    account = await _staff(request)
    if account is None or not account.role.supervises:
        return api_error(403, "forbidden", "a supervisor's token is required")
    body = await _json_body(request)
    if body is None:
        return api_error(400, "invalid_payload", 'send JSON {"note": ...}')
    note = HandleFollowUpRequest.parse(body).note
    try:
        changed = await request.app[SERVICES].surveys.handle(
            request.match_info["followup_id"], note, by=account.id
        )
    except UnknownFollowUp as exc:
        return api_error(404, exc.code, str(exc))
    except AlreadyHandled as exc:
        return api_error(409, exc.code, str(exc))
    request.app[METRICS].count_handled_followup(changed.followups[0])
    await publish(request.app[SIO], request.app, changed.notifications)
    return web.json_response({"ok": True, "followup": changed.notifications[0].payload})


@routes.get("/api/v1/reports/csat")
async def csat_report(request: web.Request) -> web.Response:
    """CSAT (ratings, average, share of 4-5, distribution) by day, language, team or agent:
    JSON, or CSV with `?format=csv`. Supervisors only."""
    if (refused := await _not_supervisor(request)) is not None:
        return refused
    services = request.app[SERVICES]
    try:
        query = csat_reports.CsatQuery.parse(request.query, now=services.dispatcher.clock.now())
    except csat_reports.InvalidQuery as exc:
        return api_error(400, "invalid_query", str(exc))
    ratings = await services.store.ratings_between(query.since, query.until)
    names = {account.id: account.name for account in await services.store.agents()}
    rows = csat_reports.csat_report(ratings, group=query.group, agent_names=names)
    if query.format == "csv":
        return _csv(csat_reports.csat_csv(rows, group=query.group), "csat-report.csv")
    return web.json_response(
        {
            "since": query.since.isoformat(),
            "until": query.until.isoformat(),
            "group": query.group,
            "rows": rows,
        }
    )


@routes.get("/api/v1/reports/monthly")
async def monthly_report(request: web.Request) -> web.Response:
    """The monthly service-quality review: chats, first-response attainment, CSAT and
    follow-ups, in all and per language and team, and the offline inbox per channel; JSON,
    or CSV. Supervisors only."""
    if (refused := await _not_supervisor(request)) is not None:
        return refused
    services = request.app[SERVICES]
    now = services.dispatcher.clock.now()
    try:
        query = csat_reports.MonthQuery.parse(request.query, now=now)
    except csat_reports.InvalidQuery as exc:
        return api_error(400, "invalid_query", str(exc))
    store = services.store
    review = csat_reports.monthly_review(
        sla_rows=await store.sla_rows(query.since, query.until),
        ratings=await store.ratings_between(query.since, query.until),
        followups=await store.followups_between(query.since, query.until),
        now=now,
        inbox=inbox_sla.monthly_inbox(
            await store.inbox_items_left(query.since, query.until), now=now
        ),
    )
    if query.format == "csv":
        return _csv(csat_reports.monthly_csv(query.month, review), f"review-{query.month}.csv")
    return web.json_response(
        {
            "month": query.month,
            "since": query.since.isoformat(),
            "until": query.until.isoformat(),
            **review,
        }
    )


def _csv(text: str, filename: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _not_supervisor(request: web.Request) -> web.Response | None:
    account = await _staff(request)
    if account is None or not account.role.supervises:
        return api_error(403, "forbidden", "a supervisor's token is required")
    return None


async def _staff(request: web.Request) -> AgentAccount | None:
    token = bearer_token(request)
    return await request.app[SERVICES].accounts.authenticate(token) if token else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

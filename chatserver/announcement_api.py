"""HTTP API of announcements, for supervisors: post, revise, resolve, list the active ones.
Each change is stored, then published to every language room (chatserver/announcement_desk.py)."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from chatserver import protocol
from chatserver.announcement_desk import Announced, AnnouncementDesk, UnknownAnnouncement
from chatserver.announcements import (
    AnnouncementResolved,
    InvalidAnnouncement,
    Severity,
    check_texts,
)
from chatserver.api import _staff, api_error
from chatserver.keys import SERVICES, SETTINGS, SIO
from chatserver.sockets.base import publish
from chatserver.sockets.payloads import (
    AnnouncementResolution,
    AnnouncementRevision,
    NewAnnouncementRequest,
)

routes = web.RouteTableDef()
# 15 languages of 1,000 characters, each escaped as \uXXXX at worst, and the rest.
MAX_ANNOUNCEMENT_BODY = 256 * 1024


class _Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


# What the use cases refuse, as HTTP statuses (the code and message are the exception's).
REFUSALS: dict[type[Exception], int] = {
    InvalidAnnouncement: 400,
    UnknownAnnouncement: 404,
    AnnouncementResolved: 409,
}
Handler = Callable[[web.Request], Awaitable[web.Response]]


def _answering(handler: Handler) -> Handler:
    """A refusal (no supervisor, a bad body, a use case's) is answered, never raised."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except _Refused as refused:
            return refused.response
        except (InvalidAnnouncement, UnknownAnnouncement, AnnouncementResolved) as exc:
            return api_error(REFUSALS[type(exc)], exc.code, str(exc))

    return answer


@routes.post("/api/v1/announcements")
@_answering
async def post_announcement(request: web.Request) -> web.Response:
    """`{"severity", "texts": {"en": ..., "ja": ...}}` -> 201 and the announcement."""
    desk, by = await _supervisor(request)
    body = NewAnnouncementRequest.parse(await _body(request))
    texts = check_texts(body.texts, request.app[SETTINGS].languages)
    announced = await desk.post(severity=Severity(body.severity), texts=texts, by=by)
    return await _published(request, announced, status=201)


@routes.post("/api/v1/announcements/{announcement_id}")
@_answering
async def revise_announcement(request: web.Request) -> web.Response:
    """`{"severity"?, "texts"?}`: a new version, which every reader gets in place of the last."""
    desk, _ = await _supervisor(request)
    body = AnnouncementRevision.parse(await _body(request))
    languages = request.app[SETTINGS].languages
    announced = await desk.revise(
        request.match_info["announcement_id"],
        severity=Severity(body.severity) if body.severity else None,
        texts=check_texts(body.texts, languages) if body.texts is not None else None,
    )
    return await _published(request, announced)


@routes.post("/api/v1/announcements/{announcement_id}/resolve")
@_answering
async def resolve_announcement(request: web.Request) -> web.Response:
    """`{"texts"?}`: resolved, with closing texts if given (English required with any)."""
    desk, _ = await _supervisor(request)
    body = AnnouncementResolution.parse(await _body(request, empty_ok=True))
    resolution = check_texts(body.texts or {}, request.app[SETTINGS].languages, required=False)
    announced = await desk.resolve(request.match_info["announcement_id"], resolution=resolution)
    return await _published(request, announced)


@routes.get("/api/v1/announcements")
@_answering
async def active_announcements(request: web.Request) -> web.Response:
    """The active announcements, oldest first, with every text."""
    desk, _ = await _supervisor(request)
    notices = await desk.active()
    return web.json_response(
        {"announcements": [protocol.announcement_record(notice) for notice in notices]}
    )


async def _supervisor(request: web.Request) -> tuple[AnnouncementDesk, str]:
    account = await _staff(request)
    if account is None:
        raise _Refused(api_error(401, "unauthorized", "send Authorization: Bearer <token>"))
    if not account.role.supervises:
        raise _Refused(api_error(403, "forbidden", "a supervisor's token is required"))
    return request.app[SERVICES].announcements, account.id


async def _body(request: web.Request, *, empty_ok: bool = False) -> Any:
    if request.content_length is not None and request.content_length > MAX_ANNOUNCEMENT_BODY:
        raise _Refused(api_error(413, "too_large", "the body is over 256 KiB"))
    raw = b""
    while chunk := await request.content.read(64 * 1024):  # a read returns what has come
        raw += chunk
        if len(raw) > MAX_ANNOUNCEMENT_BODY:
            raise _Refused(api_error(413, "too_large", "the body is over 256 KiB"))
    if not raw.strip() and empty_ok:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise _Refused(api_error(400, "invalid_payload", "send a JSON object"))
    return body


async def _published(
    request: web.Request, announced: Announced, *, status: int = 200
) -> web.Response:
    await publish(request.app[SIO], request.app, announced.notifications)
    return web.json_response(protocol.announcement_record(announced.announcement), status=status)

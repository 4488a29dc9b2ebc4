"""HTTP: "Email me the transcript". The customer (their conversation token, nobody else)
has their copy of the conversation (no internal notes) mailed to an address they give, in
the conversation's language with times in their zone. Limited per conversation and per
client address (`CHATSERVER_RATE_TRANSCRIPT_EMAILS*`) so the desk's mail server cannot be
turned into a way to flood someone's mailbox. The words are `transcripts.py`'s, the email
`transcript_mail.py`'s; this checks who asks and how often.
"""

from __future__ import annotations

import json
import logging
import smtplib
from typing import Any

from aiohttp import web

from chatserver import protocol
from chatserver.api import api_error, bearer_token, request_address, too_many
from chatserver.inbox import InboxKind
from chatserver.keys import LIMITS, SERVICES, SETTINGS
from chatserver.mail import MailDisabled
from chatserver.sockets.payloads import TranscriptEmailRequest
from chatserver.transcript_api import Readable, Refused, readable_by
from chatserver.transcript_mail import compose_transcript
from chatserver.transcripts import Audience, InvalidTimeZone, parse_zone, transcript_bodies

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
PATH = "/api/v1/conversations/{conversation_id}/transcript/email"
MAX_BODY = 4096
LIMIT_KIND = "transcript_emails"


async def _customer(request: web.Request) -> Readable | web.Response:
    """The conversation as its customer reads it, or the error response."""
    token = bearer_token(request)
    if token is None:
        return api_error(401, "unauthorized", "send Authorization: Bearer <conversation token>")
    try:
        readable = await readable_by(request.app, token, request.match_info["conversation_id"])
    except Refused as exc:
        return api_error(exc.status, exc.code, str(exc))
    if readable.audience is not Audience.CUSTOMER:
        return api_error(403, "forbidden", "only the conversation's customer has it emailed")
    return readable


@routes.get(PATH)
async def transcript_email_status(request: web.Request) -> web.Response:
    """Whether mail is on, and the address the customer left for the inbox, if any."""
    readable = await _customer(request)
    if isinstance(readable, web.Response):
        return readable
    services = request.app[SERVICES]
    number = readable.conversation.tracking_number or ""
    left = (
        [
            item.contact
            for item in await services.store.inbox_items_by_tracking_number(number)
            if item.kind is InboxKind.MESSAGE
        ]
        if number
        else []
    )
    return web.json_response(
        protocol.transcript_email_status(
            enabled=services.inbox.mailer.enabled, address=left[-1] if left else None
        )
    )


@routes.post(PATH)
async def email_transcript(request: web.Request) -> web.Response:
    """`{"address", "tz"}` -> the customer's transcript mailed there; `{"ok", "address"}`."""
    readable = await _customer(request)
    if isinstance(readable, web.Response):
        return readable
    body = await _json_body(request)
    if body is None:
        return api_error(400, "invalid_payload", 'send JSON {"address": ..., "tz": ...}')
    asked = TranscriptEmailRequest.parse(body)
    try:
        zone = parse_zone(asked.tz, request.app[SETTINGS].timezone)
    except InvalidTimeZone as exc:
        return api_error(400, "invalid_time_zone", str(exc))
    services = request.app[SERVICES]
    mailer = services.inbox.mailer
    if not mailer.enabled:
        return api_error(503, "mail_disabled", "no SMTP server is configured: email is off")
    conversation = readable.conversation
    wait = request.app[LIMITS].check(
        LIMIT_KIND, connection=conversation.id, address=request_address(request)
    )
    if wait > 0:
        return too_many("rate_limited", "too many transcripts emailed; try again later", wait)
    bodies = transcript_bodies(
        conversation,
        readable.messages,
        translator=services.catalogs.translator(readable.language),
        zone=zone,
        audience=Audience.CUSTOMER,
    )
    message = compose_transcript(
        mailer.config, to=asked.address, bodies=bodies, number=conversation.tracking_number
    )
    try:
        await mailer.send(message)
    except MailDisabled:
        return api_error(503, "mail_disabled", "no SMTP server is configured: email is off")
    except (OSError, ValueError, smtplib.SMTPException) as exc:
        log.warning("transcript email for %s failed: %s", conversation.id, exc)
        return api_error(502, "mail_failed", "the mail server did not take the email")
    return web.json_response(protocol.transcript_email_sent(asked.address))


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    try:
        body = json.loads(await request.content.read(MAX_BODY + 1))
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None

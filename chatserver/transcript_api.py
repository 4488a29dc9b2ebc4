"""HTTP: a conversation's transcript to download, for its customer (their conversation
token) or for the desk's staff (a console token: agents the chats they hold or held,
supervisors any). The words and the layout are `transcripts.py`'s; this checks who asks."""

from __future__ import annotations

from aiohttp import hdrs, web

from chatserver.agents import AgentAccount
from chatserver.api import api_error, bearer_token
from chatserver.clock import hash_token
from chatserver.keys import SERVICES, SETTINGS
from chatserver.models import Message
from chatserver.store.base import Store
from chatserver.transcripts import (
    FORMATS,
    Audience,
    InvalidTimeZone,
    build,
    may_export,
    parse_zone,
    render,
)

routes = web.RouteTableDef()
PAGE = 500
# Private, and not a page of this site: never cached, never run as one (inline CSS only).
TRANSCRIPT_HEADERS = {
    hdrs.CACHE_CONTROL: "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
}


@routes.get("/api/v1/conversations/{conversation_id}/transcript")
async def transcript(request: web.Request) -> web.Response:
    """`?format=txt|html&tz=<IANA zone>` -> the transcript as an attachment."""
    token = bearer_token(request)
    if token is None:
        return api_error(401, "unauthorized", "send Authorization: Bearer <token>")
    settings = request.app[SETTINGS]
    fmt = request.query.get("format", "txt")
    if fmt not in FORMATS:
        return api_error(400, "invalid_query", "format must be txt or html")
    try:
        zone = parse_zone(request.query.get("tz"), settings.timezone)
    except InvalidTimeZone as exc:
        return api_error(400, "invalid_time_zone", str(exc))
    services = request.app[SERVICES]
    store = services.store
    conversation_id = request.match_info["conversation_id"]
    conversation = await store.get_conversation(conversation_id)
    owner = await store.conversation_by_token(hash_token(token))
    if owner is not None:
        if conversation is None or owner.id != conversation.id:
            # The same answer for "no such conversation" and "not yours".
            return api_error(404, "unknown_conversation", "no such conversation for this token")
        audience, language = Audience.CUSTOMER, conversation.language
        messages = await all_messages(store, conversation.id)
    else:
        account = await services.accounts.authenticate(token)
        if account is None:
            return api_error(401, "unauthorized", "this token is not valid (any more)")
        if conversation is None:
            return api_error(404, "unknown_conversation", "no conversation with this id")
        messages = await all_messages(store, conversation.id)
        if not may_export(account, conversation, messages):
            return api_error(403, "forbidden", "agents export the conversations they hold or held")
        audience, language = (
            Audience.STAFF,
            staff_language(account, settings.languages, settings.default_language),
        )
    document = build(
        conversation,
        messages,
        translator=services.catalogs.translator(language),
        zone=zone,
        audience=audience,
    )
    body, content_type, filename = render(document, fmt)
    return web.Response(
        text=body,
        content_type=content_type,
        charset="utf-8",
        headers={
            **TRANSCRIPT_HEADERS,
            hdrs.CONTENT_DISPOSITION: f'attachment; filename="{filename}"',
        },
    )


async def all_messages(store: Store, conversation_id: str) -> list[Message]:
    """Every message of a conversation, page by page, in order."""
    messages: list[Message] = []
    while True:
        page = await store.messages(
            conversation_id, after_seq=messages[-1].seq if messages else 0, limit=PAGE
        )
        messages += page
        if len(page) < PAGE:
            return messages


def staff_language(account: AgentAccount, languages: tuple[str, ...], default: str) -> str:
    """The language an agent reads the desk's labels in: their most fluent one the desk has."""
    return next((tag for tag in account.languages if tag in languages), default)

"""HTTP: a conversation's transcript to download, for its customer (their conversation
token) or for the desk's staff (a console token: agents the chats they hold, held or
see waiting in their queues, with who handled it; supervisors any). The words and the
layout are `transcripts.py`'s; this checks who asks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import hdrs, web

from chatserver.agents import AgentAccount
from chatserver.api import api_error, bearer_token
from chatserver.clock import hash_token
from chatserver.holdings import Holding
from chatserver.keys import SERVICES, SETTINGS
from chatserver.models import Conversation, ConversationStatus, Message
from chatserver.routing import UnknownAgent
from chatserver.store.base import Store
from chatserver.transcripts import (
    Audience,
    InvalidFormat,
    InvalidTimeZone,
    TranscriptQuery,
    Waiting,
    build,
    may_export,
    render,
    same_customer,
)

routes = web.RouteTableDef()
PAGE = 500
# Private, and not a page of this site: never cached, never run as one (inline CSS only).
TRANSCRIPT_HEADERS = {
    hdrs.CACHE_CONTROL: "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
}


class Refused(Exception):
    """The token may not read this conversation: an HTTP status, a code and why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Readable:
    """A conversation, its messages, and who reads them in which language."""

    conversation: Conversation
    messages: list[Message]
    audience: Audience
    language: str
    holdings: Sequence[Holding] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # agents' names, by id


@routes.get("/api/v1/conversations/{conversation_id}/transcript")
async def transcript(request: web.Request) -> web.Response:
    """`?format=txt|html&tz=<IANA zone>` -> the transcript as an attachment."""
    token = bearer_token(request)
    if token is None:
        return api_error(401, "unauthorized", "send Authorization: Bearer <token>")
    try:
        query = TranscriptQuery.parse(request.query, default_zone=request.app[SETTINGS].timezone)
    except InvalidFormat as exc:
        return api_error(400, "invalid_query", str(exc))
    except InvalidTimeZone as exc:
        return api_error(400, "invalid_time_zone", str(exc))
    try:
        readable = await readable_by(request.app, token, request.match_info["conversation_id"])
    except Refused as exc:
        return api_error(exc.status, exc.code, str(exc))
    document = build(
        readable.conversation,
        readable.messages,
        translator=request.app[SERVICES].catalogs.translator(readable.language),
        zone=query.zone,
        audience=readable.audience,
        holdings=readable.holdings,
        names=readable.names,
    )
    body, content_type, filename = render(document, query.format)
    return web.Response(
        text=body,
        content_type=content_type,
        charset="utf-8",
        headers={
            **TRANSCRIPT_HEADERS,
            hdrs.CONTENT_DISPOSITION: f'attachment; filename="{filename}"',
        },
    )


async def readable_by(app: web.Application, token: str, conversation_id: str) -> Readable:
    """The conversation as the holder of `token` may read it, or Refused: its customer (no
    notes, in the conversation's language), or staff allowed to export it."""
    services, settings = app[SERVICES], app[SETTINGS]
    store = services.store
    conversation = await store.get_conversation(conversation_id)
    owner = await store.conversation_by_token(hash_token(token))
    if owner is not None:
        if conversation is None or owner.id != conversation.id:
            # The same answer for "no such conversation" and "not yours".
            raise Refused(404, "unknown_conversation", "no such conversation for this token")
        messages = await all_messages(store, conversation.id)
        return Readable(conversation, messages, Audience.CUSTOMER, conversation.language)
    account = await services.accounts.authenticate(token)
    if account is None:
        raise Refused(401, "unauthorized", "this token is not valid (any more)")
    if conversation is None:
        raise Refused(404, "unknown_conversation", "no conversation with this id")
    messages = await all_messages(store, conversation.id)
    holdings = await store.holdings(conversation.id)
    waiting = waiting_in(app, conversation)
    if not may_export(
        account, conversation, messages, holdings, waiting=waiting
    ) and not same_customer(conversation, await held_by(app, account.id)):
        raise Refused(
            403,
            "forbidden",
            "agents export the conversations they hold or held, and those waiting in their queues",
        )
    language = staff_language(account, settings.languages, settings.default_language)
    names = {}
    if holdings:
        names = {agent.id: agent.name for agent in await store.agents()}
    return Readable(conversation, messages, Audience.STAFF, language, holdings, names)


async def held_by(app: web.Application, agent_id: str) -> list[Conversation]:
    """The conversations the agent holds now."""
    dispatcher, store = app[SERVICES].dispatcher, app[SERVICES].store
    try:
        ids = sorted(dispatcher.router.agent_conversations(agent_id))
    except UnknownAgent:  # never online in this process: holds nothing
        return []
    found = [await store.get_conversation(conversation_id) for conversation_id in ids]
    return [conversation for conversation in found if conversation is not None]


def waiting_in(app: web.Application, conversation: Conversation) -> Waiting | None:
    """Where a waiting conversation is shown now: its queue's team and languages as the
    desk holds them (widened ones too); its own language when the desk does not hold it."""
    if conversation.status is not ConversationStatus.QUEUED:
        return None
    dispatcher = app[SERVICES].dispatcher
    views = dispatcher.router.views([conversation.id], dispatcher.clock.now())
    if views:
        return Waiting(views[0].queue.team, views[0].languages)
    return Waiting(conversation.team, (conversation.language,))


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

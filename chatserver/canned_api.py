"""HTTP: canned replies (any agent reads them; supervisors write them) and the FAQ's
answers for the composer (searched in the agent's language, inserted in the customer's:
the FAQ is aligned by entry id). The rules are `canned.py`'s; this checks who asks."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from aiohttp import web

from chatserver import canned, protocol
from chatserver.agents import AgentAccount
from chatserver.api import api_error, bearer_token
from chatserver.clock import new_id
from chatserver.keys import SERVICES, SETTINGS
from chatserver.transcript_api import all_messages, waiting_in
from chatserver.transcripts import may_export

routes = web.RouteTableDef()
MAX_BODY = 16 * 1024


class _Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        super().__init__(response.text)
        self.response = response


async def _staff(request: web.Request, *, supervisor: bool = False) -> AgentAccount:
    token = bearer_token(request)
    account = await request.app[SERVICES].accounts.authenticate(token) if token else None
    if account is None:
        raise _Refused(api_error(401, "unauthorized", "send a valid console token"))
    if supervisor and not account.role.supervises:
        raise _Refused(api_error(403, "forbidden", "a supervisor's token is required"))
    return account


async def _body(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _Refused(api_error(400, "invalid_payload", f"at most {MAX_BODY} bytes"))
    try:
        return json.loads(await request.content.read(MAX_BODY + 1))
    except (ValueError, UnicodeDecodeError):
        raise _Refused(api_error(400, "invalid_payload", "send a JSON object")) from None


def _answering(handler: Any) -> Any:
    async def answer(request: web.Request) -> web.Response:
        try:
            response: web.Response = await handler(request)
        except _Refused as refused:
            return refused.response
        except canned.InvalidCanned as exc:
            return api_error(400, exc.code, str(exc))
        return response

    answer.__name__ = handler.__name__
    answer.__doc__ = handler.__doc__
    return answer


@routes.get("/api/v1/canned")
@_answering
async def canned_list(request: web.Request) -> web.Response:
    """Every canned reply; with `?conversation_id=`, those in its customer's language (else
    English), each with `filled`: the placeholders filled for that chat."""
    account = await _staff(request)
    store = request.app[SERVICES].store
    replies = await store.canned_replies()
    conversation_id = request.query.get("conversation_id")
    if conversation_id is None:
        return web.json_response({"replies": [protocol.canned_reply(r) for r in replies]})
    conversation = await store.get_conversation(conversation_id)
    if conversation is None:
        return api_error(404, "unknown_conversation", "no conversation with this id")
    messages = await all_messages(store, conversation.id)
    holdings = await store.holdings(conversation.id)
    waiting = waiting_in(request.app, conversation)
    if not may_export(account, conversation, messages, holdings, waiting=waiting):
        return api_error(403, "forbidden", "not a chat this agent may see")
    values = {
        "customer_name": conversation.customer_name,
        "tracking_number": conversation.tracking_number,
        "agent_name": account.name,
    }
    chosen = canned.for_language(replies, conversation.language)
    return web.json_response(
        {
            "language": conversation.language,
            "replies": [
                protocol.canned_reply(r, filled=canned.fill(r.text, values)) for r in chosen
            ],
        }
    )


@routes.post("/api/v1/canned")
@_answering
async def canned_create(request: web.Request) -> web.Response:
    """`{"language", "title", "text"}` -> 201 and the reply. Supervisors only."""
    account = await _staff(request, supervisor=True)
    language, title, text = canned.validated(await _body(request), request.app[SETTINGS].languages)
    now = request.app[SERVICES].accounts.clock.now()
    reply = canned.CannedReply(new_id(), language, title, text, account.id, now, now)
    await request.app[SERVICES].store.save_canned_reply(reply)
    return web.json_response(protocol.canned_reply(reply), status=201)


@routes.put("/api/v1/canned/{reply_id}")
@_answering
async def canned_update(request: web.Request) -> web.Response:
    """`{"language", "title", "text"}` -> the reply, changed. Supervisors only."""
    await _staff(request, supervisor=True)
    store = request.app[SERVICES].store
    reply = await store.canned_reply(request.match_info["reply_id"])
    if reply is None:
        return api_error(404, "unknown_canned", "no canned reply with this id")
    language, title, text = canned.validated(await _body(request), request.app[SETTINGS].languages)
    now = request.app[SERVICES].accounts.clock.now()
    reply = replace(reply, language=language, title=title, text=text, updated_at=now)
    await store.save_canned_reply(reply)
    return web.json_response(protocol.canned_reply(reply))


@routes.delete("/api/v1/canned/{reply_id}")
@_answering
async def canned_delete(request: web.Request) -> web.Response:
    """Remove a canned reply. Supervisors only."""
    await _staff(request, supervisor=True)
    if not await request.app[SERVICES].store.delete_canned_reply(request.match_info["reply_id"]):
        return api_error(404, "unknown_canned", "no canned reply with this id")
    return web.json_response({"ok": True})


@routes.get("/api/v1/faq/answers")
@_answering
async def faq_answers(request: web.Request) -> web.Response:
    """`?search=<agent's language>&answer=<customer's language>`: every FAQ entry with its
    question in the first and its answer in the second (English when it has none)."""
    await _staff(request)
    languages = request.app[SETTINGS].languages
    search, answer = request.query.get("search", "en"), request.query.get("answer", "en")
    if search not in languages or answer not in languages:
        return api_error(400, "invalid_query", f"search and answer: one of {', '.join(languages)}")
    faq = request.app[SERVICES].bot.matcher.faq
    entries = []
    for entry_id in sorted(faq.ids):
        asked, answered = faq.entry(entry_id, search), faq.entry(entry_id, answer)
        if asked is None or answered is None:
            continue
        entries.append(protocol.faq_answer(asked, answered))
    return web.json_response({"search": search, "answer": answer, "entries": entries})

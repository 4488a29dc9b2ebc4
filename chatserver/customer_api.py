"""HTTP: the customer beside a chat, for the console's customer panel: who they are (the
signed identity's name, email, tier and account manager) and their previous conversations,
each of which the agent may then open as a transcript. Staff who may export the chat may
read this (`transcripts.may_export`); the payload is `protocol.customer_panel`'s."""

from __future__ import annotations

from aiohttp import web

from chatserver import protocol
from chatserver.api import api_error, bearer_token
from chatserver.keys import SERVICES
from chatserver.transcript_api import all_messages, waiting_in
from chatserver.transcripts import may_export

routes = web.RouteTableDef()
# Enough history to recognise a regular; the transcripts have the rest.
MAX_PREVIOUS = 20


@routes.get("/api/v1/conversations/{conversation_id}/customer")
async def customer_panel(request: web.Request) -> web.Response:
    token = bearer_token(request)
    if token is None:
        return api_error(401, "unauthorized", "send Authorization: Bearer <console token>")
    services = request.app[SERVICES]
    account = await services.accounts.authenticate(token)
    if account is None:
        return api_error(401, "unauthorized", "this is not a valid console token (any more)")
    store = services.store
    conversation = await store.get_conversation(request.match_info["conversation_id"])
    if conversation is None:
        return api_error(404, "unknown_conversation", "no conversation with this id")
    messages = await all_messages(store, conversation.id)
    holdings = await store.holdings(conversation.id)
    waiting = waiting_in(request.app, conversation)
    if not may_export(account, conversation, messages, holdings, waiting=waiting):
        return api_error(
            403, "forbidden", "agents see the customers of chats they hold, held or may take"
        )
    previous = []
    if conversation.customer_id:
        found = await store.customer_conversations(conversation.customer_id, MAX_PREVIOUS + 1)
        previous = [c for c in found if c.id != conversation.id][:MAX_PREVIOUS]
    manager = await store.agent_by_username(conversation.manager) if conversation.manager else None
    return web.json_response(
        protocol.customer_panel(
            conversation, previous, manager_name=manager.name if manager else None
        )
    )

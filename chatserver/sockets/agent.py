"""The `/agent` namespace: the console's side of the protocol (docs/protocol.md).

A console connects with the token from `POST /api/v1/login`. An agent may have several
consoles open; they are online while one is connected. When the last one disconnects the
agent keeps their chats for a grace period, so a reload or a network blip changes nothing;
after it the desk's tick takes them offline and their chats are re-queued at the head of
their queues (the desk keeps the consoles and the deadline: chatserver/presence.py).

Each socket remembers the session it connected with. When that session ends (log-out, a
supervisor's revoke, or its expiry) the socket is told (`session_ended`) and disconnected;
an event on a socket whose session has expired is refused with `unauthorized`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from socketio.exceptions import ConnectionRefusedError as SocketRefused

from chatserver import protocol
from chatserver.events import Notify
from chatserver.keys import METRICS, SERVICES, SETTINGS, SIO
from chatserver.protocol import (
    AcceptAck,
    AgentRequest,
    ErrorAck,
    InboxAck,
    MessageAck,
    OkAck,
    ServerEvent,
    StatusAck,
    TakeChatsAck,
)
from chatserver.sockets.base import (
    AGENT_NAMESPACE,
    SUPERVISORS_ROOM,
    Handler,
    Namespace,
    agent_room,
    consoles_room,
)
from chatserver.sockets.payloads import (
    AgentMessageRequest,
    AgentTypingRequest,
    AssignRequest,
    BadRequest,
    ConversationIdRequest,
    InboxItemRequest,
    InboxOutcomeRequest,
    InboxReplyRequest,
    StatusRequest,
    TakeChatsRequest,
    TransferRequest,
    agent_status_choice,
    agent_token,
    error,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Login:
    """What a socket authenticated with."""

    token_hash: str
    agent_id: str
    expires_at: datetime
    timer: asyncio.TimerHandle | None = None


class AgentNamespace(Namespace):
    def __init__(self, app: web.Application) -> None:
        super().__init__(AGENT_NAMESPACE, app)
        self._closing = False  # the server is stopping: disconnects are not agents leaving
        self._logins: dict[str, _Login] = {}  # socket id -> its session
        self._ending: set[asyncio.Task[None]] = set()

    def handlers(self) -> dict[str, Handler]:
        return {
            AgentRequest.STATUS: self._status,
            AgentRequest.ACCEPT: self._accept,
            AgentRequest.MESSAGE: self._message,
            AgentRequest.NOTE: self._note,
            AgentRequest.TRANSFER: self._transfer,
            AgentRequest.CLOSE: self._close,
            AgentRequest.ASSIGN: self._assign,
            AgentRequest.INBOX_TAKE: self._inbox_take,
            AgentRequest.INBOX_OUTCOME: self._inbox_outcome,
            AgentRequest.INBOX_REPLY: self._inbox_reply,
            AgentRequest.TYPING: self._typing,
            AgentRequest.TAKE_CHATS: self._take_chats,
        }

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = agent_token(auth, environ.get("HTTP_AUTHORIZATION", ""))
        found = await self.app[SERVICES].accounts.session_of(token) if token else None
        if found is None:
            raise SocketRefused("log in first", {"code": "unauthorized", "message": "log in first"})
        account, session = found
        await self.save_session(sid, {"agent_id": account.id, "role": str(account.role)})
        self._logins[sid] = _Login(session.token_hash, account.id, session.expires_at)
        self._watch_expiry(sid)
        await self.enter_room(sid, agent_room(account.id))
        if account.role.supervises:
            await self.enter_room(sid, SUPERVISORS_ROOM)
        self.app[METRICS].connections.labels(namespace=AGENT_NAMESPACE).inc()
        # Announcements, in the agent's first language: the active ones before the queue
        # (a console drops a banner it had that does not come again before it).
        await self.enter_room(sid, consoles_room(account.languages[0]))
        announcements = self.app[SERVICES].announcements
        await self.publish(await announcements.for_console(sid, account.languages[0]))
        dispatcher = self.app[SERVICES].dispatcher
        await dispatcher.console_connected(account.id, sid)
        status = agent_status_choice(auth)
        await self.publish((await dispatcher.agent_online(account, status=status)).notifications)
        await self.publish(dispatcher.console_opened(account.id, sid))
        await self.publish(await self.app[SERVICES].inbox.console_opened(account, sid))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.app[METRICS].connections.labels(namespace=AGENT_NAMESPACE).dec()
        self._forget_login(sid)
        session = await self.get_session(sid)
        agent_id = session.get("agent_id")
        if agent_id and not self._closing:
            # With the last console the agent grace starts; the desk's tick acts on it.
            await self.app[SERVICES].dispatcher.console_closed(agent_id, sid)

    async def close_all(self) -> None:
        """The server stops: no session timer may run on after this, and closing sockets
        are not agents leaving."""
        self._closing = True
        for login in self._logins.values():
            if login.timer is not None:
                login.timer.cancel()
        for task in self._ending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def admit(self, sid: str, event: str) -> ErrorAck | None:
        """Every event is checked against the socket's session: ended or expired, refused."""
        login = self._logins.get(sid)
        if login is None:
            return error("unauthorized", "this console's session has ended; log in again")
        if self.app[SERVICES].accounts.clock.now() >= login.expires_at:
            self._end_later([sid], "expired")
            return error("unauthorized", "this console's session has expired; log in again")
        return None

    async def end_session(self, token_hash: str, reason: str) -> int:
        """Tell and disconnect every socket of one session; returns how many there were."""
        sids = [sid for sid, login in self._logins.items() if login.token_hash == token_hash]
        await self._end(sids, reason)
        return len(sids)

    async def end_agent(self, agent_id: str, reason: str) -> int:
        """Tell and disconnect every socket of one agent, whatever its session."""
        sids = [sid for sid, login in self._logins.items() if login.agent_id == agent_id]
        await self._end(sids, reason)
        return len(sids)

    async def _end(self, sids: Iterable[str], reason: str) -> None:
        for sid in sids:
            if self._forget_login(sid) is None:
                continue  # already ended (or gone)
            try:
                await self.publish(
                    [Notify.console(sid, ServerEvent.SESSION_ENDED, protocol.session_ended(reason))]
                )
                await self.disconnect(sid)
            except Exception:  # one socket's failure must not keep the others open
                log.exception("could not end a socket of an ended session", extra={"sid": sid})

    def _end_later(self, sids: list[str], reason: str) -> None:
        """End sockets after the current event's acknowledgement has gone out."""
        task = asyncio.create_task(self._end(sids, reason))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    def _watch_expiry(self, sid: str) -> None:
        """End the socket when its session expires, even if it never sends an event."""
        login = self._logins.get(sid)
        if login is None or self._closing:
            return
        remaining = (login.expires_at - self.app[SERVICES].accounts.clock.now()).total_seconds()
        if remaining <= 0:
            self._end_later([sid], "expired")
            return
        loop = asyncio.get_running_loop()
        login.timer = loop.call_later(remaining, self._watch_expiry, sid)

    def _forget_login(self, sid: str) -> _Login | None:
        login = self._logins.pop(sid, None)
        if login is not None and login.timer is not None:
            login.timer.cancel()
        return login

    async def _agent(self, sid: str) -> str:
        return str((await self.get_session(sid))["agent_id"])

    async def _status(self, sid: str, data: Any) -> StatusAck:
        request = StatusRequest.parse(data)
        agent_id = await self._agent(sid)
        outcome = await self.app[SERVICES].dispatcher.agent_status(agent_id, request.status)
        await self.publish(outcome.notifications)
        return protocol.status_ack(request.status)

    async def _take_chats(self, sid: str, data: Any) -> TakeChatsAck:
        request = TakeChatsRequest.parse(data)
        agent_id = await self._agent(sid)
        outcome = await self.app[SERVICES].dispatcher.take_chats(agent_id, request.on)
        await self.publish(outcome.notifications)
        return protocol.take_chats_ack(request.on)

    async def _accept(self, sid: str, data: Any) -> AcceptAck:
        request = ConversationIdRequest.parse(data)
        agent_id = await self._agent(sid)
        outcome = await self.app[SERVICES].dispatcher.accept(agent_id, request.conversation_id)
        await self.publish(outcome.notifications)
        return protocol.accept_ack(request.conversation_id)

    async def _message(self, sid: str, data: Any) -> MessageAck:
        return await self._write(sid, data, note=False)

    async def _note(self, sid: str, data: Any) -> MessageAck:
        return await self._write(sid, data, note=True)

    async def _write(self, sid: str, data: Any, *, note: bool) -> MessageAck:
        request = AgentMessageRequest.parse(data, max_chars=self.app[SETTINGS].max_message_chars)
        agent_id = await self._agent(sid)
        outcome = await self.app[SERVICES].dispatcher.agent_message(
            agent_id, request.conversation_id, request.text, request.client_id, note=note
        )
        await self.publish(outcome.notifications)
        return protocol.message_ack(
            outcome.result["message"], duplicate=outcome.result["duplicate"]
        )

    async def _typing(self, sid: str, data: Any) -> OkAck:
        request = AgentTypingRequest.parse(data)
        agent_id = await self._agent(sid)
        dispatcher = self.app[SERVICES].dispatcher
        await self.publish(
            dispatcher.agent_typing(agent_id, request.conversation_id, request.typing)
        )
        return protocol.ok_ack()

    async def _transfer(self, sid: str, data: Any) -> OkAck:
        request = TransferRequest.parse(data)
        agent_id = await self._agent(sid)
        outcome = await self.app[SERVICES].dispatcher.transfer(
            agent_id,
            request.conversation_id,
            to_agent=request.to_agent,
            to_queue=request.to_queue,
            reason=request.reason,
        )
        await self.publish(outcome.notifications)
        return protocol.ok_ack()

    async def _close(self, sid: str, data: Any) -> OkAck:
        request = ConversationIdRequest.parse(data)
        agent_id = await self._agent(sid)
        outcome = await self.app[SERVICES].dispatcher.close(
            request.conversation_id, by_agent=agent_id
        )
        await self.publish(outcome.notifications)
        return protocol.ok_ack()

    async def _assign(self, sid: str, data: Any) -> OkAck:
        request = AssignRequest.parse(data)
        session = await self.get_session(sid)
        if session.get("role") not in ("supervisor", "admin"):
            raise BadRequest("not_permitted", "only supervisors assign by hand")
        outcome = await self.app[SERVICES].dispatcher.assign(
            str(session["agent_id"]), request.conversation_id, request.agent_id
        )
        await self.publish(outcome.notifications)
        return protocol.ok_ack()

    # -- the offline inbox (chatserver/inbox_desk.py) ---------------------------------------

    async def _inbox_take(self, sid: str, data: Any) -> InboxAck:
        request = InboxItemRequest.parse(data)
        changed = await self.app[SERVICES].inbox.take(await self._agent(sid), request.item_id)
        await self.publish(changed.notifications)
        return protocol.inbox_ack(changed.item)

    async def _inbox_outcome(self, sid: str, data: Any) -> InboxAck:
        request = InboxOutcomeRequest.parse(data)
        changed = await self.app[SERVICES].inbox.record_outcome(
            await self._agent(sid), request.item_id, request.outcome
        )
        await self.publish(changed.notifications)
        return protocol.inbox_ack(changed.item)

    async def _inbox_reply(self, sid: str, data: Any) -> InboxAck:
        request = InboxReplyRequest.parse(data, max_chars=self.app[SETTINGS].max_message_chars)
        changed = await self.app[SERVICES].inbox.reply(
            await self._agent(sid), request.item_id, request.text
        )
        await self.publish(changed.notifications)
        return protocol.inbox_ack(changed.item)


def agent_namespace(app: web.Application) -> AgentNamespace:
    """The application's /agent namespace (to end sessions' sockets from HTTP)."""
    namespace = app[SIO].namespace_handlers.get(AGENT_NAMESPACE)
    if not isinstance(namespace, AgentNamespace):
        raise LookupError("the /agent namespace is not registered")
    return namespace

"""The `/agent` namespace: the console's side of the protocol (docs/protocol.md).

A console connects with the token from `POST /api/v1/login`. An agent may have several
consoles open; they are online while one is connected. When the last one disconnects the
agent keeps their chats for a grace period, so a reload or a network blip changes nothing;
after it they go offline and their chats are re-queued at the head of their queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web
from socketio.exceptions import ConnectionRefusedError as SocketRefused

from chatserver.keys import METRICS, SERVICES, SETTINGS
from chatserver.sockets.base import (
    AGENT_NAMESPACE,
    SUPERVISORS_ROOM,
    Handler,
    Namespace,
    agent_room,
)
from chatserver.sockets.payloads import (
    AgentMessageRequest,
    AssignRequest,
    BadRequest,
    ConversationIdRequest,
    StatusRequest,
    TransferRequest,
    agent_token,
    ok,
)

log = logging.getLogger(__name__)


class AgentNamespace(Namespace):
    def __init__(self, app: web.Application) -> None:
        super().__init__(AGENT_NAMESPACE, app)
        self._sockets: dict[str, set[str]] = {}  # agent id -> socket ids
        self._leaving: dict[str, asyncio.Task[None]] = {}  # agent id -> grace timer
        self._closing = False  # the server is stopping: disconnects are not agents leaving

    def handlers(self) -> dict[str, Handler]:
        return {
            "status": self._status,
            "accept": self._accept,
            "message": self._message,
            "note": self._note,
            "transfer": self._transfer,
            "close": self._close,
            "assign": self._assign,
        }

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = agent_token(auth, environ.get("HTTP_AUTHORIZATION", ""))
        account = await self.app[SERVICES].accounts.authenticate(token) if token else None
        if account is None:
            raise SocketRefused({"code": "unauthorized", "message": "log in first"})
        await self.save_session(sid, {"agent_id": account.id, "role": str(account.role)})
        await self.enter_room(sid, agent_room(account.id))
        if account.role.supervises:
            await self.enter_room(sid, SUPERVISORS_ROOM)
        self._sockets.setdefault(account.id, set()).add(sid)
        leaving = self._leaving.pop(account.id, None)
        if leaving is not None:
            leaving.cancel()
        self.app[METRICS].connections.labels(namespace=AGENT_NAMESPACE).inc()
        dispatcher = self.app[SERVICES].dispatcher
        await self.publish((await dispatcher.agent_online(account)).notifications)
        await self.emit("queue", dispatcher.queue_for(account.id), to=sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.app[METRICS].connections.labels(namespace=AGENT_NAMESPACE).dec()
        session = await self.get_session(sid)
        agent_id = session.get("agent_id")
        sockets = self._sockets.get(agent_id, set())
        sockets.discard(sid)
        if agent_id and not sockets and not self._closing:
            grace = self.app[SETTINGS].agent_grace_seconds
            self._leaving[agent_id] = asyncio.create_task(self._leave_after(agent_id, grace))

    async def _leave_after(self, agent_id: str, grace: float) -> None:
        await asyncio.sleep(grace)
        self._leaving.pop(agent_id, None)
        if self._sockets.get(agent_id):
            return
        outcome = await self.app[SERVICES].dispatcher.agent_status(agent_id, "offline")
        await self.publish(outcome.notifications)

    async def close_all(self) -> None:
        """The server stops: no grace timer may run on (or be started) after this."""
        self._closing = True
        for task in list(self._leaving.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _agent(self, sid: str) -> str:
        return str((await self.get_session(sid))["agent_id"])

    async def _status(self, sid: str, data: Any) -> dict[str, Any]:
        request = StatusRequest.parse(data)
        agent_id = await self._agent(sid)
        outcome = await self.app[SERVICES].dispatcher.agent_status(agent_id, request.status)
        await self.publish(outcome.notifications)
        return ok(status=request.status)

    async def _accept(self, sid: str, data: Any) -> dict[str, Any]:
        request = ConversationIdRequest.parse(data)
        agent_id = await self._agent(sid)
        outcome = await self.app[SERVICES].dispatcher.accept(agent_id, request.conversation_id)
        await self.publish(outcome.notifications)
        return ok(conversation_id=request.conversation_id)

    async def _message(self, sid: str, data: Any) -> dict[str, Any]:
        return await self._write(sid, data, note=False)

    async def _note(self, sid: str, data: Any) -> dict[str, Any]:
        return await self._write(sid, data, note=True)

    async def _write(self, sid: str, data: Any, *, note: bool) -> dict[str, Any]:
        request = AgentMessageRequest.parse(data, max_chars=self.app[SETTINGS].max_message_chars)
        agent_id = await self._agent(sid)
        outcome = await self.app[SERVICES].dispatcher.agent_message(
            agent_id, request.conversation_id, request.text, request.client_id, note=note
        )
        await self.publish(outcome.notifications)
        return ok(**outcome.result)

    async def _transfer(self, sid: str, data: Any) -> dict[str, Any]:
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
        return ok()

    async def _close(self, sid: str, data: Any) -> dict[str, Any]:
        request = ConversationIdRequest.parse(data)
        agent_id = await self._agent(sid)
        outcome = await self.app[SERVICES].dispatcher.close(
            request.conversation_id, by_agent=agent_id
        )
        await self.publish(outcome.notifications)
        return ok()

    async def _assign(self, sid: str, data: Any) -> dict[str, Any]:
        request = AssignRequest.parse(data)
        session = await self.get_session(sid)
        if session.get("role") not in ("supervisor", "admin"):
            raise BadRequest("not_permitted", "only supervisors assign by hand")
        outcome = await self.app[SERVICES].dispatcher.assign(
            str(session["agent_id"]), request.conversation_id, request.agent_id
        )
        await self.publish(outcome.notifications)
        return ok()

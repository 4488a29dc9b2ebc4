"""What the use cases tell the transport to publish: `Notify`, their only output to clients.
They return these; they never emit. Event names and payloads are the protocol's
(chatserver/protocol.py); who receives each is the audience's room (sockets/base.py,
`publish`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chatserver.protocol import ServerEvent


class Audience(StrEnum):
    CUSTOMER = "customer"  # the sockets of one conversation (target: conversation id)
    AGENT = "agent"  # one agent's consoles (target: agent id; "" = nobody has it yet)
    SUPERVISORS = "supervisors"
    CONSOLE = "console"  # one console's socket on /agent (target: socket id)
    READERS = "readers"  # customers reading one language (target: language)
    CUSTOMER_SOCKET = "customer_socket"  # one widget's socket on /customer (target: socket id)
    CONSOLES = "consoles"  # consoles whose agent's first language it is (target: language)


@dataclass(frozen=True, slots=True)
class Notify:
    audience: Audience
    target: str
    event: ServerEvent
    payload: Mapping[str, Any] = field(default_factory=dict)
    skip: str | None = None  # a socket of the audience that already has it (the sender's)

    @classmethod
    def customer(
        cls,
        conversation_id: str,
        event: ServerEvent,
        payload: Mapping[str, Any],
        *,
        skip: str | None = None,
    ) -> Notify:
        return cls(Audience.CUSTOMER, conversation_id, event, payload, skip)

    @classmethod
    def agent(cls, agent_id: str, event: ServerEvent, payload: Mapping[str, Any]) -> Notify:
        return cls(Audience.AGENT, agent_id, event, payload)

    @classmethod
    def supervisors(cls, event: ServerEvent, payload: Mapping[str, Any]) -> Notify:
        return cls(Audience.SUPERVISORS, "", event, payload)

    @classmethod
    def readers(cls, language: str, event: ServerEvent, payload: Mapping[str, Any]) -> Notify:
        return cls(Audience.READERS, language, event, payload)

    @classmethod
    def customer_socket(cls, sid: str, event: ServerEvent, payload: Mapping[str, Any]) -> Notify:
        return cls(Audience.CUSTOMER_SOCKET, sid, event, payload)

    @classmethod
    def consoles(cls, language: str, event: ServerEvent, payload: Mapping[str, Any]) -> Notify:
        return cls(Audience.CONSOLES, language, event, payload)

    @classmethod
    def console(cls, sid: str, event: ServerEvent, payload: Mapping[str, Any]) -> Notify:
        return cls(Audience.CONSOLE, sid, event, payload)

"""What the use cases tell the transport to publish. They return these; they never emit."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chatserver.models import Message

# Server -> customer event names (docs/protocol.md).
MESSAGE = "message"


@dataclass(frozen=True, slots=True)
class MessagePosted:
    """A message every participant of the conversation may see."""

    message: Message


class Audience(StrEnum):
    CUSTOMER = "customer"  # the sockets of one conversation (target: conversation id)
    AGENT = "agent"  # one agent's consoles (target: agent id; "" = nobody has it yet)
    SUPERVISORS = "supervisors"


@dataclass(frozen=True, slots=True)
class Notify:
    audience: Audience
    target: str
    event: str
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def customer(cls, conversation_id: str, event: str, payload: dict[str, Any]) -> Notify:
        return cls(Audience.CUSTOMER, conversation_id, event, payload)

    @classmethod
    def agent(cls, agent_id: str, event: str, payload: dict[str, Any]) -> Notify:
        return cls(Audience.AGENT, agent_id, event, payload)

    @classmethod
    def supervisors(cls, event: str, payload: dict[str, Any]) -> Notify:
        return cls(Audience.SUPERVISORS, "", event, payload)


Event = MessagePosted

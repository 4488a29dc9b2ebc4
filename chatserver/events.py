"""What the desk tells the transport to publish. The desk returns these; it never emits."""

from __future__ import annotations

from dataclasses import dataclass

from chatserver.models import Message

# Server -> customer event names (docs/protocol.md).
MESSAGE = "message"


@dataclass(frozen=True, slots=True)
class MessagePosted:
    """A message every participant of the conversation may see."""

    message: Message


Event = MessagePosted

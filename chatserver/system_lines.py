"""The desk's system lines: what a customer is told as their chat moves on (their place in
line, a queue widened to English, who joined, a tracking number, that it ended).

Pure. A line is stored as the customer read it, in their language, and its kind and values
go into the message's `meta` (`{"kind": "queued", "values": {"position": 2}}`), so that
whoever else reads the transcript (an agent serving a Thai chat in English) is shown the
same line in their own language (`render`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chatserver.i18n import N_, Translator

QUEUED_TEXT = N_(
    "I am connecting you with a member of our team. You are number {position} in line."
)
FALLBACK_TEXT = N_(
    "No colleague who speaks {language} is free right now, so a colleague will answer you "
    "in English."
)
ASSIGNED_TEXT = N_("{name} has joined the conversation.")
OFFLINE_TEXT = N_(
    "Sorry, nobody is available to chat right now. Leave your email address or ask for a "
    "call back and we will contact you. Your tracking number is {number}."
)
LEFT_MESSAGE_TEXT = N_("Thank you. We will contact you soon. Your tracking number is {number}.")
CLOSED_TEXT = N_("This conversation has ended. Your tracking number is {number}.")
# Told when the customer's sockets were all gone for longer than the grace period: they read
# it if they come back (the widget then offers to talk to a person again).
CUSTOMER_LEFT_TEXT = N_(
    "You were away for a while, so this chat has ended. If you still need help, you can "
    "talk to a person again."
)

# A value under this key is a language tag, named in the reader's language ("Thai", "タイ語").
LANGUAGE_VALUE = "language"


class LineKind(StrEnum):
    QUEUED = "queued"
    FALLBACK = "fallback"
    ASSIGNED = "assigned"
    OFFLINE = "offline"
    LEFT_MESSAGE = "left_message"
    CLOSED = "closed"
    CUSTOMER_LEFT = "customer_left"  # consoles also mark the chat as ended when they see it


TEMPLATES: Mapping[LineKind, str] = {
    LineKind.QUEUED: QUEUED_TEXT,
    LineKind.FALLBACK: FALLBACK_TEXT,
    LineKind.ASSIGNED: ASSIGNED_TEXT,
    LineKind.OFFLINE: OFFLINE_TEXT,
    LineKind.LEFT_MESSAGE: LEFT_MESSAGE_TEXT,
    LineKind.CLOSED: CLOSED_TEXT,
    LineKind.CUSTOMER_LEFT: CUSTOMER_LEFT_TEXT,
}


@dataclass(frozen=True, slots=True)
class SystemLine:
    kind: LineKind
    values: Mapping[str, str | int] = field(default_factory=dict)

    def meta(self) -> dict[str, Any]:
        """What the stored message's `meta` says of the line."""
        return {"kind": str(self.kind), "values": dict(self.values)}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> SystemLine | None:
        """The line a stored system message is, or None (an older message, or another kind of
        system message such as a transfer note): then its stored text is all there is."""
        try:
            kind = LineKind(str(meta.get("kind")))
        except ValueError:
            return None
        values = meta.get("values")
        if values is None:
            values = {}
        if not isinstance(values, Mapping) or not all(
            isinstance(v, str | int) for v in values.values()
        ):
            return None
        return cls(kind, {str(k): v for k, v in values.items()})

    def render(self, translator: Translator) -> str:
        """The line in the translator's language (KeyError if a value it names is missing)."""
        values = {
            key: translator.language_name(str(value)) if key == LANGUAGE_VALUE else value
            for key, value in self.values.items()
        }
        return translator.gettext(TEMPLATES[self.kind]).format(**values)

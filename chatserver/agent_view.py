"""What an agent is shown of a conversation's messages, in the language they serve it in.

Pure. An agent may serve a chat in a language other than the customer's (a Thai chat widened
to English): then under each customer message they see the FAQ entry it asked about, in
their language (the message's `meta.faq_id`, recorded by the desk, or `chose` for a picked
suggestion), so they know what was asked; and system lines (the customer's place in line,
who joined...) are worded in their language rather than the customer's (`system_lines`).
The customer's own copy is the stored one. This module decides what the agent reads; the
payload is the protocol's (`protocol.agent_message`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from chatserver.faq import FaqEntry
from chatserver.i18n import Catalogs
from chatserver.models import Author, Message
from chatserver.protocol import AskedFaq, MessagePayload, agent_message
from chatserver.system_lines import SystemLine

log = logging.getLogger(__name__)

# The FAQ entry of an id in a language (Faq.entry: English standing in for a missing
# translation), or None.
EntryLookup = Callable[[str, str], FaqEntry | None]


def message_for_agent(
    message: Message,
    *,
    conversation_language: str,
    agent_language: str,
    entry: EntryLookup,
    catalogs: Catalogs,
) -> MessagePayload:
    """The wire form of `message` for an agent who serves the chat in `agent_language`."""
    if message.author is Author.CUSTOMER and agent_language != conversation_language:
        return agent_message(message, faq=_asked(message, agent_language, entry))
    if message.author is Author.SYSTEM:
        line = SystemLine.from_meta(message.meta)
        if line is not None and message.language != agent_language:
            try:
                text = line.render(catalogs.translator(agent_language))
            except (KeyError, IndexError, ValueError):
                log.warning("system line %s of %s cannot be reworded", line.kind, message.id)
            else:
                return agent_message(message, text=text, language=agent_language)
    return agent_message(message)


def _asked(message: Message, language: str, lookup: EntryLookup) -> AskedFaq | None:
    """The FAQ entry a customer message matched, in `language` (English when the entry has
    no translation there), or None."""
    # What it matched, or the entry the customer picked (a suggestion, a related topic).
    faq_id = message.meta.get("faq_id", message.meta.get("chose"))
    if not isinstance(faq_id, str):
        return None
    entry = lookup(faq_id, language)
    if entry is None:  # the FAQ was reloaded without it
        return None
    return {
        "id": entry.id,
        "question": entry.question,
        "language": entry.fallback_from or entry.language,
    }

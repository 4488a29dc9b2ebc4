"""Canned replies: texts supervisors write once per language for agents to insert, with
placeholders filled for the chat at hand. Pure: validation, filling and choosing the
customer's language (falling back to English); the store keeps them, `canned_api.py`
serves them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from chatserver.models import DomainError

FALLBACK_LANGUAGE = "en"
PLACEHOLDERS = ("customer_name", "tracking_number", "agent_name")
MAX_TITLE_CHARS = 120
MAX_TEXT_CHARS = 2000
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class InvalidCanned(DomainError):
    """A canned reply the desk cannot keep; the message names the field."""

    code = "invalid_payload"


@dataclass(frozen=True, slots=True)
class CannedReply:
    id: str
    language: str
    title: str
    text: str
    created_by: str
    created_at: datetime
    updated_at: datetime


def validated(fields: object, languages: Iterable[str]) -> tuple[str, str, str]:
    """(language, title, text) of a request body, or InvalidCanned naming the field."""
    if not isinstance(fields, Mapping) or set(fields) - {"language", "title", "text"}:
        raise InvalidCanned("send a JSON object with language, title and text only")
    language, title, text = fields.get("language"), fields.get("title"), fields.get("text")
    supported = tuple(languages)
    if not isinstance(language, str) or language not in supported:
        raise InvalidCanned(f"language: one of {', '.join(supported)}")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_CHARS:
        raise InvalidCanned(f"title: 1-{MAX_TITLE_CHARS} characters")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
        raise InvalidCanned(f"text: 1-{MAX_TEXT_CHARS} characters")
    unknown = sorted(set(_PLACEHOLDER.findall(text)) - set(PLACEHOLDERS))
    if unknown:
        raise InvalidCanned(
            f"text: unknown placeholder {{{unknown[0]}}}; use {', '.join(PLACEHOLDERS)}"
        )
    return language, title.strip(), text.strip()


def fill(text: str, values: Mapping[str, str | None]) -> str:
    """The text with each known placeholder replaced; one without a value becomes empty
    (`{customer_name}` of an anonymous customer), anything else in braces stays."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        return values.get(name) or ""

    return _PLACEHOLDER.sub(value, text)


def for_language(replies: Iterable[CannedReply], language: str) -> list[CannedReply]:
    """The replies in `language`, else the English ones, by title."""
    replies = list(replies)
    own = [r for r in replies if r.language == language]
    chosen = own or [r for r in replies if r.language == FALLBACK_LANGUAGE]
    return sorted(chosen, key=lambda r: (r.title.casefold(), r.id))

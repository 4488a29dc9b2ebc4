"""Validation of client payloads, and the acknowledgement shapes of docs/protocol.md.

Every client->server event is answered `{"ok": true, ...}` or
`{"ok": false, "error": {"code", "message"}}`; messages here are for developers, the
widget shows its own localised text for each code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_CLIENT_ID_CHARS = 64
MAX_TOKEN_CHARS = 128
MAX_LANGUAGE_HINTS = 10
MAX_TAG_CHARS = 35
MAX_FAQ_ID_CHARS = 80


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


def error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def _object(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadRequest("invalid_payload", "the payload must be a JSON object")
    return data


def _optional_str(data: dict[str, Any], key: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadRequest("invalid_payload", f"'{key}' must be a string of 1-{limit} characters")
    return value


@dataclass(frozen=True, slots=True)
class StartRequest:
    token: str | None
    last_seq: int
    languages: tuple[str, ...]
    language: str | None
    identity: dict[str, Any] | None  # signed by the host site; verified by the desk

    @classmethod
    def parse(cls, data: Any) -> StartRequest:
        body = _object(data)
        last_seq = body.get("last_seq", 0)
        if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
            raise BadRequest("invalid_payload", "'last_seq' must be a non-negative integer")
        languages = body.get("languages", [])
        if (
            not isinstance(languages, list)
            or len(languages) > MAX_LANGUAGE_HINTS
            or not all(isinstance(t, str) and 0 < len(t) <= MAX_TAG_CHARS for t in languages)
        ):
            raise BadRequest(
                "invalid_payload",
                f"'languages' must be a list of at most {MAX_LANGUAGE_HINTS} language tags",
            )
        return cls(
            token=_optional_str(body, "token", MAX_TOKEN_CHARS),
            last_seq=last_seq,
            languages=tuple(languages),
            language=_optional_str(body, "language", MAX_TAG_CHARS),
            identity=_identity(body.get("identity")),
        )


@dataclass(frozen=True, slots=True)
class MessageRequest:
    text: str
    client_id: str | None
    conversation_id: str | None

    @classmethod
    def parse(cls, data: Any, *, max_chars: int) -> MessageRequest:
        body = _object(data)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("invalid_payload", "'text' must be a non-empty string")
        if len(text) > max_chars:
            raise BadRequest("text_too_long", f"'text' is longer than {max_chars} characters")
        return cls(
            text=text.strip(),
            client_id=_optional_str(body, "client_id", MAX_CLIENT_ID_CHARS),
            conversation_id=_optional_str(body, "conversation_id", 64),
        )


@dataclass(frozen=True, slots=True)
class ChooseLanguageRequest:
    language: str
    conversation_id: str | None

    @classmethod
    def parse(cls, data: Any) -> ChooseLanguageRequest:
        body = _object(data)
        language = _optional_str(body, "language", MAX_TAG_CHARS)
        if language is None:
            raise BadRequest("invalid_payload", "'language' must be a language tag")
        return cls(language, _optional_str(body, "conversation_id", 64))


@dataclass(frozen=True, slots=True)
class ChooseSuggestionRequest:
    faq_id: str
    client_id: str | None
    conversation_id: str | None

    @classmethod
    def parse(cls, data: Any) -> ChooseSuggestionRequest:
        body = _object(data)
        faq_id = _optional_str(body, "faq_id", MAX_FAQ_ID_CHARS)
        if faq_id is None:
            raise BadRequest("invalid_payload", "'faq_id' must be the id of a suggestion")
        return cls(
            faq_id,
            _optional_str(body, "client_id", MAX_CLIENT_ID_CHARS),
            _optional_str(body, "conversation_id", 64),
        )


MAX_IDENTITY_FIELDS = 12


def _identity(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_IDENTITY_FIELDS:
        raise BadRequest("invalid_payload", "'identity' must be the signed object from the site")
    return value


@dataclass(frozen=True, slots=True)
class ConversationRequest:
    """Events that carry nothing but, optionally, the conversation they are about."""

    conversation_id: str | None

    @classmethod
    def parse(cls, data: Any) -> ConversationRequest:
        return cls(_optional_str(_object(data), "conversation_id", 64))


@dataclass(frozen=True, slots=True)
class LeaveMessageRequest:
    kind: str
    contact: str
    text: str
    conversation_id: str | None

    @classmethod
    def parse(cls, data: Any, *, max_chars: int) -> LeaveMessageRequest:
        body = _object(data)
        kind = body.get("kind")
        if kind not in ("email", "callback"):
            raise BadRequest("invalid_payload", "'kind' must be 'email' or 'callback'")
        contact = _optional_str(body, "contact", 200)
        if contact is None or not contact.strip():
            raise BadRequest(
                "invalid_payload", "'contact' must be an email address or phone number"
            )
        if kind == "email" and "@" not in contact:
            raise BadRequest("invalid_payload", "'contact' must be an email address")
        text = body.get("text", "")
        if not isinstance(text, str) or len(text) > max_chars:
            raise BadRequest("invalid_payload", f"'text' must be at most {max_chars} characters")
        return cls(kind, contact.strip(), text.strip(), _optional_str(body, "conversation_id", 64))


def _required(body: dict[str, Any], key: str, limit: int) -> str:
    value = _optional_str(body, key, limit)
    if value is None:
        raise BadRequest("invalid_payload", f"'{key}' is required")
    return value


@dataclass(frozen=True, slots=True)
class ConversationIdRequest:
    conversation_id: str

    @classmethod
    def parse(cls, data: Any) -> ConversationIdRequest:
        return cls(_required(_object(data), "conversation_id", 64))


@dataclass(frozen=True, slots=True)
class StatusRequest:
    status: str

    @classmethod
    def parse(cls, data: Any) -> StatusRequest:
        status = _object(data).get("status")
        if status not in ("online", "away", "offline"):
            raise BadRequest("invalid_payload", "'status' must be online, away or offline")
        return cls(status)


@dataclass(frozen=True, slots=True)
class AgentMessageRequest:
    conversation_id: str
    text: str
    client_id: str | None

    @classmethod
    def parse(cls, data: Any, *, max_chars: int) -> AgentMessageRequest:
        body = _object(data)
        message = MessageRequest.parse(body, max_chars=max_chars)
        return cls(_required(body, "conversation_id", 64), message.text, message.client_id)


@dataclass(frozen=True, slots=True)
class TransferRequest:
    conversation_id: str
    to_agent: str | None
    to_queue: tuple[str, str] | None
    reason: str

    @classmethod
    def parse(cls, data: Any) -> TransferRequest:
        body = _object(data)
        to_agent = _optional_str(body, "to_agent", 64)
        raw_queue = body.get("to_queue")
        to_queue = None
        if raw_queue is not None:
            if not isinstance(raw_queue, dict):
                raise BadRequest("invalid_payload", "'to_queue' must be {language, team}")
            to_queue = (
                _required(raw_queue, "language", MAX_TAG_CHARS),
                _required(raw_queue, "team", 16),
            )
            if to_queue[1] not in ("technical", "account", "trading"):
                raise BadRequest("invalid_payload", "'to_queue.team' must be a team")
        if (to_agent is None) == (to_queue is None):
            raise BadRequest("invalid_payload", "give exactly one of 'to_agent' or 'to_queue'")
        reason = body.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 500:
            raise BadRequest("invalid_payload", "'reason' must be text of at most 500 characters")
        return cls(_required(body, "conversation_id", 64), to_agent, to_queue, reason.strip())


@dataclass(frozen=True, slots=True)
class AssignRequest:
    conversation_id: str
    agent_id: str

    @classmethod
    def parse(cls, data: Any) -> AssignRequest:
        body = _object(data)
        return cls(_required(body, "conversation_id", 64), _required(body, "agent_id", 64))

"""Client payloads: one declarative schema per event, one parser for all of them, and the
refusal of an event.

Every client->server event is answered `{"ok": true, ...}` (chatserver/protocol.py builds
each event's) or `{"ok": false, "error": {"code", "message"}}` (`error`); messages here are
for developers (they name the field), the widget shows its own localised text for each code.

A schema lists its fields (type, limits, required or optional, how text is cleaned); the
parser checks them in order and raises `BadRequest` at the first one that is wrong. Text is
cleaned by one set of rules (`Clean`) wherever it comes from:

- an invalid surrogate (a lone "\\ud800", which JSON can carry but UTF-8 cannot) is refused
  in every string, whatever its kind;
- identifiers, tokens, language tags, contact details: a control character (C0, DEL, C1;
  NUL among them) is refused;
- free text (messages, notes, reasons): line breaks become "\\n", and every other control
  character except "\\t" is dropped, so what is stored and shown is what can be seen;
- secrets (passwords) are kept exactly as typed, surrogates aside: they are hashed, never shown.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Self

from chatserver.announcements import MAX_TEXT_CHARS as MAX_ANNOUNCEMENT_CHARS
from chatserver.announcements import Severity
from chatserver.language import is_language_tag
from chatserver.models import Team
from chatserver.protocol import ErrorAck
from chatserver.satisfaction import MAX_COMMENT_CHARS, MAX_NOTE_CHARS
from chatserver.transcript_mail import MAX_EMAIL_CHARS, is_email_address

MAX_CLIENT_ID_CHARS = 64
MAX_ID_CHARS = 64
MAX_TOKEN_CHARS = 128
MAX_LANGUAGE_HINTS = 10
MAX_TAG_CHARS = 35
MAX_FAQ_ID_CHARS = 80
MAX_CONTACT_CHARS = 200
MAX_PREFERRED_TIME_CHARS = 100
MAX_REASON_CHARS = 500
MAX_IDENTITY_FIELDS = 12
MAX_IDENTITY_KEY_CHARS = 40
MAX_IDENTITY_VALUE_CHARS = 200
MAX_USERNAME_CHARS = 200
MAX_PASSWORD_CHARS = 4096


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error(code: str, message: str) -> ErrorAck:
    """The acknowledgement of a refused event (successes: chatserver/protocol.py)."""
    return {"ok": False, "error": {"code": code, "message": message}}


def invalid(field: str, message: str) -> BadRequest:
    return BadRequest("invalid_payload", f"'{field}' {message}")


# --- text cleaning ---------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile("\r\n?")
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # controls but \t and \n
# RFC 6750 b64token: what our tokens (URL-safe base64) and any bearer token look like.
TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class Clean(Enum):
    """How a string field is cleaned (the rules are in the module docstring)."""

    IDENTIFIER = "identifier"
    TEXT = "text"
    SECRET = "secret"


def clean_text(field: str, value: str, how: Clean) -> str:
    """`value` cleaned by the rules of `how`; raises BadRequest naming `field` if it cannot be."""
    if _SURROGATE.search(value):
        raise invalid(field, "contains an invalid surrogate code point (not UTF-8 text)")
    if how is Clean.IDENTIFIER and _CONTROL.search(value):
        raise invalid(field, "contains a control character")
    if how is Clean.TEXT:
        return _INVISIBLE.sub("", _LINE_BREAK.sub("\n", value))
    return value


# --- field types -----------------------------------------------------------------------


class Kind(abc.ABC):
    """A field's type: `check` returns the parsed value or raises BadRequest naming `field`."""

    @abc.abstractmethod
    def check(self, field: str, value: Any, limits: Limits) -> Any:
        """The parsed value of `value`, or BadRequest naming `field`."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits that are the desk's settings rather than the protocol's."""

    max_message_chars: int | None = None


@dataclass(frozen=True, slots=True)
class Str(Kind):
    """A string: cleaned, optionally stripped, then checked for length, shape and choices.

    `max_chars=None` is the desk's message limit (CHATSERVER_MAX_MESSAGE_CHARS); `too_long`
    is the code for a string over it; `empty_ok` admits "" (after cleaning and stripping).
    """

    max_chars: int | None
    clean: Clean = Clean.IDENTIFIER
    strip: bool = False
    empty_ok: bool = False
    too_long: str = "invalid_payload"
    pattern: re.Pattern[str] | Callable[[str], bool] | None = None
    choices: tuple[str, ...] = ()
    shape: str = ""  # what a valid value looks like, for the error message

    def check(self, field: str, value: Any, limits: Limits) -> str:
        limit = self.max_chars if self.max_chars is not None else limits.max_message_chars
        if limit is None:
            raise TypeError(f"parsing '{field}' needs the desk's message limit (max_chars=)")
        if not isinstance(value, str):
            raise invalid(field, f"must be {self._described(limit)}")
        text = clean_text(field, value, self.clean)
        if self.strip:
            text = text.strip()
        if not text and not self.empty_ok:
            raise invalid(field, f"must be {self._described(limit)}")
        if len(text) > limit:
            if self.too_long != "invalid_payload":
                raise BadRequest(self.too_long, f"'{field}' is longer than {limit} characters")
            raise invalid(field, f"must be {self._described(limit)}")
        if self.choices and text not in self.choices:
            raise invalid(field, f"must be one of {', '.join(self.choices)}")
        if self.pattern is not None and not self._matches(text):
            raise invalid(field, f"must be {self._described(limit)}")
        return text

    def _matches(self, text: str) -> bool:
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.fullmatch(text) is not None
        return self.pattern is not None and self.pattern(text)

    def _described(self, limit: int) -> str:
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        shape = self.shape or "a string"
        lower = 0 if self.empty_ok else 1
        return f"{shape} of {lower}-{limit} characters"


@dataclass(frozen=True, slots=True)
class Int(Kind):
    minimum: int
    maximum: int

    def check(self, field: str, value: Any, limits: Limits) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(field, f"must be an integer of {self.minimum}-{self.maximum}")
        if not self.minimum <= value <= self.maximum:
            raise invalid(field, f"must be an integer of {self.minimum}-{self.maximum}")
        return value


@dataclass(frozen=True, slots=True)
class Bool(Kind):
    """true or false (not 0, 1 or "true")."""

    def check(self, field: str, value: Any, limits: Limits) -> bool:
        if not isinstance(value, bool):
            raise invalid(field, "must be true or false")
        return value


@dataclass(frozen=True, slots=True)
class ListOf(Kind):
    item: Str
    max_items: int

    def check(self, field: str, value: Any, limits: Limits) -> tuple[Any, ...]:
        if not isinstance(value, list) or len(value) > self.max_items:
            raise invalid(field, f"must be a list of at most {self.max_items} items")
        return tuple(self.item.check(f"{field}[{i}]", v, limits) for i, v in enumerate(value))


@dataclass(frozen=True, slots=True)
class Obj(Kind):
    """A nested object with its own schema; `build` turns the parsed fields into the value."""

    schema: Schema
    build: Callable[[dict[str, Any]], Any] = dict

    def check(self, field: str, value: Any, limits: Limits) -> Any:
        return self.build(self.schema.fields_of(value, limits, path=f"{field}."))


@dataclass(frozen=True, slots=True)
class FlatObject(Kind):
    """An object of a few named scalars (strings, numbers, booleans, null) kept as given:
    the signed identity a host site passes through the widget."""

    max_fields: int
    key: Str
    value: Str

    def check(self, field: str, value: Any, limits: Limits) -> dict[str, Any]:
        if not isinstance(value, dict) or len(value) > self.max_fields:
            raise invalid(field, f"must be an object of at most {self.max_fields} fields")
        checked: dict[str, Any] = {}
        for key, item in value.items():
            name = self.key.check(f"{field} key", key, limits)
            if isinstance(item, str):
                item = self.value.check(f"{field}.{name}", item, limits)
            elif item is not None and not isinstance(item, bool | int | float):
                raise invalid(f"{field}.{name}", "must be a string, number, boolean or null")
            checked[name] = item
        return checked


@dataclass(frozen=True, slots=True)
class TextsByLanguage(Kind):
    """An object of texts keyed by language tag: an announcement's, `{"en": ..., "ja": ...}`
    (which tags the desk serves, and English being there, the domain checks)."""

    max_fields: int
    text: Str

    def check(self, field: str, value: Any, limits: Limits) -> dict[str, str]:
        if not isinstance(value, dict) or len(value) > self.max_fields:
            raise invalid(
                field, f"must be an object of at most {self.max_fields} texts by language"
            )
        return {
            LANGUAGE_TAG.check(f"{field} key", key, limits): self.text.check(
                f"{field}.{key}", text, limits
            )
            for key, text in value.items()
        }


# --- schemas ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    required: bool = False
    default: Any = None


@dataclass(frozen=True, slots=True)
class Schema:
    """The fields of a JSON object, and rules across them (each raises BadRequest).

    Fields the schema does not name are ignored, so a newer client can send more.
    """

    fields: tuple[Field, ...]
    rules: tuple[Callable[[dict[str, Any]], None], ...] = ()

    def parse(self, data: Any, *, max_message_chars: int | None = None) -> dict[str, Any]:
        return self.fields_of(data, Limits(max_message_chars))

    def fields_of(self, data: Any, limits: Limits, *, path: str = "") -> dict[str, Any]:
        if data is None and not path:
            data = {}  # an event with only optional fields may be sent without a payload
        if not isinstance(data, dict):
            if path:
                raise invalid(path.rstrip("."), "must be a JSON object")
            raise BadRequest("invalid_payload", "the payload must be a JSON object")
        parsed: dict[str, Any] = {}
        for field in self.fields:
            name = f"{path}{field.name}"
            value = data.get(field.name)
            if value is None:
                if field.required:
                    raise invalid(name, "is required")
                parsed[field.name] = field.default
            else:
                parsed[field.name] = field.kind.check(name, value, limits)
        for rule in self.rules:
            rule(parsed)
        return parsed


class Request:
    """A parsed event payload: a dataclass whose fields are those of its SCHEMA."""

    __slots__ = ()
    SCHEMA: ClassVar[Schema]

    @classmethod
    def parse(cls, data: Any, *, max_chars: int | None = None) -> Self:
        return cls(**cls.SCHEMA.parse(data, max_message_chars=max_chars))


# --- the fields events share -----------------------------------------------------------

ID = Str(MAX_ID_CHARS)
CLIENT_ID = Str(MAX_CLIENT_ID_CHARS)
CUSTOMER_TOKEN = Str(MAX_TOKEN_CHARS, pattern=TOKEN, shape="a token")
LANGUAGE_TAG = Str(MAX_TAG_CHARS, pattern=is_language_tag, shape="a BCP 47 language tag")
MESSAGE_TEXT = Str(None, clean=Clean.TEXT, strip=True, too_long="text_too_long", shape="text")
CONVERSATION_ID = Field("conversation_id", ID)
SEVERITY = Str(16, choices=tuple(Severity))
ANNOUNCEMENT_TEXTS = TextsByLanguage(
    64, Str(MAX_ANNOUNCEMENT_CHARS, clean=Clean.TEXT, strip=True, shape="text")
)


def _one_of(first: str, second: str) -> Callable[[dict[str, Any]], None]:
    def rule(parsed: dict[str, Any]) -> None:
        if (parsed[first] is None) == (parsed[second] is None):
            raise BadRequest("invalid_payload", f"give exactly one of '{first}' or '{second}'")

    return rule


def _at_least_one(first: str, second: str) -> Callable[[dict[str, Any]], None]:
    def rule(parsed: dict[str, Any]) -> None:
        if parsed[first] is None and parsed[second] is None:
            raise BadRequest("invalid_payload", f"give '{first}', '{second}' or both")

    return rule


def _email_has_at(parsed: dict[str, Any]) -> None:
    if parsed["kind"] == "email" and "@" not in parsed["contact"]:
        raise invalid("contact", "must be an email address")


# --- /customer ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartRequest(Request):
    token: str | None
    last_seq: int
    languages: tuple[str, ...]
    language: str | None
    identity: dict[str, Any] | None  # signed by the host site; verified by the desk

    SCHEMA: ClassVar[Schema] = Schema(
        (
            Field("token", CUSTOMER_TOKEN),
            Field("last_seq", Int(0, 2**53), default=0),
            # Browser preferences: any string of tag size; the ones that are not tags of
            # this desk's languages are skipped by negotiation.
            Field("languages", ListOf(Str(MAX_TAG_CHARS), MAX_LANGUAGE_HINTS), default=()),
            Field("language", LANGUAGE_TAG),
            Field(
                "identity",
                FlatObject(
                    MAX_IDENTITY_FIELDS,
                    key=Str(MAX_IDENTITY_KEY_CHARS),
                    value=Str(MAX_IDENTITY_VALUE_CHARS, empty_ok=True),
                ),
            ),
        )
    )


@dataclass(frozen=True, slots=True)
class MessageRequest(Request):
    text: str
    client_id: str | None
    conversation_id: str | None

    SCHEMA: ClassVar[Schema] = Schema(
        (Field("text", MESSAGE_TEXT, required=True), Field("client_id", CLIENT_ID), CONVERSATION_ID)
    )


@dataclass(frozen=True, slots=True)
class ChooseLanguageRequest(Request):
    language: str
    conversation_id: str | None

    SCHEMA: ClassVar[Schema] = Schema(
        (Field("language", LANGUAGE_TAG, required=True), CONVERSATION_ID)
    )


@dataclass(frozen=True, slots=True)
class ChooseSuggestionRequest(Request):
    faq_id: str
    client_id: str | None
    conversation_id: str | None

    SCHEMA: ClassVar[Schema] = Schema(
        (
            Field("faq_id", Str(MAX_FAQ_ID_CHARS, shape="a suggestion's id"), required=True),
            Field("client_id", CLIENT_ID),
            CONVERSATION_ID,
        )
    )


@dataclass(frozen=True, slots=True)
class FaqFeedbackRequest(Request):
    """Did the bot's answer at `seq` help?"""

    seq: int
    helpful: bool
    conversation_id: str | None

    SCHEMA: ClassVar[Schema] = Schema(
        (
            Field("seq", Int(1, 2**53), required=True),
            Field("helpful", Bool(), required=True),
            CONVERSATION_ID,
        )
    )


@dataclass(frozen=True, slots=True)
class RateRequest(Request):
    """The customer's rating of a closed conversation: 1-5 and an optional comment."""

    score: int
    comment: str
    conversation_id: str | None

    SCHEMA: ClassVar[Schema] = Schema(
        (
            Field("score", Int(1, 5), required=True),
            Field(
                "comment",
                Str(MAX_COMMENT_CHARS, clean=Clean.TEXT, strip=True, empty_ok=True),
                default="",
            ),
            CONVERSATION_ID,
        )
    )


@dataclass(frozen=True, slots=True)
class HandleFollowUpRequest(Request):
    """`POST /api/v1/followups/{id}/handled`: what was done for the customer."""

    note: str

    SCHEMA: ClassVar[Schema] = Schema(
        (Field("note", Str(MAX_NOTE_CHARS, clean=Clean.TEXT, strip=True), required=True),)
    )


@dataclass(frozen=True, slots=True)
class TypingRequest(Request):
    """The customer started (`true`) or stopped (`false`) typing; never the text."""

    typing: bool
    conversation_id: str | None

    SCHEMA: ClassVar[Schema] = Schema((Field("typing", Bool(), required=True), CONVERSATION_ID))


@dataclass(frozen=True, slots=True)
class SeenRequest(Request):
    """The customer's page is visible and shows the messages up to `seq`."""

    seq: int
    conversation_id: str | None

    SCHEMA: ClassVar[Schema] = Schema((Field("seq", Int(1, 2**53), required=True), CONVERSATION_ID))


@dataclass(frozen=True, slots=True)
class ConversationRequest(Request):
    """Events that carry nothing but, optionally, the conversation they are about."""

    conversation_id: str | None

    SCHEMA: ClassVar[Schema] = Schema((CONVERSATION_ID,))


@dataclass(frozen=True, slots=True)
class LeaveMessageRequest(Request):
    kind: str
    contact: str
    text: str
    conversation_id: str | None
    preferred_time: str  # when a callback suits the customer, in their words

    SCHEMA: ClassVar[Schema] = Schema(
        (
            Field("kind", Str(16, choices=("email", "callback")), required=True),
            Field(
                "contact",
                Str(MAX_CONTACT_CHARS, strip=True, shape="an email address or phone number"),
                required=True,
            ),
            Field("text", Str(None, clean=Clean.TEXT, strip=True, empty_ok=True), default=""),
            CONVERSATION_ID,
            Field(
                "preferred_time",
                Str(MAX_PREFERRED_TIME_CHARS, clean=Clean.TEXT, strip=True, empty_ok=True),
                default="",
            ),
        ),
        rules=(_email_has_at,),
    )


# --- /agent ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConversationIdRequest(Request):
    conversation_id: str

    SCHEMA: ClassVar[Schema] = Schema((Field("conversation_id", ID, required=True),))


@dataclass(frozen=True, slots=True)
class StatusRequest(Request):
    status: str

    SCHEMA: ClassVar[Schema] = Schema(
        (Field("status", Str(16, choices=("online", "away", "offline")), required=True),)
    )


@dataclass(frozen=True, slots=True)
class TakeChatsRequest(Request):
    on: bool

    SCHEMA: ClassVar[Schema] = Schema((Field("on", Bool(), required=True),))


@dataclass(frozen=True, slots=True)
class AgentMessageRequest(Request):
    conversation_id: str
    text: str
    client_id: str | None

    SCHEMA: ClassVar[Schema] = Schema(
        (
            Field("conversation_id", ID, required=True),
            Field("text", MESSAGE_TEXT, required=True),
            Field("client_id", CLIENT_ID),
        )
    )


@dataclass(frozen=True, slots=True)
class AgentTypingRequest(Request):
    """The agent started (`true`) or stopped (`false`) typing in a chat they hold."""

    conversation_id: str
    typing: bool

    SCHEMA: ClassVar[Schema] = Schema(
        (Field("conversation_id", ID, required=True), Field("typing", Bool(), required=True))
    )


def _queue(fields: Mapping[str, Any]) -> tuple[str, str]:
    return (fields["language"], fields["team"])


@dataclass(frozen=True, slots=True)
class TransferRequest(Request):
    conversation_id: str
    to_agent: str | None
    to_queue: tuple[str, str] | None  # (language tag as sent, team): the desk resolves the tag
    reason: str

    SCHEMA: ClassVar[Schema] = Schema(
        (
            Field("conversation_id", ID, required=True),
            Field("to_agent", ID),
            Field(
                "to_queue",
                Obj(
                    Schema(
                        (
                            Field("language", LANGUAGE_TAG, required=True),
                            Field("team", Str(16, choices=tuple(Team)), required=True),
                        )
                    ),
                    build=_queue,
                ),
            ),
            Field(
                "reason",
                Str(MAX_REASON_CHARS, clean=Clean.TEXT, strip=True, empty_ok=True, shape="text"),
                default="",
            ),
        ),
        rules=(_one_of("to_agent", "to_queue"),),
    )


@dataclass(frozen=True, slots=True)
class AssignRequest(Request):
    conversation_id: str
    agent_id: str

    SCHEMA: ClassVar[Schema] = Schema(
        (Field("conversation_id", ID, required=True), Field("agent_id", ID, required=True))
    )


# --- outside the events: the agent's connect token and the HTTP log-in --------------------

BEARER_TOKEN = Str(MAX_TOKEN_CHARS, pattern=TOKEN, shape="a token")


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, None without one; raises
    BadRequest naming the header when what follows "Bearer" is not a token."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return BEARER_TOKEN.check("Authorization", value.strip(), Limits())


def agent_token(auth: Any, authorization: str) -> str | None:
    """The log-in token a console connects with (`auth.token`, else the Authorization
    header), or None when there is none or it is not a token: the connection is refused."""
    token: Any = auth.get("token") if isinstance(auth, dict) else None
    try:
        if not token:
            return bearer_token(authorization)
        return BEARER_TOKEN.check("token", token, Limits())
    except BadRequest:
        return None


def agent_status_choice(auth: Any) -> str:
    """The status a console connects in (`auth.status`, what its agent chose; online when it
    says none or something else): a reconnect must not make an agent who stepped away online."""
    status: Any = auth.get("status") if isinstance(auth, dict) else None
    return status if status in ("online", "away", "offline") else "online"


@dataclass(frozen=True, slots=True)
class LoginRequest(Request):
    username: str
    password: str

    SCHEMA: ClassVar[Schema] = Schema(
        (
            # Empty ones are wrong credentials (401), as before, not a malformed request.
            Field("username", Str(MAX_USERNAME_CHARS, strip=True, empty_ok=True), required=True),
            Field(
                "password",
                Str(MAX_PASSWORD_CHARS, clean=Clean.SECRET, empty_ok=True),
                required=True,
            ),
        )
    )


# --- announcements (HTTP, supervisors) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewAnnouncementRequest(Request):
    severity: str
    texts: dict[str, str]

    SCHEMA: ClassVar[Schema] = Schema(
        (
            Field("severity", SEVERITY, required=True),
            Field("texts", ANNOUNCEMENT_TEXTS, required=True),
        )
    )


@dataclass(frozen=True, slots=True)
class AnnouncementRevision(Request):
    """A new version: a new severity, new texts (replacing all), or both."""

    severity: str | None
    texts: dict[str, str] | None

    SCHEMA: ClassVar[Schema] = Schema(
        (Field("severity", SEVERITY), Field("texts", ANNOUNCEMENT_TEXTS)),
        rules=(_at_least_one("severity", "texts"),),
    )


@dataclass(frozen=True, slots=True)
class AnnouncementResolution(Request):
    texts: dict[str, str] | None  # the closing texts, optional

    SCHEMA: ClassVar[Schema] = Schema((Field("texts", ANNOUNCEMENT_TEXTS),))


# --- /agent: the offline inbox -------------------------------------------------------------

INBOX_ITEM_ID = Field("item_id", ID, required=True)


@dataclass(frozen=True, slots=True)
class InboxItemRequest(Request):
    item_id: str

    SCHEMA: ClassVar[Schema] = Schema((INBOX_ITEM_ID,))


@dataclass(frozen=True, slots=True)
class InboxOutcomeRequest(Request):
    item_id: str
    outcome: str

    SCHEMA: ClassVar[Schema] = Schema(
        (
            INBOX_ITEM_ID,
            Field(
                "outcome",
                Str(16, choices=("called_back", "no_answer", "resolved")),
                required=True,
            ),
        )
    )


@dataclass(frozen=True, slots=True)
class InboxReplyRequest(Request):
    item_id: str
    text: str

    SCHEMA: ClassVar[Schema] = Schema((INBOX_ITEM_ID, Field("text", MESSAGE_TEXT, required=True)))


# --- HTTP: a customer's emailed reply (chatserver/inbound_email.py) --------------------------

MAX_ADDRESS_CHARS = 320  # RFC 5321: 64 + @ + 255
MAX_SUBJECT_CHARS = 1000


@dataclass(frozen=True, slots=True)
class InboundEmailRequest(Request):
    to: str
    sender: str
    subject: str
    text: str

    SCHEMA: ClassVar[Schema] = Schema(
        (
            Field("to", Str(MAX_ADDRESS_CHARS, clean=Clean.TEXT, strip=True), required=True),
            Field("sender", Str(MAX_ADDRESS_CHARS, clean=Clean.TEXT, strip=True), required=True),
            Field(
                "subject",
                Str(MAX_SUBJECT_CHARS, clean=Clean.TEXT, strip=True, empty_ok=True),
                default="",
            ),
            Field("text", MESSAGE_TEXT, required=True),
        )
    )


# --- HTTP: "email me the transcript" (chatserver/transcript_email_api.py) --------------------


@dataclass(frozen=True, slots=True)
class TranscriptEmailRequest(Request):
    address: str
    tz: str  # the browser's IANA zone; "" for the desk's

    SCHEMA: ClassVar[Schema] = Schema(
        (
            Field(
                "address",
                Str(
                    MAX_EMAIL_CHARS,
                    clean=Clean.TEXT,
                    strip=True,
                    pattern=is_email_address,
                    shape="one email address (name@example.com)",
                ),
                required=True,
            ),
            Field("tz", Str(64, clean=Clean.TEXT, strip=True, empty_ok=True), default=""),
        )
    )

"""The HTTP API described: an OpenAPI 3.1 document of every `/api/v1` route, served at
`GET /api/v1/openapi.json`.

The document is data written beside the handlers it describes, not generated from them:
aiohttp handlers declare no types. What can be taken from the code is: the payloads the
protocol already types (`chatserver/protocol.py`'s TypedDicts become JSON Schemas here), the
choices and columns the query parsers and CSV writers hold, the server's version.
tests/test_openapi.py keeps the rest honest: every route the app registers is documented
and every documented one exists (with its handler's name as the operationId), the document
validates as OpenAPI 3.1, and real answers of the running server validate against it.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from functools import cache
from typing import Any, Literal, NotRequired

from aiohttp import hdrs, web

from chatserver import (
    __version__,
    canned,
    csat_reports,
    dashboard,
    faq_gaps,
    inbox_sla,
    protocol,
    reports,
)
from chatserver.announcements import MAX_TEXT_CHARS, Severity
from chatserver.satisfaction import MAX_NOTE_CHARS
from chatserver.sockets import payloads
from chatserver.transcript_mail import MAX_EMAIL_CHARS
from chatserver.transcripts import FORMATS as TRANSCRIPT_FORMATS

PATH = "/api/v1/openapi.json"
# The document changes only with a release: a short freshness, then a cheap revalidation.
CACHE_CONTROL = "public, max-age=300"
JSON = "application/json"
SUPERVISOR = "supervisor"  # the role an operation's `agentToken` requirement names

Schema = dict[str, Any]
routes = web.RouteTableDef()


@routes.get(PATH)
async def openapi_document(request: web.Request) -> web.Response:
    """This document; no log-in, cacheable (ETag, `If-None-Match` -> 304)."""
    body, etag = _encoded()
    headers = {hdrs.CACHE_CONTROL: CACHE_CONTROL}
    if any(tag.value == etag for tag in request.if_none_match or ()):
        response = web.Response(status=304, headers=headers)
    else:
        response = web.Response(body=body, content_type=JSON, headers=headers)
    response.etag = etag
    return response


@cache
def _encoded() -> tuple[bytes, str]:
    body = json.dumps(document(), ensure_ascii=False, indent=1).encode()
    return body, hashlib.sha256(body).hexdigest()[:32]


# --- JSON Schemas from the protocol's TypedDicts ------------------------------------------


def schema_of(annotation: Any) -> Schema:
    """A Python annotation (as protocol.py's TypedDicts use them) as a JSON Schema; a
    TypedDict is a closed object, so a key added to a payload is a key documented."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
    if origin is NotRequired:
        return schema_of(args[0])
    if annotation is type(None):
        return {"type": "null"}
    if annotation in simple:
        return {"type": simple[annotation]}
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (types.UnionType, typing.Union):
        parts = [schema_of(arg) for arg in args]
        if all(set(part) == {"type"} for part in parts):
            return {"type": [part["type"] for part in parts]}
        return {"anyOf": parts}
    if origin is list:
        return {"type": "array", "items": schema_of(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": schema_of(args[1])}
    if typing.is_typeddict(annotation):
        hints = typing.get_type_hints(annotation, include_extras=True)
        schema: Schema = {"type": "object"}
        doc = (annotation.__doc__ or "").strip()
        if doc and not doc.startswith(annotation.__name__ + "("):
            schema["description"] = " ".join(doc.split())
        schema["properties"] = {field: schema_of(hint) for field, hint in hints.items()}
        schema["required"] = [
            field for field, hint in hints.items() if typing.get_origin(hint) is not NotRequired
        ]
        schema["additionalProperties"] = False
        return schema
    raise TypeError(f"no JSON Schema for {annotation!r}")


# --- building blocks ----------------------------------------------------------------------


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """A closed object: what the handler builds, key for key."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER_OR_NULL: Schema = {"type": ["number", "null"]}
STRING_OR_NULL: Schema = {"type": ["string", "null"]}
INSTANT: Schema = {"type": "string", "format": "date-time"}
INSTANT_OR_NULL: Schema = {"type": ["string", "null"], "format": "date-time"}


def _ok(description: str, schema: Schema, *, status_headers: Schema | None = None) -> Schema:
    response: Schema = {"description": description, "content": {JSON: {"schema": schema}}}
    if status_headers:
        response["headers"] = status_headers
    return response


def _error(description: str, *codes: str) -> Schema:
    """An error answer: the shared envelope, its `code` one of `codes`."""
    code_only = {"properties": {"error": {"properties": {"code": {"enum": list(codes)}}}}}
    return {
        "description": f"{description} (`{'`, `'.join(codes)}`)",
        "content": {JSON: {"schema": {"allOf": [_ref("Error"), code_only]}}},
    }


RETRY_AFTER = {
    "Retry-After": {
        "description": "whole seconds to wait (the body's `retry_after` is exact)",
        "schema": INTEGER,
    }
}


def _attachment(description: str, media: str, columns: tuple[str, ...] = ()) -> Schema:
    text = f"{description}; a download (`Content-Disposition: attachment`)"
    if columns:
        text += f"; columns: {_columns(columns)}"
    return {media: {"schema": {"type": "string", "description": text}}}


def _columns(columns: tuple[str, ...]) -> str:
    return ", ".join(columns)


def _body(schema: Schema, description: str = "") -> Schema:
    request: Schema = {"required": True, "content": {JSON: {"schema": schema}}}
    if description:
        request["description"] = description
    return request


def _query(name: str, description: str, schema: Schema) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _path(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": STRING,
    }


def _choices(values: tuple[str, ...], default: str) -> Schema:
    return {"type": "string", "enum": list(values), "default": default}


Security = list[dict[str, list[str]]]
AGENT_TOKEN: Security = [{"agentToken": []}]
SUPERVISOR_TOKEN: Security = [{"agentToken": [SUPERVISOR]}]
CUSTOMER_TOKEN: Security = [{"customerToken": []}]
NO_TOKEN: Security = []

BAD_HEADER = "an `Authorization` header that is not a bearer token"
NOT_SUPERVISOR = _error("no token, an expired one, or not a supervisor's", "forbidden")
NO_TOKEN_401 = _error("no token, or one that is not valid (any more)", "unauthorized")
SUPERVISOR_401_403 = {
    "401": NO_TOKEN_401,
    "403": _error("an agent's token, not a supervisor's", "forbidden"),
}
TOO_LARGE = _error("the body is over 256 KiB", "too_large")


def _range(default_days: int, max_days: int) -> list[Schema]:
    return [
        _query(
            "since",
            f"ISO 8601 instant (UTC without a zone); default `until` less {default_days} day(s); "
            f"at most {max_days} days before `until`",
            STRING,
        ),
        _query("until", "ISO 8601 instant (UTC without a zone); default now", STRING),
    ]


def _report_format(formats: tuple[str, ...] = ("json", "csv")) -> Schema:
    return _query("format", "the answer's format", _choices(formats, formats[0]))


def _report_errors() -> dict[str, Schema]:
    return {
        "400": _error(
            f"a query parameter is wrong (named in the message), or {BAD_HEADER}",
            "invalid_query",
            "invalid_payload",
        ),
        "403": NOT_SUPERVISOR,
    }


# --- the components -------------------------------------------------------------------------


def _scores() -> dict[str, Schema]:
    """A group of ratings' figures (chatserver/csat_reports.py)."""
    return {
        "ratings": INTEGER,
        "average": NUMBER_OR_NULL,
        "csat": {"type": ["number", "null"], "description": "share of ratings of 4 and 5"},
        "distribution": {
            "type": "object",
            "description": "ratings per score, `1` to `5`",
            "propertyNames": {"enum": ["1", "2", "3", "4", "5"]},
            "additionalProperties": INTEGER,
        },
    }


def _review_figures() -> dict[str, Schema]:
    """One section of the monthly review: chats, first response, CSAT, follow-ups."""
    return {
        "chats": INTEGER,
        "frt_within_target": INTEGER,
        "frt_missed": INTEGER,
        "frt_attainment": NUMBER_OR_NULL,
        **_scores(),
        "followups_opened": INTEGER,
        "followups_handled_in_time": INTEGER,
        "followups_missed": INTEGER,
    }


def _components() -> Schema:
    sla_row = _object(
        {
            "period": {
                "type": "string",
                "description": "`2026-11-24T09:00Z` by hour, `2026-11-24` by day",
            },
            "language": STRING,
            "team": STRING,
            "priority": STRING,
            "handoffs": INTEGER,
            "answered": INTEGER,
            "within_target": INTEGER,
            "missed": INTEGER,
            "abandoned": INTEGER,
            "share_within_target": NUMBER_OR_NULL,
            "frt_p50_seconds": NUMBER_OR_NULL,
            "frt_p90_seconds": NUMBER_OR_NULL,
            "frt_max_seconds": NUMBER_OR_NULL,
        }
    )
    sla_cell_row = _object(
        {
            "cell": {
                "type": "string",
                "description": "channel/topic/tier/priority, `-/-/-/-` for chats before cells were recorded",
            },
            "channel": STRING,
            "topic": STRING,
            "tier": STRING,
            "priority": STRING,
            "frt_target_seconds": NUMBER_OR_NULL,
            "handoffs": INTEGER,
            "answered": INTEGER,
            "within_target": INTEGER,
            "missed": INTEGER,
            "abandoned": INTEGER,
            "share_within_target": NUMBER_OR_NULL,
            "frt_p50_seconds": NUMBER_OR_NULL,
            "frt_p90_seconds": NUMBER_OR_NULL,
        }
    )
    inbox_row = _object(
        {
            "channel": STRING,
            "language": STRING,
            "cell": STRING,
            "frt_target_seconds": NUMBER_OR_NULL,
            "items": INTEGER,
            "answered": INTEGER,
            "within_target": INTEGER,
            "missed": INTEGER,
            "pending": INTEGER,
            "share_within_target": NUMBER_OR_NULL,
            "frt_p50_seconds": NUMBER_OR_NULL,
            "frt_p90_seconds": NUMBER_OR_NULL,
        }
    )
    gap = _object(
        {
            "kind": {"enum": list(faq_gaps.KINDS)},
            "question": STRING,
            "count": INTEGER,
            "faq_id": STRING_OR_NULL,
            "entries": {
                "type": "array",
                "items": _object({"faq_id": STRING, "count": INTEGER}),
            },
            "first_seen": INSTANT,
            "last_seen": INSTANT,
        }
    )
    return {
        "securitySchemes": {
            "agentToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "An agent's or supervisor's console token, from `POST /api/v1/login` "
                "(it expires after `CHATSERVER_SESSION_HOURS`; log-out and revoke end it). "
                f"An operation that lists the role `{SUPERVISOR}` takes only a supervisor's "
                "(or an admin's) token.",
            },
            "customerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "The customer's conversation token (`token` of the Socket.IO "
                "`start` acknowledgement, docs/protocol.md): it grants that conversation only.",
            },
            "inboundEmailSecret": {
                "type": "http",
                "scheme": "bearer",
                "description": "The shared secret `CHATSERVER_INBOUND_EMAIL_SECRET` of the mail provider.",
            },
        },
        "schemas": {
            "Error": {
                "description": "Every refusal over HTTP: a stable `code`, a message for developers "
                "(and `retry_after` with 429). No `ok` key, unlike Socket.IO acknowledgements.",
                **_object({"error": schema_of(protocol.ErrorDetail)}),
            },
            "Agent": schema_of(protocol.AgentPayload),
            "Announcement": schema_of(protocol.AnnouncementRecord),
            "AnnouncementTexts": {
                "type": "object",
                "description": "Text by language tag (one of the desk's languages); English required",
                "maxProperties": 64,
                "additionalProperties": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_TEXT_CHARS,
                },
            },
            "FollowUp": schema_of(protocol.FollowUpPayload),
            "SlaAlert": schema_of(protocol.SlaAlertPayload),
            "InquiryInboxStatus": schema_of(protocol.InquiryInboxStatus),
            "SlaRow": sla_row,
            "SlaCellRow": sla_cell_row,
            "InboxReportRow": inbox_row,
            "CsatRow": _object(
                {
                    "key": {"type": "string", "description": "the day, language, team or agent id"},
                    **_scores(),
                },
                {"agent_name": {"type": ["string", "null"], "description": "with `group=agent`"}},
            ),
            "ReviewFigures": _object(_review_figures()),
            "FaqGap": gap,
        },
    }


# --- the paths ------------------------------------------------------------------------------


def _auth_paths() -> dict[str, Schema]:
    login = _object(
        {
            "username": {"type": "string", "maxLength": payloads.MAX_USERNAME_CHARS},
            "password": {"type": "string", "maxLength": payloads.MAX_PASSWORD_CHARS},
        }
    )
    login["additionalProperties"] = True  # a newer client may send more; it is ignored
    return {
        "/api/v1/login": {
            "post": {
                "operationId": "login",
                "tags": ["console"],
                "summary": "Log an agent or supervisor in: a console token",
                "security": NO_TOKEN,
                "requestBody": _body(login),
                "responses": {
                    "200": _ok(
                        "logged in",
                        _object({"token": STRING, "expires_at": INSTANT, "agent": _ref("Agent")}),
                    ),
                    "400": _error(
                        "not a JSON object with both fields (at most 4 KiB)", "invalid_payload"
                    ),
                    "401": _error("wrong username or password", "invalid_credentials"),
                    "429": {
                        **_error(
                            "too many failed log-ins from this address, or for this username from it; or too many log-ins waiting for a password check",
                            "rate_limited",
                            "too_many_attempts",
                        ),
                        "headers": RETRY_AFTER,
                    },
                },
            }
        },
        "/api/v1/logout": {
            "post": {
                "operationId": "logout",
                "tags": ["console"],
                "summary": "End this log-in and the consoles opened with it",
                "security": AGENT_TOKEN,
                "responses": {
                    "200": _ok(
                        "logged out (also when the token had already ended)",
                        _object({"ok": {"const": True}}),
                    ),
                    "400": _error(BAD_HEADER, "invalid_payload"),
                    "401": _error("no bearer token", "unauthorized"),
                },
            }
        },
        "/api/v1/agents/{agent_id}/revoke": {
            "post": {
                "operationId": "revoke",
                "tags": ["console"],
                "summary": "End every session of an agent and close their consoles",
                "security": SUPERVISOR_TOKEN,
                "parameters": [_path("agent_id", "the agent's id")],
                "responses": {
                    "200": _ok(
                        "revoked",
                        _object(
                            {
                                "ok": {"const": True},
                                "sessions": {**INTEGER, "description": "log-ins ended"},
                                "sockets": {**INTEGER, "description": "consoles disconnected"},
                            }
                        ),
                    ),
                    "400": _error(BAD_HEADER, "invalid_payload"),
                    **SUPERVISOR_401_403,
                    "404": _error("no agent with this id", "unknown_agent"),
                },
            }
        },
    }


def _customer_paths() -> dict[str, Schema]:
    inquiry = _object(
        {
            "tracking_number": STRING,
            "status": {
                "type": "string",
                "description": "the conversation's state (bot, queued, assigned, active, closed, rated, abandoned, offline)",
            },
            "language": STRING,
            "team": STRING_OR_NULL,
            "priority": STRING_OR_NULL,
            "created_at": INSTANT,
            "handed_off_at": INSTANT_OR_NULL,
            "closed_at": INSTANT_OR_NULL,
            "inbox": {
                "type": "array",
                "items": _ref("InquiryInboxStatus"),
                "description": "messages and callback requests left under this number",
            },
        }
    )
    language = _object(
        {
            "tag": STRING,
            "name": {"type": "string", "description": "the language's name in itself"},
            "direction": {"enum": ["ltr", "rtl"]},
        }
    )
    strings = _object(
        {
            "language": STRING,
            "direction": {"enum": ["ltr", "rtl"]},
            "strings": {
                "type": "object",
                "additionalProperties": STRING,
                "description": "translation by English msgid; a missing one is shown in English",
            },
        }
    )
    public: Schema = {"Cache-Control": {"description": CACHE_CONTROL, "schema": STRING}}
    return {
        "/api/v1/inquiries/{number}": {
            "get": {
                "operationId": "inquiry",
                "tags": ["customer"],
                "summary": "An inquiry's status by tracking number",
                "security": CUSTOMER_TOKEN,
                "parameters": [
                    _path(
                        "number",
                        "the tracking number, in any spelling (case, dashes, look-alike characters)",
                    )
                ],
                "responses": {
                    "200": _ok("the inquiry", inquiry),
                    "400": _error(BAD_HEADER, "invalid_payload"),
                    "401": _error("no bearer token", "unauthorized"),
                    "404": _error(
                        "no such number, or not this token's conversation (the same answer)",
                        "unknown_inquiry",
                    ),
                },
            }
        },
        "/api/v1/languages": {
            "get": {
                "operationId": "languages",
                "tags": ["widget"],
                "summary": "The chat languages, each named in itself",
                "security": NO_TOKEN,
                "responses": {
                    "200": _ok(
                        "the desk's chat languages",
                        {"type": "array", "items": language},
                        status_headers=public,
                    )
                },
            }
        },
        "/api/v1/widget/strings": {
            "get": {
                "operationId": "widget_strings",
                "tags": ["widget"],
                "summary": "The widget's strings in one language",
                "security": NO_TOKEN,
                "parameters": [
                    _query(
                        "lang",
                        "a language tag or a comma-separated list of them (`navigator.languages`), negotiated against the chat languages; default the desk's",
                        STRING,
                    )
                ],
                "responses": {
                    "200": _ok("the strings", strings, status_headers=public),
                    "503": _ok(
                        "the server is still starting", _object({"status": {"const": "starting"}})
                    ),
                },
            }
        },
        "/api/v1/widget/embed": {
            "get": {
                "operationId": "widget_embed",
                "tags": ["widget"],
                "summary": "The host pages the framed widget takes orders from (`/widget.js`)",
                "security": NO_TOKEN,
                "responses": {
                    "200": _ok(
                        "the origins allowed to frame and drive the widget; `*` for any",
                        _object({"allowed_origins": {"type": "array", "items": STRING}}),
                        status_headers=public,
                    )
                },
            }
        },
    }


def _canned_paths() -> dict[str, Schema]:
    reply = schema_of(protocol.CannedReplyPayload)
    body = _body(
        _object(
            {
                "language": {"type": "string", "description": "one of the desk's languages"},
                "title": {"type": "string", "maxLength": canned.MAX_TITLE_CHARS},
                "text": {
                    "type": "string",
                    "maxLength": canned.MAX_TEXT_CHARS,
                    "description": "may hold {customer_name}, {tracking_number}, {agent_name}",
                },
            }
        )
    )
    reply_id = _path("reply_id", "the canned reply's id")
    bad = _error(f"a missing or wrong field (named), or {BAD_HEADER}", "invalid_payload")
    unknown = _error("no canned reply with this id", "unknown_canned")
    return {
        "/api/v1/canned": {
            "get": {
                "operationId": "canned_list",
                "tags": ["console"],
                "summary": "Canned replies: all, or one chat's with placeholders filled",
                "description": "Without `conversation_id`: every canned reply. With it: the replies in that chat's language, else the English ones, each with `filled` (its placeholders filled for that chat), for staff who may see the chat.",
                "security": AGENT_TOKEN,
                "parameters": [_query("conversation_id", "a chat to fill them for", STRING)],
                "responses": {
                    "200": _ok(
                        "the replies",
                        _object(
                            {"replies": {"type": "array", "items": reply}},
                            {"language": STRING},
                        ),
                    ),
                    "400": _error(BAD_HEADER, "invalid_payload"),
                    "401": NO_TOKEN_401,
                    "403": _error("an agent who may not see this chat", "forbidden"),
                    "404": _error("no such conversation", "unknown_conversation"),
                },
            },
            "post": {
                "operationId": "canned_create",
                "tags": ["console"],
                "summary": "A new canned reply",
                "security": SUPERVISOR_TOKEN,
                "requestBody": body,
                "responses": {"201": _ok("the reply", reply), "400": bad, **SUPERVISOR_401_403},
            },
        },
        "/api/v1/canned/{reply_id}": {
            "put": {
                "operationId": "canned_update",
                "tags": ["console"],
                "summary": "Change a canned reply",
                "security": SUPERVISOR_TOKEN,
                "parameters": [reply_id],
                "requestBody": body,
                "responses": {
                    "200": _ok("the reply, changed", reply),
                    "400": bad,
                    **SUPERVISOR_401_403,
                    "404": unknown,
                },
            },
            "delete": {
                "operationId": "canned_delete",
                "tags": ["console"],
                "summary": "Remove a canned reply",
                "security": SUPERVISOR_TOKEN,
                "parameters": [reply_id],
                "responses": {
                    "200": _ok("removed", _object({"ok": {"const": True}})),
                    "400": _error(BAD_HEADER, "invalid_payload"),
                    **SUPERVISOR_401_403,
                    "404": unknown,
                },
            },
        },
        "/api/v1/faq/answers": {
            "get": {
                "operationId": "faq_answers",
                "tags": ["console"],
                "summary": "The FAQ for the composer: asked in one language, answered in another",
                "description": "Every entry, its question in `search` (the agent's language) and its answer in `answer` (the customer's), matched by entry id; `fallback` when the English answer stands in for a missing translation.",
                "security": AGENT_TOKEN,
                "parameters": [
                    _query("search", "the questions' language (default en)", STRING),
                    _query("answer", "the answers' language (default en)", STRING),
                ],
                "responses": {
                    "200": _ok(
                        "the entries",
                        _object(
                            {
                                "search": STRING,
                                "answer": STRING,
                                "entries": {
                                    "type": "array",
                                    "items": schema_of(protocol.FaqAnswerPayload),
                                },
                            }
                        ),
                    ),
                    "400": _error(
                        f"a language the desk does not serve, or {BAD_HEADER}",
                        "invalid_query",
                        "invalid_payload",
                    ),
                    "401": NO_TOKEN_401,
                },
            }
        },
    }


def _transcript_paths() -> dict[str, Schema]:
    either = [*CUSTOMER_TOKEN, *AGENT_TOKEN]
    conversation = _path("conversation_id", "the conversation's id")
    zone = "IANA time zone of the times, e.g. `Asia/Tokyo`; default `CHATSERVER_TIMEZONE`"
    tz: Schema = {"type": "string", "maxLength": 64, "description": zone}
    unknown = _error("no such conversation, or not this customer token's", "unknown_conversation")
    status_answer = schema_of(protocol.TranscriptEmailStatus)
    sent = schema_of(protocol.TranscriptEmailSent)
    email = _object(
        {
            "address": {
                "type": "string",
                "maxLength": MAX_EMAIL_CHARS,
                "description": "one email address",
            }
        },
        {"tz": tz},
    )
    email["additionalProperties"] = True
    return {
        "/api/v1/conversations/{conversation_id}/transcript": {
            "get": {
                "operationId": "transcript",
                "tags": ["transcripts"],
                "summary": "A conversation's transcript to download",
                "description": "With the customer's token: their copy, no internal notes, in the conversation's language. With a console token: the staff copy, notes marked, labels in the agent's language; agents export the chats they hold or held, supervisors any.",
                "security": either,
                "parameters": [
                    conversation,
                    _query(
                        "format",
                        "plain text or a printable HTML page",
                        _choices(TRANSCRIPT_FORMATS, "txt"),
                    ),
                    _query("tz", zone, STRING),
                ],
                "responses": {
                    "200": {
                        "description": "the transcript, as an attachment",
                        "content": {
                            **_attachment("the transcript as text", "text/plain"),
                            **_attachment("the transcript as a standalone page", "text/html"),
                        },
                    },
                    "400": _error(
                        f"a wrong `format` or `tz`, or {BAD_HEADER}",
                        "invalid_query",
                        "invalid_time_zone",
                        "invalid_payload",
                    ),
                    "401": _error(
                        "no token, or one that is neither a conversation's nor a valid console token",
                        "unauthorized",
                    ),
                    "403": _error("an agent who never held this chat", "forbidden"),
                    "404": unknown,
                },
            }
        },
        "/api/v1/conversations/{conversation_id}/customer": {
            "get": {
                "operationId": "customer_panel",
                "tags": ["transcripts"],
                "summary": "The customer beside a chat: identity and previous conversations",
                "description": "Name, email, tier and account manager from the signed identity (null for an anonymous customer), the tracking number and language, and the same customer's previous conversations (same `customer_id`), newest first, at most 20. For staff who may export the chat (agents: held, holding, or waiting in their queues; supervisors any). An agent holding a customer's chat may open the transcripts of their previous ones.",
                "security": AGENT_TOKEN,
                "parameters": [conversation],
                "responses": {
                    "200": _ok("the customer", schema_of(protocol.CustomerPanelPayload)),
                    "400": _error(BAD_HEADER, "invalid_payload"),
                    "401": _error("no token, or not a valid console token", "unauthorized"),
                    "403": _error("an agent who may not see this chat", "forbidden"),
                    "404": _error("no such conversation", "unknown_conversation"),
                },
            }
        },
        "/api/v1/conversations/{conversation_id}/transcript/email": {
            "get": {
                "operationId": "transcript_email_status",
                "tags": ["transcripts"],
                "summary": 'Whether "Email me the transcript" is offered, and the address to prefill',
                "security": CUSTOMER_TOKEN,
                "parameters": [conversation],
                "responses": {
                    "200": _ok(
                        "mail on or off, and the address the customer left, if any", status_answer
                    ),
                    "400": _error(BAD_HEADER, "invalid_payload"),
                    "401": _error("no token, or not a valid one", "unauthorized"),
                    "403": _error("a console token: only the customer has it emailed", "forbidden"),
                    "404": unknown,
                },
            },
            "post": {
                "operationId": "email_transcript",
                "tags": ["transcripts"],
                "summary": "Email the customer their transcript",
                "security": CUSTOMER_TOKEN,
                "parameters": [conversation],
                "requestBody": _body(email),
                "responses": {
                    "200": _ok("the mail server took the email", sent),
                    "400": _error(
                        f"not a JSON object (at most 4 KiB) with one email address, a wrong `tz`, or {BAD_HEADER}",
                        "invalid_payload",
                        "invalid_time_zone",
                    ),
                    "401": _error("no token, or not a valid one", "unauthorized"),
                    "403": _error("a console token: only the customer has it emailed", "forbidden"),
                    "404": unknown,
                    "429": {
                        **_error(
                            "too many transcripts emailed for this conversation or from this address (`CHATSERVER_RATE_TRANSCRIPT_EMAILS*`)",
                            "rate_limited",
                        ),
                        "headers": RETRY_AFTER,
                    },
                    "502": _error("the mail server did not take the email", "mail_failed"),
                    "503": _error("no SMTP server is configured", "mail_disabled"),
                },
            },
        },
        "/api/v1/inbound-email": {
            "post": {
                "operationId": "inbound_email",
                "tags": ["inbox"],
                "summary": "A customer's emailed reply, posted by the mail provider",
                "description": "The tracking number is read from the recipient's plus-address (`support+K7PX-4QR9-M@example.com`) or else from the subject; the sender must be the address the customer left.",
                "security": [{"inboundEmailSecret": []}],
                "requestBody": _body(
                    {
                        **_object(
                            {
                                "to": {"type": "string", "maxLength": payloads.MAX_ADDRESS_CHARS},
                                "sender": {
                                    "type": "string",
                                    "maxLength": payloads.MAX_ADDRESS_CHARS,
                                },
                                "text": {
                                    "type": "string",
                                    "description": "at most `CHATSERVER_MAX_MESSAGE_CHARS`",
                                },
                            },
                            {
                                "subject": {
                                    "type": "string",
                                    "maxLength": payloads.MAX_SUBJECT_CHARS,
                                    "default": "",
                                }
                            },
                        ),
                        "additionalProperties": True,
                    }
                ),
                "responses": {
                    "200": _ok(
                        "added to its inquiry", _object({"ok": {"const": True}, "item_id": STRING})
                    ),
                    "400": _error(
                        f"not a JSON object with the fields, a text over the limit, or {BAD_HEADER}",
                        "invalid_payload",
                        "text_too_long",
                    ),
                    "401": _error("not the inbound email secret", "unauthorized"),
                    "404": _error(
                        "inbound email is not configured, or no inquiry of this number from this sender",
                        "not_found",
                        "unknown_inquiry",
                    ),
                    "413": _error("the body is over 256 KiB", "too_large"),
                },
            }
        },
    }


def _report_paths() -> dict[str, Schema]:
    max_days = reports.MAX_RANGE.days
    sla_json = _object(
        {
            "since": INSTANT,
            "until": INSTANT,
            "bucket": {"enum": ["hour", "day", "cell"]},
            "rows": {
                "type": "array",
                "items": {"anyOf": [_ref("SlaRow"), _ref("SlaCellRow")]},
                "description": "`SlaCellRow`s with `by=cell`, else `SlaRow`s",
            },
        }
    )
    csat_json = _object(
        {
            "since": INSTANT,
            "until": INSTANT,
            "group": {"enum": list(csat_reports.GROUPS)},
            "rows": {"type": "array", "items": _ref("CsatRow")},
        }
    )
    monthly_json = _object(
        {
            "month": STRING,
            "since": INSTANT,
            "until": INSTANT,
            "total": _ref("ReviewFigures"),
            "by_language": {
                "type": "array",
                "items": _object({"language": STRING, **_review_figures()}),
            },
            "by_team": {"type": "array", "items": _object({"team": STRING, **_review_figures()})},
            "inbox": {
                "type": "array",
                "description": "the offline inbox's items left in the month, email and callback",
                "items": _object(
                    {
                        "channel": {"enum": ["email", "callback"]},
                        "received": INTEGER,
                        "within_target": INTEGER,
                        "breached": INTEGER,
                        "pending": INTEGER,
                        "attainment": NUMBER_OR_NULL,
                    }
                ),
            },
        }
    )
    gaps_json = _object(
        {
            "since": INSTANT,
            "until": INSTANT,
            "languages": {
                "type": "array",
                "items": _object(
                    {
                        "language": STRING,
                        "total": INTEGER,
                        "gaps": {"type": "array", "items": _ref("FaqGap")},
                    }
                ),
            },
        }
    )

    def report(operation: str, summary: str, parameters: list[Schema], ok: Schema) -> Schema:
        return {
            "get": {
                "operationId": operation,
                "tags": ["reports"],
                "summary": summary,
                "security": SUPERVISOR_TOKEN,
                "parameters": parameters,
                "responses": {"200": ok, **_report_errors()},
            }
        }

    def json_or_csv(description: str, schema: Schema, columns: tuple[str, ...]) -> Schema:
        return {
            "description": description,
            "content": {JSON: {"schema": schema}, **_attachment(description, "text/csv", columns)},
        }

    return {
        "/api/v1/reports/sla": report(
            "sla_report",
            "First-response SLA by hour, day or cell of the SLA matrix",
            [
                *_range(reports.DEFAULT_RANGE.days, max_days),
                _query(
                    "by",
                    "period of a row, or one row per SLA cell over the range",
                    _choices(("hour", "day", "cell"), "hour"),
                ),
                _report_format(),
            ],
            json_or_csv(
                f"the report; CSV columns by hour or day: {_columns(reports.COLUMNS)}; "
                f"by cell: {_columns(reports.CELL_COLUMNS)}",
                sla_json,
                (),
            ),
        ),
        "/api/v1/reports/inbox": report(
            "inbox_report",
            "The offline inbox's first-response attainment per channel, language and SLA cell",
            [*_range(reports.DEFAULT_RANGE.days, max_days), _report_format()],
            json_or_csv(
                "the report",
                _object(
                    {
                        "since": INSTANT,
                        "until": INSTANT,
                        "rows": {"type": "array", "items": _ref("InboxReportRow")},
                    }
                ),
                inbox_sla.INBOX_COLUMNS,
            ),
        ),
        "/api/v1/reports/faq-gaps": report(
            "faq_gaps_report",
            "The questions the FAQ did not answer well, per language, most frequent first",
            [
                *_range(faq_gaps.DEFAULT_RANGE.days, faq_gaps.MAX_RANGE.days),
                _query(
                    "language", "one of the desk's languages (any spelling); default all", STRING
                ),
                _query(
                    "kind",
                    f"comma-separated, among {', '.join(faq_gaps.KINDS)}; default all",
                    STRING,
                ),
                _query(
                    "limit",
                    "lines per language",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": faq_gaps.MAX_LIMIT,
                        "default": faq_gaps.DEFAULT_LIMIT,
                    },
                ),
                _report_format(faq_gaps.FORMATS),
            ],
            {
                "description": "the report",
                "content": {
                    JSON: {"schema": gaps_json},
                    **_attachment("the report", "text/csv", faq_gaps.CSV_COLUMNS),
                    **_attachment("the report", "text/markdown"),
                },
            },
        ),
        "/api/v1/reports/csat": report(
            "csat_report",
            "CSAT (ratings, average, share of 4-5, distribution) by day, language, team or agent",
            [
                *_range(csat_reports.CSAT_DEFAULT_RANGE.days, max_days),
                _query("group", "what a row is", _choices(csat_reports.GROUPS, "day")),
                _report_format(),
            ],
            json_or_csv("the report", csat_json, csat_reports.CSAT_COLUMNS),
        ),
        "/api/v1/reports/monthly": report(
            "monthly_report",
            "The monthly service-quality review, in all and per language and team",
            [
                _query(
                    "month",
                    "the month, UTC; default this month",
                    {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                ),
                _report_format(),
            ],
            json_or_csv("the review", monthly_json, csat_reports.MONTHLY_COLUMNS),
        ),
    }


def _dashboard_paths() -> dict[str, Schema]:
    """The supervisors' dashboard (chatserver/dashboard.py, dashboard_api.py)."""
    share = NUMBER_OR_NULL
    tally = {"handoffs": INTEGER, "within_target": INTEGER, "missed": INTEGER}
    alerts = {"type": "array", "items": _ref("SlaAlert")}
    snapshot = _object(
        {
            "generated_at": INSTANT,
            "timezone": STRING,
            "day": {"type": "string", "format": "date"},
            "since": INSTANT,
            "agents": _object(
                {
                    "counts": _object(dict.fromkeys(dashboard.STATUSES, INTEGER)),
                    "held": INTEGER,
                    "capacity": INTEGER,
                    "agents": {
                        "type": "array",
                        "items": _object(
                            {
                                "id": STRING,
                                "name": STRING,
                                "role": STRING,
                                "status": {"enum": list(dashboard.STATUSES)},
                                "load": INTEGER,
                                "capacity": INTEGER,
                            }
                        ),
                    },
                }
            ),
            "queues": {
                "type": "array",
                "items": _object(
                    {
                        "queue": STRING,
                        "language": STRING,
                        "team": STRING,
                        "waiting": INTEGER,
                        "oldest_wait_seconds": {"type": "number"},
                    }
                ),
            },
            "first_response": _object(
                {
                    **tally,
                    "share_within_target": share,
                    "by_language": {
                        "type": "array",
                        "items": _object(
                            {"language": STRING, **tally, "share_within_target": share}
                        ),
                    },
                    "by_hour": {
                        "type": "array",
                        "items": _object(
                            {
                                "hour": {"type": "integer", "minimum": 0, "maximum": 23},
                                **tally,
                                "share_within_target": share,
                            }
                        ),
                    },
                }
            ),
            "abandonment": _object({"handoffs": INTEGER, "abandoned": INTEGER, "share": share}),
            "csat": _object({"ratings": INTEGER, "average": share, "csat": share}),
            "alerts": alerts,
        }
    )
    forbidden = _error("no token, an expired one, or not a supervisor's", "forbidden")
    return {
        "/api/v1/dashboard": {
            "get": {
                "operationId": "dashboard_snapshot",
                "tags": ["reports"],
                "summary": "The desk now and today so far (the desk's day in its time zone)",
                "security": SUPERVISOR_TOKEN,
                "parameters": [_report_format()],
                "responses": {
                    "200": {
                        "description": "the snapshot",
                        "content": {
                            JSON: {"schema": snapshot},
                            **_attachment(
                                "the day's figures as one long table",
                                "text/csv",
                                dashboard.CSV_COLUMNS,
                            ),
                        },
                    },
                    "400": _error("`format` is not json or csv", "invalid_query"),
                    "403": forbidden,
                },
            }
        },
        "/api/v1/dashboard/alerts": {
            "get": {
                "operationId": "dashboard_alerts",
                "tags": ["reports"],
                "summary": "The SLA warnings and breaches still standing, breaches first",
                "security": SUPERVISOR_TOKEN,
                "responses": {
                    "200": _ok("the standing alerts", _object({"alerts": alerts})),
                    "403": forbidden,
                },
            }
        },
    }


def _supervisor_paths() -> dict[str, Schema]:
    followup_id = _path("followup_id", "the follow-up's id")
    announcement_id = _path("announcement_id", "the announcement's id")
    severity = {"enum": [str(s) for s in Severity]}
    texts = _ref("AnnouncementTexts")
    announced = _ok("the announcement, as stored and published", _ref("Announcement"))
    refusals = {
        "400": _error(
            f"not a JSON object, a field wrong (named in the message), or {BAD_HEADER}",
            "invalid_payload",
        ),
        **SUPERVISOR_401_403,
    }

    def open_body(
        required: dict[str, Schema], optional: dict[str, Schema] | None = None, **extra: Any
    ) -> Schema:
        schema = _object(required, optional)
        schema["additionalProperties"] = True  # ignored: a newer client may send more
        return {**schema, **extra}

    return {
        "/api/v1/followups": {
            "get": {
                "operationId": "followups",
                "tags": ["followups"],
                "summary": "Negative ratings not yet handled, soonest deadline first",
                "security": SUPERVISOR_TOKEN,
                "responses": {
                    "200": _ok(
                        "open and missed follow-ups",
                        _object({"followups": {"type": "array", "items": _ref("FollowUp")}}),
                    ),
                    "400": _error(BAD_HEADER, "invalid_payload"),
                    "403": NOT_SUPERVISOR,
                },
            }
        },
        "/api/v1/followups/{followup_id}/handled": {
            "post": {
                "operationId": "followup_handled",
                "tags": ["followups"],
                "summary": "The customer's negative feedback was answered",
                "security": SUPERVISOR_TOKEN,
                "parameters": [followup_id],
                "requestBody": _body(
                    open_body(
                        {"note": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE_CHARS}}
                    ),
                    "what was done for the customer",
                ),
                "responses": {
                    "200": _ok(
                        "handled", _object({"ok": {"const": True}, "followup": _ref("FollowUp")})
                    ),
                    "400": refusals["400"],
                    "403": NOT_SUPERVISOR,
                    "404": _error("no follow-up with this id", "unknown_followup"),
                    "409": _error("already handled", "already_handled"),
                },
            }
        },
        "/api/v1/announcements": {
            "get": {
                "operationId": "active_announcements",
                "tags": ["announcements"],
                "summary": "The active announcements, oldest first, with every text",
                "security": SUPERVISOR_TOKEN,
                "responses": {
                    "200": _ok(
                        "the active announcements",
                        _object(
                            {"announcements": {"type": "array", "items": _ref("Announcement")}}
                        ),
                    ),
                    "400": _error(BAD_HEADER, "invalid_payload"),
                    **SUPERVISOR_401_403,
                },
            },
            "post": {
                "operationId": "post_announcement",
                "tags": ["announcements"],
                "summary": "Tell every customer and agent: a new announcement",
                "security": SUPERVISOR_TOKEN,
                "requestBody": _body(open_body({"severity": severity, "texts": texts})),
                "responses": {"201": announced, **refusals, "413": TOO_LARGE},
            },
        },
        "/api/v1/announcements/{announcement_id}": {
            "post": {
                "operationId": "revise_announcement",
                "tags": ["announcements"],
                "summary": "A new version of an announcement, in place of the last",
                "security": SUPERVISOR_TOKEN,
                "parameters": [announcement_id],
                "requestBody": _body(
                    open_body(
                        {},
                        {
                            "severity": severity,
                            "texts": {**texts, "description": "replaces every text"},
                        },
                        anyOf=[{"required": ["severity"]}, {"required": ["texts"]}],
                    )
                ),
                "responses": {
                    "200": announced,
                    **refusals,
                    "404": _error("no announcement with this id", "unknown_announcement"),
                    "409": _error("the announcement is resolved", "already_resolved"),
                    "413": TOO_LARGE,
                },
            }
        },
        "/api/v1/announcements/{announcement_id}/resolve": {
            "post": {
                "operationId": "resolve_announcement",
                "tags": ["announcements"],
                "summary": "Resolved everywhere, with closing texts if given",
                "security": SUPERVISOR_TOKEN,
                "parameters": [announcement_id],
                "requestBody": {
                    "required": False,
                    "description": "optional (an empty body is no closing text)",
                    "content": {JSON: {"schema": open_body({}, {"texts": texts})}},
                },
                "responses": {
                    "200": announced,
                    **refusals,
                    "404": _error("no announcement with this id", "unknown_announcement"),
                    "409": _error("already resolved", "already_resolved"),
                    "413": TOO_LARGE,
                },
            }
        },
    }


def document() -> Schema:
    """The OpenAPI 3.1 document of `/api/v1`, with the server's version."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chatserver HTTP API",
            "version": __version__,
            "summary": "Console log-in, inquiries, transcripts, reports, follow-ups, announcements, the inbox's email webhook, the widget's strings",
            "description": "The Socket.IO namespaces `/customer` and `/agent` are described in docs/protocol.md. Every answer is `Cache-Control: no-store` unless it says otherwise.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [
            {"name": name}
            for name in (
                "console",
                "customer",
                "widget",
                "transcripts",
                "inbox",
                "reports",
                "followups",
                "announcements",
                "meta",
            )
        ],
        "paths": {
            **_auth_paths(),
            **_customer_paths(),
            **_transcript_paths(),
            **_canned_paths(),
            **_report_paths(),
            **_dashboard_paths(),
            **_supervisor_paths(),
            PATH: {
                "get": {
                    "operationId": "openapi_document",
                    "tags": ["meta"],
                    "summary": "This document",
                    "security": NO_TOKEN,
                    "responses": {
                        "200": {
                            "description": "the OpenAPI 3.1 document",
                            "headers": {
                                "ETag": {"schema": STRING},
                                "Cache-Control": {
                                    "description": CACHE_CONTROL,
                                    "schema": STRING,
                                },
                            },
                            "content": {JSON: {"schema": {"type": "object"}}},
                        },
                        "304": {"description": "unchanged since the `If-None-Match` ETag"},
                    },
                }
            },
        },
        "components": _components(),
    }

"""Property-based fuzzing of the wire: every client event of /customer and /agent, and the
HTTP API, against a real server with real python-socketio clients (docs/protocol.md).

Hypothesis throws wrong types, huge and invalid strings (lone surrogates, NUL and C0
controls, bidi overrides, emoji), unknown language tags and teams, ids of conversations the
client does not hold, several arguments, event names that are not strings. Whatever comes,
  - every event is answered with a well-formed acknowledgement, never `internal_error`;
  - wrong types get `invalid_payload` naming the field; unknown languages are refused;
    another conversation's id never gets `ok`;
  - HTTP answers are JSON, never 5xx, errors `{"error": {"code", "message"}}`;
  - after each example a well-behaved customer (start, message, bot reply) and agent
    console (connect, queue snapshot) are still served;
  - nothing stored is broken: the SQLite file's texts are valid UTF-8 without NUL, each
    conversation's messages are numbered 1..last_seq, every stored language is a configured
    one, and the queues only hold configured languages and teams.

Every field of every event is first swept with the classes the contract names (explicit
examples: a failure there is reported at once, unshrunk), then Hypothesis searches further,
mostly one bad field among right ones so that a failure names its field. One server per test
function serves all of its examples (hence the suppressed function-scoped-fixture health
check); examples are derandomised and no example database is kept, so every run throws the
same inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chatserver.keys import SERVICES, SIO
from chatserver.language import negotiate
from chatserver.models import ConversationStatus, DomainError, Team
from chatserver.settings import Settings
from tests.conftest import FakeClock, ServerFactory

PASSWORD = "a long password"
TEAMS = tuple(str(team) for team in Team)
# Every event must be answered within this; a handler that dies never answers at all.
ACK_TIMEOUT = 5.0
# Codes a correct server may answer to anything (another branch adds rate limits).
ALWAYS_ALLOWED = frozenset({"rate_limited"})
ERROR_CODE = re.compile(r"[a-z][a-z0-9_]*")
MAX_CHARS = 500  # the text limit of tests/conftest.py's settings

# The two event sweeps are most of this file's time (a fresh customer or chat per example):
# CI runs the fixed, derandomized set below; `CHATSERVER_FUZZ_SCALE=5` runs five times as many.
FUZZ_SCALE = float(os.environ.get("CHATSERVER_FUZZ_SCALE", "1"))


def examples(count: int) -> int:
    return max(1, round(count * FUZZ_SCALE))


FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    report_multiple_bugs=False,  # one falsifying example per test keeps a failing run short
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# -- values -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """Something only known at run time: an id or token of this example's conversations."""

    name: str

    def __repr__(self) -> str:
        return f"<{self.name}>"


@dataclass(frozen=True)
class Value:
    """A field's value and what kind of value it is, for the expectations.

    ok: right type and meaning; odd: right type, strange content (the server may accept
    or refuse it, never crash); wrong: wrong type or missing while required (must be
    refused with invalid_payload naming it); foreign: another conversation's id (never
    ok); unsupported: a language tag the desk does not serve (never ok)."""

    kind: str
    value: Any = None
    present: bool = True

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # Hypothesis prints examples with this, not __repr__

    def __repr__(self) -> str:
        if not self.present:
            return "MISSING" if self.kind == "wrong" else "ABSENT"
        return f"{self.kind}({short(self.value)})"


def short(value: Any) -> str:
    """A repr that keeps falsifying examples readable: long strings as unit * count."""
    if isinstance(value, str) and len(value) > 40:
        if value == value[0] * len(value):
            return f"{value[0]!r} * {len(value)}"
        return f"{value[:16]!r}... ({len(value)} chars)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{short(k)}: {short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(short(v) for v in value) + "]"
    return repr(value)


ABSENT = Value("ok", present=False)
MISSING = Value("wrong", present=False)

ODD_STRINGS = (
    "",
    " ",
    "\t\n\r ",
    "\x00",
    "a\x00b",
    "\x01\x02\x07\x08\x0b\x0c\x0e\x1b[31mred\x1f\x7f",
    "\ud800",
    "x\udfffy",
    "\ud83d",  # the first half of an emoji's surrogate pair
    "\u202eevil.exe\u202c",
    "\u2066\u2067\u2068isolates\u2069",
    "\u200f\u200e\u061c",
    "\ufeff",
    "\uffff\ufffe",
    "\U0010ffff",
    "🙂",
    "👩\u200d👩\u200d👧\u200d👦",
    "e\u0301\u0301\u0301",
    "Ｈｅｌｌｏ",
    "<script>alert(1)</script>",
    "'; DROP TABLE messages; --",
    "{text}{0}%s%n",
    "null",
    "__proto__",
    "constructor",
)
ODD_TAGS = (
    "xx",
    "EN",
    "",
    " en",
    "en_US",
    "en-",
    "-",
    "*",
    "und",
    "root",
    "i-klingon",
    "x-private",
    "zh",
    "zh-Latn",
    "sr-Cyrl",
    "\ud800",
    "en\x00",
    "a" * 35,
    "a" * 36,
    "e" * 200,
)
GOOD_TAGS = ("en", "ja", "zh-TW", "pt-BR", "ar", "th", "en-US")
ODD_TEAMS = ("", "sales", "TECHNICAL", "technical ", "\x00", "\ud800", "team" * 10)
GOOD_TEXTS = ("Hello", "How do I reset my MT5 password?", "出金したい", "ok", "สวัสดีครับ")
FAQ_IDS = ("mt5-install", "mt-password-reset", "investor-password", "no-such-entry")

any_char = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),  # lone surrogates: not text, but valid JSON escapes
    st.characters(max_codepoint=0x1F),  # C0 controls, NUL included
    st.sampled_from("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"),
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**53 + 1, 2**63, -(2**63) - 1, 10**30, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(any_char, max_size=8),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
# Anything but a string (and not None, which means "absent" for an optional field).
not_a_string = json_value.filter(lambda v: v is not None and not isinstance(v, str))
# Anything but a JSON object (and not None, which means "no payload").
not_an_object = json_value.filter(lambda v: v is not None and not isinstance(v, dict))


def odd_text(limit: int) -> st.SearchStrategy[str]:
    """Strings a careless handler chokes on; `limit` is the server's text limit."""
    return st.one_of(
        st.sampled_from(ODD_STRINGS),
        st.text(any_char, min_size=1, max_size=30),
        st.sampled_from([limit - 1, limit, limit + 1, 2 * limit]).map(lambda n: "x" * n),
        st.builds(
            lambda unit, count: unit * count,
            st.sampled_from(["🙂", "\u202e", "あ", "\x00", "\ud800", " "]),
            st.integers(1, limit + 2),
        ),
    )


@dataclass(frozen=True)
class Spec:
    """How to fill one payload field: with something right, or with something bad."""

    good: st.SearchStrategy[Value]
    bad: st.SearchStrategy[Value]


def text_field(good: tuple[Any, ...], limit: int, *, required: bool = False) -> Spec:
    """A string field: right values, odd strings, other types, missing when required."""
    right = st.sampled_from(good).map(lambda v: Value("ok", v))
    bad = [
        odd_text(limit).map(lambda v: Value("odd", v)),
        not_a_string.map(lambda v: Value("wrong", v)),
    ]
    if required:
        return Spec(right, st.one_of(*bad, st.just(MISSING)))
    return Spec(st.one_of(st.just(ABSENT), right), st.one_of(*bad))


def conversation_field(own: str, *, required: bool) -> Spec:
    """The example's own conversation; bad: another one, a made-up one, garbage."""
    right = st.just(Value("ok", Ref(own)))
    bad = st.one_of(
        st.just(Value("foreign", Ref("foreign_conversation"))),
        st.just(Value("foreign", uuid.UUID(int=7).hex)),
        st.sampled_from(["", "\ud800", "a\x00", "x" * 65, "../etc/passwd"]).map(
            lambda v: Value("odd", v)
        ),
        not_a_string.map(lambda v: Value("wrong", v)),
        *([st.just(MISSING)] if required else []),
    )
    return Spec(right if required else st.one_of(st.just(ABSENT), right), bad)


def tag_kind(tag: str) -> Value:
    return Value("odd" if _served(tag) else "unsupported", tag)


LANGUAGES: tuple[str, ...] = Settings.defaults().languages


def _served(tag: Any) -> bool:
    return isinstance(tag, str) and 0 < len(tag) <= 35 and negotiate([tag], LANGUAGES) is not None


# `typing`'s flag: a boolean, nothing else (customer and agent).
TYPING_FLAG = Spec(
    st.booleans().map(lambda v: Value("ok", v)),
    st.one_of(
        st.one_of(st.integers(), st.text(max_size=5), st.floats(), st.lists(st.booleans())).map(
            lambda v: Value("wrong", v)
        ),
        st.just(MISSING),
    ),
)


def customer_schema(limit: int) -> dict[str, dict[str, Spec]]:
    conversation = conversation_field("own_conversation", required=False)
    client_id = text_field(("c-1", str(uuid.UUID(int=1))), 64)
    wrong = not_a_string.map(lambda v: Value("wrong", v))
    return {
        "start": {
            "token": Spec(
                st.one_of(st.just(ABSENT), st.just(Value("ok", Ref("own_token")))),
                st.one_of(
                    st.just(Value("odd", "A" * 43)),
                    odd_text(128).map(lambda v: Value("odd", v)),
                    wrong,
                ),
            ),
            "last_seq": Spec(
                st.one_of(st.just(ABSENT), st.integers(0, 40).map(lambda v: Value("ok", v))),
                st.one_of(
                    st.sampled_from([2**31, 2**63 - 1, 2**63, 2**64, 10**30]).map(
                        lambda v: Value("odd", v)
                    ),
                    st.one_of(
                        st.integers(max_value=-1),
                        st.booleans(),
                        st.floats(allow_nan=True),
                        st.text(max_size=3),
                        st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
                    ).map(lambda v: Value("wrong", v)),
                ),
            ),
            "languages": Spec(
                st.one_of(
                    st.just(ABSENT),
                    st.lists(st.sampled_from(GOOD_TAGS), max_size=3).map(lambda v: Value("ok", v)),
                ),
                st.one_of(
                    st.lists(st.sampled_from(ODD_TAGS[:16]), min_size=1, max_size=3).map(
                        lambda v: Value("odd", v)
                    ),
                    st.one_of(
                        not_a_string.filter(lambda v: not isinstance(v, list)),
                        st.lists(not_a_string, min_size=1, max_size=3),
                        st.just(["en"] * 11),
                        st.just(["a" * 36]),
                    ).map(lambda v: Value("wrong", v)),
                ),
            ),
            # On start an unknown choice may be ignored as well as refused: odd, either way.
            "language": Spec(
                st.one_of(
                    st.just(ABSENT), st.sampled_from(GOOD_TAGS).map(lambda v: Value("ok", v))
                ),
                st.one_of(st.sampled_from(ODD_TAGS).map(lambda v: Value("odd", v)), wrong),
            ),
            "identity": Spec(
                st.just(ABSENT),
                st.one_of(
                    st.dictionaries(
                        st.sampled_from(
                            ["customer_id", "tier", "balance_usd", "lots_30d", "manager", "sig"]
                        ),
                        json_value,
                        max_size=6,
                    ).map(lambda v: Value("odd", v)),
                    not_an_object.map(lambda v: Value("wrong", v)),
                    st.just(Value("wrong", {str(n): n for n in range(13)})),
                ),
            ),
        },
        "message": {
            "text": text_field(GOOD_TEXTS, limit, required=True),
            "client_id": client_id,
            "conversation_id": conversation,
        },
        "choose_language": {
            "language": Spec(
                st.sampled_from(GOOD_TAGS).map(lambda v: Value("ok", v)),
                st.one_of(st.sampled_from(ODD_TAGS).map(tag_kind), wrong, st.just(MISSING)),
            ),
            "conversation_id": conversation,
        },
        "choose_suggestion": {
            "faq_id": text_field(FAQ_IDS, 80, required=True),
            "client_id": client_id,
            "conversation_id": conversation,
        },
        "faq_feedback": {
            "seq": Spec(
                st.integers(1, 12).map(lambda v: Value("ok", v)),
                st.one_of(
                    st.sampled_from([2**31, 2**53, 10**6]).map(lambda v: Value("odd", v)),
                    st.one_of(
                        st.integers(max_value=0),
                        st.integers(min_value=2**53 + 1),
                        st.booleans(),
                        st.floats(allow_nan=True),
                        st.text(max_size=3),
                        st.lists(st.integers(), max_size=2),
                    ).map(lambda v: Value("wrong", v)),
                    st.just(MISSING),
                ),
            ),
            "helpful": Spec(
                st.booleans().map(lambda v: Value("ok", v)),
                st.one_of(
                    st.one_of(
                        st.integers(), st.text(max_size=5), st.floats(), st.lists(st.booleans())
                    ).map(lambda v: Value("wrong", v)),
                    st.just(MISSING),
                ),
            ),
            "conversation_id": conversation,
        },
        "request_agent": {"conversation_id": conversation},
        "leave_message": {
            "kind": Spec(
                st.sampled_from(["email", "callback"]).map(lambda v: Value("ok", v)),
                st.one_of(
                    st.sampled_from(["EMAIL", "sms", "", "\x00"]).map(lambda v: Value("odd", v)),
                    wrong,
                    st.just(MISSING),
                ),
            ),
            "contact": text_field(("a@example.com", "x@example.org"), 200, required=True),
            "text": text_field(GOOD_TEXTS, limit),
            "conversation_id": conversation,
        },
        "end": {"conversation_id": conversation},
        "typing": {"typing": TYPING_FLAG, "conversation_id": conversation},
        "seen": {
            "seq": Spec(
                st.integers(1, 12).map(lambda v: Value("ok", v)),
                st.one_of(
                    st.sampled_from([2**31, 2**53]).map(lambda v: Value("odd", v)),
                    st.one_of(
                        st.integers(max_value=0),
                        st.integers(min_value=2**53 + 1),
                        st.booleans(),
                        st.floats(allow_nan=True),
                        st.text(max_size=3),
                    ).map(lambda v: Value("wrong", v)),
                    st.just(MISSING),
                ),
            ),
            "conversation_id": conversation,
        },
    }


def agent_schema(limit: int) -> dict[str, dict[str, Spec]]:
    conversation = conversation_field("own_conversation", required=True)
    wrong = not_a_string.map(lambda v: Value("wrong", v))
    agent = Spec(
        st.sampled_from(["other_agent", "self_agent"]).map(lambda r: Value("ok", Ref(r))),
        st.one_of(
            st.sampled_from(["nobody", "", "\ud800", "x" * 65]).map(lambda v: Value("odd", v)),
            wrong,
        ),
    )
    queue = Spec(
        st.sampled_from([("ja", "trading"), ("en", "technical")]).map(
            lambda q: Value("ok", {"language": q[0], "team": q[1]})
        ),
        st.one_of(
            st.sampled_from(ODD_TAGS).map(
                lambda tag: Value(tag_kind(tag).kind, {"language": tag, "team": "technical"})
            ),
            st.sampled_from(ODD_TEAMS).map(lambda t: Value("odd", {"language": "ja", "team": t})),
            not_a_string.map(lambda v: Value("wrong", {"language": v, "team": "account"})),
            not_a_string.map(lambda v: Value("wrong", {"language": "en", "team": v})),
            st.just(Value("wrong", {"team": "account"})),
            st.just(Value("wrong", {"language": "en"})),
            not_an_object.map(lambda v: Value("wrong", v)),
        ),
    )
    return {
        "status": {
            "status": Spec(
                st.sampled_from(["online", "away", "offline"]).map(lambda v: Value("ok", v)),
                st.one_of(
                    st.sampled_from(["ONLINE", "busy", "", "\ud800"]).map(
                        lambda v: Value("odd", v)
                    ),
                    wrong,
                    st.just(MISSING),
                ),
            )
        },
        "accept": {"conversation_id": conversation},
        "close": {"conversation_id": conversation},
        "typing": {"conversation_id": conversation, "typing": TYPING_FLAG},
        "message": {
            "conversation_id": conversation,
            "text": text_field(GOOD_TEXTS, limit, required=True),
            "client_id": text_field(("a-1", str(uuid.UUID(int=2))), 64),
        },
        "note": {
            "conversation_id": conversation,
            "text": text_field(GOOD_TEXTS, limit, required=True),
        },
        "transfer": {
            "conversation_id": conversation,
            "to_queue": queue,
            # With a queue given, any agent is one target too many: odd, not wrong.
            "to_agent": Spec(st.just(ABSENT), agent.good.map(lambda v: Value("odd", v.value))),
            "reason": text_field(("a margin question", "wrong team"), 500),
        },
        "assign": {
            "conversation_id": conversation,
            "agent_id": Spec(agent.good, st.one_of(agent.bad, st.just(MISSING))),
        },
    }


def payload_from(fields: dict[str, Value], extra: dict[str, Any]) -> dict[str, Any]:
    body = {name: v.value for name, v in fields.items() if v.present}
    return {**{k: v for k, v in extra.items() if k not in fields}, **body}


# -- cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One event with one payload. `fields` is None when the payload is `raw` as it is."""

    prelude: str
    event: Any
    fields: dict[str, Value] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    raw: tuple[Any, ...] = ()  # the arguments, when not built from fields

    def arguments(self, refs: dict[str, Any]) -> Any:
        """What `client.call` sends: one payload, or a tuple for several arguments."""
        if self.fields is None:
            resolved = tuple(resolve(arg, refs) for arg in self.raw)
            return resolved if len(resolved) != 1 else resolved[0]
        return resolve(payload_from(self.fields, self.extra), refs)

    def kinds(self, kind: str) -> list[str]:
        return [name for name, v in (self.fields or {}).items() if v.kind == kind]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def __repr__(self) -> str:
        if self.fields is None:
            body = ", ".join(short(arg) for arg in self.raw)
        else:
            shown = {n: v for n, v in self.fields.items() if v.present or v.kind == "wrong"}
            body = "{" + ", ".join(f"{n}: {v!r}" for n, v in shown.items()) + "}"
        extra = f" + {short(self.extra)}" if self.extra else ""
        return f"<{self.prelude}: {self.event!r} {body}{extra}>"


def resolve(value: Any, refs: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        return refs[value.name]
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value


def raw_payloads(event: str, prelude: str) -> st.SearchStrategy[Case]:
    """A payload that is not an object, or several arguments."""
    return st.one_of(
        not_an_object.map(lambda v: Case(prelude, event, raw=(v,))),
        st.lists(json_value, min_size=2, max_size=3).map(
            lambda v: Case(prelude, event, raw=tuple(v))
        ),
    )


def extras() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.just({}),
        st.dictionaries(st.text(any_char, max_size=8), json_value, max_size=2),
    )


CUSTOMER_EVENTS = (
    "start",
    "message",
    "choose_language",
    "choose_suggestion",
    "faq_feedback",
    "request_agent",
    "leave_message",
    "end",
    "typing",
    "seen",
)
CUSTOMER_PRELUDES = ("fresh", "started", "queued", "assigned", "offline", "closed")
AGENT_EVENTS = ("status", "accept", "message", "note", "transfer", "close", "assign", "typing")
AGENT_PRELUDES = ("offered", "assigned", "active")
# Names no namespace answers, strings or not: `unknown_event`, like any other.
UNKNOWN_EVENTS = (
    "",
    "START",
    "start ",
    "Typing",
    "rate",
    "connect",
    "disconnect",
    "connect_error",
    "*",
    "__proto__",
    "message\x00",
    "\ud800",
    "x" * 300,
)


def cases(schema: dict[str, dict[str, Spec]], preludes: tuple[str, ...]) -> st.SearchStrategy[Case]:
    """Mostly one bad field among right ones (so a failure names its field), sometimes
    anything in every field."""

    def for_event(prelude: str, event: str) -> st.SearchStrategy[Case]:
        specs = schema[event]
        one_bad = st.sampled_from(sorted(specs)).flatmap(
            lambda bad: st.fixed_dictionaries(
                {name: spec.bad if name == bad else spec.good for name, spec in specs.items()}
            )
        )
        anything = st.fixed_dictionaries(
            {name: st.one_of(spec.good, spec.bad) for name, spec in specs.items()}
        )
        fields = st.one_of(one_bad, one_bad, one_bad, anything)
        return st.builds(
            Case, st.just(prelude), st.just(event), fields, st.one_of(st.just({}), extras())
        )

    return st.tuples(st.sampled_from(preludes), st.sampled_from(sorted(schema))).flatmap(
        lambda pe: for_event(*pe)
    )


# Every field of every event also gets each of these, the others right, before Hypothesis
# searches further: the classes of input the contract names, tried whatever the search finds.
SWEEP_STRINGS = ("\ud800", "a\x00b", "\u202e\x1b[31m\x07")
SWEEP_WRONG: tuple[Any, ...] = (["x"], {"k": "v"}, 2**64)
# The rest of each event's payload while one field is swept (docs/protocol.md).
RIGHT: dict[str, dict[str, dict[str, Any]]] = {
    "/customer": {
        "start": {"languages": ["en"]},
        "message": {"text": "Hello", "client_id": "c-1"},
        "choose_language": {"language": "ja"},
        "choose_suggestion": {"faq_id": "mt5-install"},
        "faq_feedback": {"seq": 3, "helpful": False},
        "request_agent": {},
        "leave_message": {"kind": "email", "contact": "a@example.com", "text": "Hello"},
        "end": {},
        "typing": {"typing": True},
        "seen": {"seq": 1},
    },
    "/agent": {
        "status": {"status": "away"},
        "accept": {"conversation_id": Ref("own_conversation")},
        "close": {"conversation_id": Ref("own_conversation")},
        "typing": {"conversation_id": Ref("own_conversation"), "typing": True},
        "message": {"conversation_id": Ref("own_conversation"), "text": "Hello"},
        "note": {"conversation_id": Ref("own_conversation"), "text": "Hello"},
        "transfer": {
            "conversation_id": Ref("own_conversation"),
            "to_queue": {"language": "ja", "team": "trading"},
        },
        "assign": {"conversation_id": Ref("own_conversation"), "agent_id": Ref("other_agent")},
    },
}
# How to judge a swept value, by field: the type the protocol gives it.
TAG_FIELDS = {"language"}
SPECIAL: dict[str, tuple[tuple[Any, str], ...]] = {
    "last_seq": ((2**64, "odd"), (-1, "wrong"), (True, "wrong"), ("1", "wrong"), (1.5, "wrong")),
    "seq": ((2**64, "wrong"), (0, "wrong"), (-1, "wrong"), (True, "wrong"), ("3", "wrong")),
    "helpful": ((1, "wrong"), (0, "wrong"), ("true", "wrong"), ([True], "wrong"), ({}, "wrong")),
    "languages": (
        (["\ud800"], "odd"),
        (["xx", "a\x00"], "odd"),
        ("en", "wrong"),
        ([["en"]], "wrong"),
        (["en"] * 11, "wrong"),
    ),
    "identity": (
        ({"customer_id": "\ud800", "balance_usd": "a lot", "sig": "x"}, "odd"),
        ({"customer_id": ["x"], "lots_30d": 2**64, "sig": ["x"]}, "odd"),
        ([], "wrong"),
        ("vip", "wrong"),
    ),
    "to_queue": (
        ({"language": "xx", "team": "technical"}, "unsupported"),
        ({"language": "EN", "team": "technical"}, "odd"),
        ({"language": "\ud800", "team": "technical"}, "unsupported"),
        ({"language": ["ja"], "team": "technical"}, "wrong"),
        ({"language": "ja", "team": ["technical"]}, "wrong"),
        ({"language": "ja", "team": "sales"}, "odd"),
        ("ja/technical", "wrong"),
    ),
    "conversation_id": (
        (Ref("foreign_conversation"), "foreign"),
        ("\ud800", "odd"),
        ("a\x00", "odd"),
        (["x"], "wrong"),
        (2**64, "wrong"),
    ),
    "to_agent": ((Ref("other_agent"), "odd"), ("\ud800", "odd"), (["x"], "wrong")),
}


def sweep(namespace: str, prelude: str) -> list[Case]:
    out = []
    for event, right in RIGHT[namespace].items():
        names = list(
            (customer_schema if namespace == "/customer" else agent_schema)(MAX_CHARS)[event]
        )
        for name in names:
            values = SPECIAL.get(name) or (
                *((v, tag_kind(v).kind if name in TAG_FIELDS else "odd") for v in SWEEP_STRINGS),
                *((v, "wrong") for v in SWEEP_WRONG),
            )
            for value, kind in values:
                if event == "start" and kind == "unsupported":
                    kind = "odd"  # an unknown choice on start may be ignored
                fields = {n: Value("ok", v) for n, v in right.items() if n != name}
                if name == "last_seq":  # only a resume reads it
                    fields["token"] = Value("ok", Ref("own_token"))
                fields[name] = Value(kind, value)
                out.append(Case(prelude, event, fields))
    return out


def with_examples(examples: list[Case]) -> Callable[[Any], Any]:
    def decorate(test: Any) -> Any:
        for each in reversed(examples):
            test = example(case=each)(test)
        return test

    return decorate


# -- expectations -----------------------------------------------------------------------


def well_formed(reply: Any, what: str) -> str | None:
    """The error code of a well-formed acknowledgement (None for ok); fails otherwise."""
    assert isinstance(reply, dict), f"{what}: the acknowledgement is not an object: {reply!r}"
    assert reply.get("ok") is True or reply.get("ok") is False, f"{what}: no 'ok': {reply!r}"
    if reply["ok"] is True:
        assert "error" not in reply, f"{what}: ok with an error: {reply!r}"
        return None
    error = reply.get("error")
    assert isinstance(error, dict), f"{what}: no error object: {reply!r}"
    code, message = error.get("code"), error.get("message")
    assert isinstance(code, str), f"{what}: bad code {reply!r}"
    assert ERROR_CODE.fullmatch(code), f"{what}: bad code {reply!r}"
    assert isinstance(message, str), f"{what}: bad message {reply!r}"
    assert message, f"{what}: empty message {reply!r}"
    assert code != "internal_error", f"{what}: the server failed: {reply!r}"
    return code


NESTED = {"to_queue": ("language", "team")}


def check_expectations(
    case: Case, code: str | None, reply: dict[str, Any], what: str, *, open_and_mine: bool
) -> None:
    """What the contract says about this case beyond a well-formed acknowledgement.
    `open_and_mine`: the socket holds an open conversation that the event may act on."""
    if case.fields is None:
        assert code in {"invalid_payload", *ALWAYS_ALLOWED}, (
            f"{what}: a non-object or several arguments must be invalid_payload: {reply!r}"
        )
        return
    wrong = case.kinds("wrong")
    if wrong:
        assert code in {"invalid_payload", "text_too_long", *ALWAYS_ALLOWED}, (
            f"{what}: wrong or missing {wrong} must be invalid_payload: {reply!r}"
        )
        if code == "invalid_payload":
            named = [n for n, v in case.fields.items() if v.kind != "ok"]
            # A nested field may be named by its own key ('team' of 'to_queue').
            named += [k for n in named for k in NESTED.get(n, ())]
            message = reply["error"]["message"]
            assert any(name in message for name in named), (
                f"{what}: the error names none of {named}: {reply!r}"
            )
    if case.kinds("foreign"):
        assert code is not None, f"{what}: another conversation's id was accepted: {reply!r}"
    unsupported = case.kinds("unsupported")
    if unsupported:
        assert code is not None, f"{what}: an unsupported language was accepted: {reply!r}"
        others_fine = all(v.kind == "ok" for n, v in case.fields.items() if n not in unsupported)
        if others_fine and open_and_mine:
            assert code in {"unsupported_language", "invalid_payload", *ALWAYS_ALLOWED}, (
                f"{what}: an unsupported language must be unsupported_language: {reply!r}"
            )


# -- the desk under test ----------------------------------------------------------------


def fuzz_settings(settings: Settings) -> Settings:
    fields_ = {name: getattr(settings, name) for name in settings.__slots__}
    return Settings.defaults(
        **{
            **fields_,
            "agent_grace_seconds": 0,
            "accept_timeout": 600,  # the fake clock never moves; offers stay put anyway
            "faq_reload_interval": 0,
            # Rate limits off where the desk has them (they have their own tests): thousands
            # of events from one address are the point here.
            **{name: None for name in settings.__slots__ if name.startswith("rate_")},
        }
    )


@dataclass(repr=False)
class Client:
    """A real python-socketio client that records what the server pushes."""

    namespace: str
    sio: socketio.AsyncClient
    received: list[tuple[str, Any]] = field(default_factory=list)
    refused: list[Any] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<{self.namespace} client>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # Hypothesis prints the fixtures of a falsifying example

    async def call(self, event: Any, data: Any = None, timeout: float = ACK_TIMEOUT) -> Any:
        try:
            return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)
        except socketio.exceptions.TimeoutError:
            pytest.fail(f"{self.namespace} {event!r}: no acknowledgement in {timeout} s")

    def pushed(self, event: str) -> list[Any]:
        return [data for name, data in self.received if name == event]

    async def wait_for(
        self, event: str, test: Callable[[Any], bool] = lambda _: True, timeout: float = 5
    ) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                for data in self.pushed(event):
                    if test(data):
                        return data
                await asyncio.sleep(0.005)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        await forget(self.sio)


async def forget(sio: socketio.AsyncClient) -> None:
    """Close the client's HTTP session, which a refused or failed connection leaves open."""
    http = sio.eio.http
    if http is not None and not http.closed:
        await http.close()


class Desk:
    """The server under test, its SQLite file, and the clients and accounts around it."""

    def __init__(self, server: TestServer, db_path: Path, settings: Settings) -> None:
        self.server = server
        self.db_path = db_path
        self.settings = settings
        self.services = server.app[SERVICES]
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.clients: list[Client] = []
        self._numbers = itertools.count(1)

    def __repr__(self) -> str:
        return "<desk>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))

    async def connect(
        self,
        namespace: str,
        *,
        auth: Any = None,
        headers: dict[str, str] | None = None,
        wait_timeout: float = 5,
    ) -> Client:
        sio = socketio.AsyncClient(reconnection=False)
        client = Client(namespace, sio)

        @sio.on("*", namespace=namespace)  # type: ignore[misc]
        async def record(event: str, data: Any = None) -> None:
            client.received.append((event, data))

        @sio.on("connect_error", namespace=namespace)  # type: ignore[misc]
        async def refused(data: Any = None) -> None:
            client.refused.append(data)

        self.clients.append(client)
        await sio.connect(
            self.url,
            namespaces=[namespace],
            transports=["websocket"],
            auth=auth,
            headers=headers or {},
            wait_timeout=wait_timeout,
        )
        return client

    async def customer(self) -> Client:
        return await self.connect("/customer", headers={"Accept-Language": "en"})

    async def add_agent(
        self,
        username: str,
        languages: list[str],
        role: str = "agent",
        capacity: int = 20,
        *,
        takes_chats: bool = False,
    ) -> str:
        accounts = self.services.accounts
        account = await accounts.add(
            username=username,
            name=username.title(),
            languages=languages,
            teams=list(TEAMS),
            capacity=capacity,
            role=role,
            password=PASSWORD,
            takes_chats=takes_chats,
        )
        self.ids[username] = account.id
        self.tokens[username] = (await accounts.login(username, PASSWORD)).token
        return account.id

    async def console(self, username: str) -> Client:
        agent = await self.connect("/agent", auth={"token": self.tokens[username]})
        await agent.wait_for("queue")
        return agent

    async def close(self) -> None:
        for client in self.clients:
            await client.close()

    # -- what must hold after every example --

    async def still_serves(self) -> None:
        """A well-behaved customer and agent console are served as if nothing happened."""
        customer = await self.customer()
        started = await customer.call("start", {"languages": ["en"]})
        assert started["ok"] is True, started
        sent = await customer.call(
            "message", {"text": "How do I install MT5?", "client_id": uuid.uuid4().hex}
        )
        assert sent["ok"] is True, sent
        seq = sent["message"]["seq"]
        await customer.wait_for(
            "message", lambda m: m["author"] == "bot" and m["meta"].get("in_reply_to") == seq
        )
        await customer.close()
        if "probe" in self.tokens:
            console = await self.console("probe")
            await console.close()

    def check_store(self) -> None:
        """The SQLite file, read as bytes: texts valid UTF-8 without NUL, seqs 1..last_seq,
        every stored language one the desk serves. (SQLite stores NUL; PostgreSQL refuses
        it in text and jsonb, so what SQLite lets through fails there.)"""
        languages = set(LANGUAGES)
        db = sqlite3.connect(self.db_path)
        db.text_factory = bytes
        try:
            for table, column in (
                ("messages", "text"),
                ("messages", "client_id"),
                ("offline_requests", "contact"),
                ("offline_requests", "text"),
                ("faq_choices", "query"),
                ("faq_feedback", "query"),
                ("faq_declines", "query"),
            ):
                for rowid, raw in db.execute(f"SELECT rowid, {column} FROM {table}"):
                    if raw is None:
                        continue
                    assert isinstance(raw, bytes), (table, column, rowid, raw)
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError:
                        pytest.fail(f"{table}.{column} row {rowid} is not UTF-8: {raw!r}")
                    assert b"\x00" not in raw, f"{table}.{column} row {rowid} has NUL: {raw!r}"
            for rowid, raw in db.execute("SELECT rowid, meta FROM messages"):
                assert "\x00" not in json.dumps(json.loads(raw), ensure_ascii=False), (
                    f"messages.meta row {rowid} has NUL: {raw!r}"
                )
            for table, column in (
                ("conversations", "language"),
                ("messages", "language"),
                ("applied_slas", "language"),
                ("faq_choices", "language"),
                ("faq_feedback", "language"),
                ("faq_declines", "language"),
            ):
                for (raw,) in db.execute(f"SELECT DISTINCT {column} FROM {table}"):
                    if raw is not None:
                        assert raw.decode() in languages, f"{table}.{column} = {raw!r}"
            for (raw,) in db.execute("SELECT DISTINCT team FROM conversations"):
                assert raw is None or raw.decode() in TEAMS, f"conversations.team = {raw!r}"
            gaps = db.execute(
                "SELECT c.id, c.last_seq, count(m.id), min(m.seq), max(m.seq) "
                "FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id "
                "GROUP BY c.id HAVING count(m.id) != c.last_seq OR max(m.seq) != c.last_seq"
            ).fetchall()
            assert not gaps, f"conversations whose messages are not 1..last_seq: {gaps}"
        finally:
            db.close()

    def check_queues(self) -> None:
        """The live queues hold configured languages and teams only."""
        router = self.services.dispatcher.router
        for key in router.queue_lengths():
            assert key.language in LANGUAGES, f"a queue for an unserved language: {key}"
            assert str(key.team) in TEAMS, f"a queue for no team: {key}"
        for view in router.waiting(self.services.dispatcher.clock.now()):
            assert set(view.languages) <= set(LANGUAGES), f"waiting in {view.languages}"

    async def check_consistency(self) -> None:
        """What the dispatcher holds in memory is what the store says: a failed write must
        not leave a chat queued in memory and assigned on disk (or the other way round)."""
        dispatcher = self.services.dispatcher
        store = self.services.store
        for view in dispatcher.router.waiting(dispatcher.clock.now()):
            stored = await store.get_conversation(view.conversation_id)
            assert stored is not None, f"waiting in memory, not stored: {view.conversation_id}"
            assert stored.status is ConversationStatus.QUEUED, (
                f"{view.conversation_id} waits in {view.queue} in memory, {stored.status} on disk"
            )
        for agent_id in dispatcher.accounts:
            for conversation_id in dispatcher.router.agent_conversations(agent_id):
                stored = await store.get_conversation(conversation_id)
                assert stored is not None, f"assigned in memory, not stored: {conversation_id}"
                assert stored.status in (ConversationStatus.ASSIGNED, ConversationStatus.ACTIVE)
                assert stored.agent_id == agent_id, (
                    f"{conversation_id} is {agent_id}'s in memory, {stored.agent_id}'s on disk"
                )

    async def check(self) -> None:
        self.check_store()
        self.check_queues()
        await self.check_consistency()
        await self.still_serves()


async def clear_desk(desk: Desk, *agents: str) -> None:
    """Between examples: no chat waits, and the named agents hold none (capacity is finite).
    What cannot be cleared was reported by the checks already."""
    dispatcher = desk.services.dispatcher
    for view in dispatcher.router.waiting(dispatcher.clock.now()):
        with contextlib.suppress(DomainError):
            await dispatcher.abandon(view.conversation_id)
    for username in agents:
        for conversation_id in sorted(dispatcher.router.agent_conversations(desk.ids[username])):
            with contextlib.suppress(DomainError):
                await dispatcher.close(conversation_id)


@dataclass
class Held:
    """A conversation that no fuzzed event may change: another customer's, another agent's."""

    id: str
    last_seq: int
    agent: str | None = None

    async def unchanged(self, desk: Desk) -> None:
        stored = await desk.services.store.get_conversation(self.id)
        assert stored is not None
        assert stored.last_seq == self.last_seq, "another conversation got messages"
        if self.agent is not None:
            assignee = desk.services.dispatcher.router.assignee(self.id)
            assert assignee == desk.ids[self.agent], "another agent's chat moved"


@pytest.fixture
async def desk(
    start_server: ServerFactory, settings: Settings, db_path: Path
) -> AsyncIterator[Desk]:
    assert settings.max_message_chars == MAX_CHARS
    changed = fuzz_settings(settings)
    desk = Desk(await start_server(changed, clock=FakeClock()), db_path, changed)
    await desk.add_agent("probe", ["th"])  # serves nobody here: its console only connects
    yield desk
    await desk.close()


async def hand_off(desk: Desk, language: str = "en") -> tuple[Client, dict[str, Any]]:
    customer = await desk.customer()
    started = await customer.call("start", {"language": language})
    assert started["ok"] is True, started
    asked = await customer.call("request_agent", {})
    assert asked["ok"] is True, asked
    return customer, started


# -- /customer --------------------------------------------------------------------------


@pytest.fixture
async def customer_desk(desk: Desk) -> tuple[Desk, Client, Held]:
    """A desk with one English agent who takes chats only when told, and a bystander."""
    await desk.add_agent("listener", ["en"])
    listener = await desk.console("listener")
    bystander = await desk.customer()
    started = await bystander.call("start", {"languages": ["en"]})
    await bystander.call("message", {"text": "Hello", "client_id": "b-1"})
    conversation = await desk.services.store.get_conversation(started["conversation"]["id"])
    assert conversation is not None
    return desk, listener, Held(conversation.id, conversation.last_seq)


async def customer_prelude(
    desk: Desk, listener: Client, prelude: str
) -> tuple[Client, dict[str, Any], bool]:
    """A customer socket in the state `prelude` names; its refs; whether its chat is open."""
    refs: dict[str, Any] = {"own_conversation": uuid.uuid4().hex, "own_token": "A" * 43}
    if prelude == "fresh":
        return await desk.customer(), refs, False
    if prelude == "offline":
        assert (await listener.call("status", {"status": "offline"}))["ok"] is True
    customer = await desk.customer()
    started = await customer.call("start", {"languages": ["en"]})
    assert started["ok"] is True, started
    refs = {"own_conversation": started["conversation"]["id"], "own_token": started["token"]}
    # An answer of the bot at seq 3 (after the greeting and the question): `faq_feedback`
    # has something to be right about.
    asked = await customer.call("message", {"text": "How do I install MT5?", "client_id": "q"})
    assert asked["ok"] is True, asked
    await customer.wait_for("message", lambda m: m["meta"].get("in_reply_to") == 2)
    if prelude in ("queued", "assigned", "offline"):
        assert (await customer.call("request_agent", {}))["ok"] is True
    if prelude == "offline":
        await customer.wait_for("offline")
        assert (await listener.call("status", {"status": "online"}))["ok"] is True
    elif prelude == "queued":
        await customer.wait_for("queued")
    elif prelude == "assigned":
        mine = refs["own_conversation"]
        await listener.wait_for("offer", lambda o: o["conversation_id"] == mine)
        accepted = await listener.call("accept", {"conversation_id": mine})
        assert accepted["ok"] is True, accepted
        await customer.wait_for("assigned")
    elif prelude == "closed":
        assert (await customer.call("end", {}))["ok"] is True
    return customer, refs, prelude in ("started", "queued", "assigned")


@settings(FUZZ, max_examples=examples(180))
@with_examples(sweep("/customer", "started"))
@given(case=cases(customer_schema(MAX_CHARS), CUSTOMER_PRELUDES))
async def test_customer_events_answer_anything_with_a_well_formed_ack(
    customer_desk: tuple[Desk, Client, Held], case: Case
) -> None:
    desk, listener, bystander = customer_desk
    customer, refs, open_ = await customer_prelude(desk, listener, case.prelude)
    refs["foreign_conversation"] = bystander.id
    what = f"/customer {case.event!r} after {case.prelude}"
    reply = await customer.call(case.event, case.arguments(refs))
    code = well_formed(reply, what)
    check_expectations(case, code, reply, what, open_and_mine=open_)
    await bystander.unchanged(desk)
    await desk.check()
    await customer.close()
    await clear_desk(desk, "listener")


# -- /agent -----------------------------------------------------------------------------


@pytest.fixture
async def agent_desk(desk: Desk) -> tuple[Desk, Client, Held]:
    """A supervisor who fuzzes (English, Japanese) and a Korean agent holding a chat."""
    await desk.add_agent("fuzz", ["en", "ja"], role="supervisor", takes_chats=True)
    await desk.add_agent("other", ["ko"])
    other = await desk.console("other")
    customer, started = await hand_off(desk, "ko")
    theirs = started["conversation"]["id"]
    await other.wait_for("offer", lambda o: o["conversation_id"] == theirs)
    assert (await other.call("accept", {"conversation_id": theirs}))["ok"] is True
    await customer.wait_for("assigned")
    stored = await desk.services.store.get_conversation(theirs)
    assert stored is not None
    fuzz = await desk.console("fuzz")
    return desk, fuzz, Held(theirs, stored.last_seq, agent="other")


async def agent_prelude(desk: Desk, fuzz: Client, prelude: str) -> tuple[Client, dict[str, Any]]:
    """A chat offered to, assigned to, or answered by the fuzzing agent."""
    assert (await fuzz.call("status", {"status": "online"}))["ok"] is True
    customer, started = await hand_off(desk)
    mine = started["conversation"]["id"]
    await fuzz.wait_for("offer", lambda o: o["conversation_id"] == mine)
    if prelude in ("assigned", "active"):
        assert (await fuzz.call("accept", {"conversation_id": mine}))["ok"] is True
        await fuzz.wait_for("conversation", lambda b: b["conversation"]["id"] == mine)
    if prelude == "active":
        said = await fuzz.call("message", {"conversation_id": mine, "text": "Hello, I am here."})
        assert said["ok"] is True, said
    refs = {
        "own_conversation": mine,
        "self_agent": desk.ids["fuzz"],
        "other_agent": desk.ids["other"],
    }
    return customer, refs


@settings(FUZZ, max_examples=examples(120))
@with_examples(sweep("/agent", "assigned"))
@given(case=cases(agent_schema(MAX_CHARS), AGENT_PRELUDES))
async def test_agent_events_answer_anything_with_a_well_formed_ack(
    agent_desk: tuple[Desk, Client, Held], case: Case
) -> None:
    desk, fuzz, theirs = agent_desk
    if not fuzz.sio.connected:  # an earlier example may have lost it; that one failed
        fuzz = await desk.console("fuzz")
    customer, refs = await agent_prelude(desk, fuzz, case.prelude)
    refs["foreign_conversation"] = theirs.id
    what = f"/agent {case.event!r} on a chat {case.prelude}"
    reply = await fuzz.call(case.event, case.arguments(refs))
    code = well_formed(reply, what)
    mine = case.prelude in ("assigned", "active")
    check_expectations(case, code, reply, what, open_and_mine=mine and case.event == "transfer")
    await theirs.unchanged(desk)
    await desk.check()
    await customer.close()
    await clear_desk(desk, "fuzz")


# -- event names and connections ----------------------------------------------------------


def named(examples: list[tuple[str, Any]]) -> Callable[[Any], Any]:
    def decorate(test: Any) -> Any:
        for namespace, event in reversed(examples):
            test = example(namespace=namespace, event=event, payload={})(test)
        return test

    return decorate


@settings(FUZZ, max_examples=40)
@named(
    [
        (namespace, event)
        for namespace in ("/customer", "/agent")
        for event in ("disconnect", "connect", [], {}, None, 7, True, "\ud800")
    ]
)
@given(
    namespace=st.sampled_from(["/customer", "/agent"]),
    event=st.one_of(
        st.sampled_from(UNKNOWN_EVENTS), json_value.filter(lambda v: not isinstance(v, str))
    ),
    payload=json_value,
)
async def test_unknown_event_names_are_unknown_events(
    desk: Desk, namespace: str, event: Any, payload: Any
) -> None:
    """Names no handler has, the reserved ones and names that are not strings (the
    python-socketio client sends whatever JSON it is given as the name)."""
    if "names" not in desk.tokens:
        await desk.add_agent("names", ["en"])
    if namespace == "/customer":
        client = await desk.customer()
    else:
        client = await desk.connect("/agent", auth={"token": desk.tokens["names"]})
    what = f"{namespace} event {event!r}"
    reply = await client.call(event, payload)
    code = well_formed(reply, what)
    # A name that is not a string is a malformed packet; a string no handler has (reserved
    # ones included) is an unknown event.
    expected = "unknown_event" if isinstance(event, str) else "invalid_payload"
    assert code in {expected, *ALWAYS_ALLOWED}, f"{what}: {reply!r}"
    # The same socket goes on working.
    if namespace == "/customer":
        assert (await client.call("start", {"languages": ["en"]}))["ok"] is True
    else:
        assert (await client.call("status", {"status": "online"}))["ok"] is True
    await desk.check()
    await client.close()


@settings(FUZZ, max_examples=40)
@given(
    target=st.one_of(
        st.tuples(st.just("/customer"), st.sampled_from(CUSTOMER_EVENTS)),
        st.tuples(st.just("/agent"), st.sampled_from(AGENT_EVENTS)),
    ).flatmap(lambda t: raw_payloads(t[1], t[0]))
)
async def test_a_payload_that_is_not_one_object_is_invalid(desk: Desk, target: Case) -> None:
    """docs/protocol.md: one JSON object (or nothing) per event; anything else, and more
    than one argument, is invalid_payload."""
    if "raw" not in desk.tokens:
        await desk.add_agent("raw", ["ko"])
    namespace = target.prelude  # raw_payloads keeps the namespace there
    if namespace == "/customer":
        client = await desk.customer()
        assert (await client.call("start", {"languages": ["en"]}))["ok"] is True
    else:
        client = await desk.connect("/agent", auth={"token": desk.tokens["raw"]})
    what = f"{namespace} {target.event!r} with {short(list(target.raw))}"
    reply = await client.call(target.event, target.arguments({}))
    code = well_formed(reply, what)
    assert code in {"invalid_payload", *ALWAYS_ALLOWED}, f"{what}: {reply!r}"
    await desk.check()
    await client.close()


auth_tokens = st.one_of(
    not_a_string,
    odd_text(200),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60),
)


@settings(FUZZ, max_examples=30)
@example(auth={"token": ["a-token"]}, header=None)
@example(auth={"token": {"t": 1}}, header=None)
@example(auth={"token": 2**64}, header=None)
@example(auth={"token": "\ud800"}, header=None)
@example(auth={"token": "a\x00b"}, header=None)
@example(auth=["a-token"], header=None)
@example(auth=None, header="Bearer " + "x" * 5000)
@given(
    # Socket.IO's CONNECT carries an object; a bare number is not even framed unambiguously
    # (python-socketio reads "40/agent,1.0" as ack id 1), so numbers stay inside objects.
    auth=st.one_of(
        st.none(),
        not_an_object.filter(lambda v: not isinstance(v, int | float) or isinstance(v, bool)),
        st.dictionaries(st.text(max_size=6), json_value, max_size=3),
        st.builds(lambda t: {"token": t}, auth_tokens),
    ),
    header=st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(
            lambda t: f"Bearer {t}"
        ),
    ),
)
async def test_a_console_without_a_valid_token_is_refused_not_hung(
    desk: Desk, auth: Any, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    sio = socketio.AsyncClient(reconnection=False)
    refusals: list[Any] = []

    @sio.on("connect_error", namespace="/agent")  # type: ignore[misc]
    async def refused(data: Any = None) -> None:
        refusals.append(data)

    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(
                desk.url,
                namespaces=["/agent"],
                transports=["websocket"],
                auth=auth,
                headers=headers,
                wait_timeout=ACK_TIMEOUT,
            )
    finally:
        await forget(sio)
    assert refusals, f"auth {auth!r}, header {header!r}: no answer to the connection"
    (answer,) = refusals
    assert isinstance(answer, dict), answer
    # docs/protocol.md: refused with {"code": "unauthorized"}, as python-socketio carries
    # it: in `data`, or (before the input fixes) stringified in `message`.
    data = answer.get("data")
    code = data.get("code") if isinstance(data, dict) else answer.get("code")
    assert code == "unauthorized" or "unauthorized" in str(answer.get("message")), answer
    await desk.check()


async def test_a_frame_over_the_limit_closes_only_that_connection(desk: Desk) -> None:
    """Documented: a frame over the transport's limit (derived from the text limit) is
    refused by the transport, which closes that connection before any handler runs."""
    customer = await desk.customer()
    assert (await customer.call("start", {}))["ok"] is True
    too_big = "x" * (desk.server.app[SIO].eio.max_http_buffer_size + 1)
    await customer.sio.emit("message", {"text": too_big}, namespace="/customer")
    async with asyncio.timeout(5):
        while customer.sio.connected:
            await asyncio.sleep(0.01)
    await desk.check()


# -- HTTP -------------------------------------------------------------------------------


async def request(desk: Desk, method: str, path: str, **kwargs: Any) -> tuple[int, str, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, desk.server.make_url(path), **kwargs) as response,
    ):
        return response.status, response.content_type, await response.read()


async def raw_request(
    desk: Desk, target: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, str, bytes]:
    """A GET with header bytes no HTTP client library would send (invalid UTF-8)."""
    reader, writer = await asyncio.open_connection(desk.server.host, desk.server.port)
    try:
        lines = [b"GET " + target + b" HTTP/1.1", b"Host: localhost", b"Connection: close"]
        lines += [name + b": " + value for name, value in headers]
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(ACK_TIMEOUT):
            data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    content_type = ""
    for line in header_lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-type":
            content_type = value.strip().split(b";")[0].decode()
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return int(status_line.split()[1]), content_type, body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def check_http(answer: tuple[int, str, bytes], allowed: set[int], what: str) -> Any:
    """Never 5xx; JSON; errors in the error shape. Returns the decoded body."""
    status, content_type, body = answer
    assert status < 500, f"{what}: {status} {body[:300]!r}"
    assert status in allowed, f"{what}: unexpected {status} {body[:300]!r}"
    if content_type in ("text/csv", "text/markdown") and status == 200:
        return body.decode("utf-8")
    assert content_type == "application/json", f"{what}: {status} {content_type} {body[:200]!r}"
    decoded = json.loads(body)
    if status >= 400:
        error = decoded.get("error") if isinstance(decoded, dict) else None
        assert isinstance(error, dict), f"{what}: no error object: {decoded!r}"
        assert isinstance(error.get("code"), str), decoded
        assert ERROR_CODE.fullmatch(error["code"]), decoded
        assert isinstance(error.get("message"), str), decoded
        assert error["message"], decoded
    return decoded


def login_body(username: Any, password: Any) -> bytes:
    return json.dumps({"username": username, "password": password}).encode()


@settings(FUZZ, max_examples=30)
@example(body=login_body("\ud800", PASSWORD), content_type="application/json")
@example(body=login_body("fuzz", "\ud800" * 8), content_type="application/json")
@example(body=login_body("fuzz\x00", PASSWORD), content_type="application/json")
@example(body=login_body(["fuzz"], PASSWORD), content_type="application/json")
@example(body=b"\xff\xfe{", content_type="application/json")
@given(
    body=st.one_of(
        st.binary(max_size=64),
        st.just(b"{" * 5000),  # over the 4 KiB body limit
        json_value.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "username": st.one_of(
                    odd_text(60), not_a_string, st.sampled_from(["fuzz", "FUZZ "])
                ),
                "password": st.one_of(odd_text(60), not_a_string, st.just(PASSWORD)),
            }
        ).map(lambda v: json.dumps(v).encode()),
    ),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded"]
    ),
)
async def test_login_answers_json_and_never_fails(
    desk: Desk, body: bytes, content_type: str
) -> None:
    if "fuzz" not in desk.tokens:
        await desk.add_agent("fuzz", ["en"])
    answer = await request(
        desk, "POST", "/api/v1/login", data=body, headers={"Content-Type": content_type}
    )
    decoded = check_http(answer, {200, 400, 401, 429}, f"login {body[:80]!r}")
    if answer[0] == 200:
        assert isinstance(decoded["token"], str)
    await desk.check()


printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
header_tokens = st.one_of(
    st.sampled_from(["inquiry", "bystander", "agent", "supervisor"]).map(Ref),
    st.text(printable, max_size=60),
)


@pytest.fixture
async def inquiry_desk(desk: Desk) -> tuple[Desk, dict[str, Any]]:
    """An inquiry with a tracking number (nobody was online), and tokens of all kinds."""
    customer, started = await hand_off(desk)
    offline = await customer.wait_for("offline")
    other, other_started = await hand_off(desk)
    await other.wait_for("offline")
    await desk.add_agent("agent", ["en"])
    await desk.add_agent("supervisor", ["en"], role="supervisor")
    refs = {
        "inquiry": started["token"],
        "bystander": other_started["token"],
        "agent": desk.tokens["agent"],
        "supervisor": desk.tokens["supervisor"],
        "number": offline["tracking_number"],
    }
    return desk, refs


@settings(FUZZ, max_examples=60)
@given(
    number=st.one_of(
        st.just(Ref("number")),
        st.just(Ref("number")).map(lambda r: Value("lower", r)),
        st.text(
            any_char.filter(
                lambda c: c not in "/?#%\ud800\udfff" and not 0xD800 <= ord(c) <= 0xDFFF
            ),
            min_size=1,
            max_size=40,
        ),
        st.sampled_from(["%00", "%ED%A0%80", "%FF%FE", "%C0%AF", "~"]).map(
            lambda v: Value("raw", v)
        ),
    ),
    scheme=st.sampled_from(["Bearer ", "bearer ", "Basic ", "", "Bearer  "]),
    token=st.one_of(st.none(), header_tokens),
)
async def test_inquiry_lookup_answers_json_and_never_fails(
    inquiry_desk: tuple[Desk, dict[str, Any]], number: Any, scheme: str, token: Any
) -> None:
    desk, refs = inquiry_desk
    if isinstance(number, Value):
        path_number = (
            resolve(number.value, refs).lower() if number.kind == "lower" else number.value
        )
    else:
        path_number = quote(resolve(number, refs), safe="")
    headers = {} if token is None else {"Authorization": scheme + resolve(token, refs)}
    answer = await request(desk, "GET", f"/api/v1/inquiries/{path_number}", headers=headers)
    # 400: a bearer token that is not a token at all (docs/protocol.md).
    decoded = check_http(answer, {200, 400, 401, 404}, f"inquiry {path_number!r} {headers!r}")
    if answer[0] == 200:
        assert token == Ref("inquiry"), f"someone else's inquiry was shown: {headers}"
        assert decoded["tracking_number"] == refs["number"]
    await desk.check()


iso_times = st.one_of(
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0001-01-01",
            "0001-01-01T00:00:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59",
            "9999-12-31T23:59:59-14:00",
            "2026-11-24",
            "2026-11-24T09:00:00Z",
            "2026-W48",
            "yesterday",
            "",
            "\x00",
        ]
    ),
    st.text(any_char.filter(lambda c: not 0xD800 <= ord(c) <= 0xDFFF), max_size=12),
)


def report(query: dict[str, str]) -> Any:
    return example(query=query, token=Ref("supervisor"))


@settings(FUZZ, max_examples=80)
@report({"until": "0001-01-01T00:00:00"})
@report({"since": "0001-01-01T00:00:00+14:00", "until": "0001-01-02T00:00:00"})
@report({"since": "9999-12-31T00:00:00", "until": "9999-12-31T23:59:59-14:00"})
@report({"since": "2026-11-24T00:00:00", "until": "2026-11-24T10:00:00+14:00", "format": "csv"})
@given(
    query=st.fixed_dictionaries(
        {},
        optional={
            "since": iso_times,
            "until": iso_times,
            "by": st.sampled_from(["hour", "day", "week", "", "HOUR"]),
            "format": st.sampled_from(["json", "csv", "xml", ""]),
        },
    ),
    token=st.one_of(st.none(), header_tokens),
)
async def test_sla_report_answers_json_or_csv_and_never_fails(
    inquiry_desk: tuple[Desk, dict[str, Any]], query: dict[str, str], token: Any
) -> None:
    desk, refs = inquiry_desk
    headers = {} if token is None else {"Authorization": "Bearer " + resolve(token, refs)}
    for path in ("/api/v1/reports/sla", "/api/v1/reports/inbox"):
        answer = await request(desk, "GET", path, params=query, headers=headers)
        check_http(answer, {200, 400, 403}, f"{path} {query!r} as {token!r}")
        if answer[0] == 200:
            assert token == Ref("supervisor")
    await desk.check()


@settings(FUZZ, max_examples=80)
@report({"until": "0001-01-01T00:00:00"})
@report({"since": "0001-01-01T00:00:00+14:00", "until": "0001-02-02T00:00:00"})
@report({"since": "9999-12-31T00:00:00", "until": "9999-12-31T23:59:59-14:00"})
@report({"language": "\ud800", "kind": "\x00", "limit": "١", "format": "markdown"})
@report({"since": "2026-11-01T00:00:00", "language": "zh-TW", "format": "csv", "limit": "1"})
@given(
    query=st.fixed_dictionaries(
        {},
        optional={
            "since": iso_times,
            "until": iso_times,
            "language": st.one_of(st.sampled_from(GOOD_TAGS + ODD_TAGS), st.text(max_size=8)),
            "kind": st.one_of(
                st.sampled_from(["declined", "picked,not_helpful", "helpful", "", ","]),
                st.text(max_size=8),
            ),
            "limit": st.one_of(st.integers(-5, 2000).map(str), st.text(max_size=6)),
            "format": st.sampled_from(["json", "csv", "markdown", "xml", ""]),
        },
    ),
    token=st.one_of(st.none(), header_tokens),
)
async def test_faq_gaps_report_answers_json_csv_or_markdown_and_never_fails(
    inquiry_desk: tuple[Desk, dict[str, Any]], query: dict[str, str], token: Any
) -> None:
    desk, refs = inquiry_desk
    headers = {} if token is None else {"Authorization": "Bearer " + resolve(token, refs)}
    answer = await request(desk, "GET", "/api/v1/reports/faq-gaps", params=query, headers=headers)
    check_http(answer, {200, 400, 403}, f"gaps {query!r} as {token!r}")
    if answer[0] == 200:
        assert token == Ref("supervisor")
    await desk.check()


@settings(FUZZ, max_examples=30)
@example(path="/api/v1/inquiries/K7PX-4QR9-M", value=b"\xff")
@example(path="/api/v1/reports/sla", value=b"\xed\xa0\x80")
@given(
    path=st.sampled_from(
        [
            "/api/v1/inquiries/K7PX-4QR9-M",
            "/api/v1/reports/sla",
            "/api/v1/reports/faq-gaps",
            "/api/v1/logout",
        ]
    ),
    # What HTTP allows in a header value (visible ASCII, space, tab, obs-text), so the
    # request reaches the application, yet often not UTF-8.
    value=st.binary(min_size=1, max_size=24).filter(
        lambda b: all(c == 9 or 0x20 <= c <= 0x7E or c >= 0x80 for c in b)
    ),
)
async def test_header_bytes_that_are_not_utf8_never_fail(
    inquiry_desk: tuple[Desk, dict[str, Any]], path: str, value: bytes
) -> None:
    desk, _ = inquiry_desk
    answer = await raw_request(desk, path.encode(), [(b"Authorization", b"Bearer " + value)])
    if path.endswith("logout"):
        answer = answer  # GET on a POST route: 405 is aiohttp's, not the API's
        assert answer[0] < 500, answer
    else:
        check_http(answer, {200, 400, 401, 403, 404}, f"{path} with {value!r}")
    await desk.check()


@settings(FUZZ, max_examples=30)
@given(
    lang=st.one_of(
        st.sampled_from(ODD_TAGS).filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)),
        st.text(any_char.filter(lambda c: not 0xD800 <= ord(c) <= 0xDFFF), max_size=30),
        st.lists(st.sampled_from(GOOD_TAGS + ODD_TAGS[:5]), max_size=12).map(",".join),
    ),
    logout=st.one_of(st.none(), st.text(printable, max_size=40)),
)
async def test_public_json_and_logout_never_fail(desk: Desk, lang: str, logout: str | None) -> None:
    strings = await request(desk, "GET", "/api/v1/widget/strings", params={"lang": lang})
    decoded = check_http(strings, {200}, f"strings for {lang!r}")
    assert decoded["language"] in LANGUAGES
    check_http(await request(desk, "GET", "/api/v1/languages"), {200}, "languages")
    headers = {} if logout is None else {"Authorization": logout}
    check_http(
        await request(desk, "POST", "/api/v1/logout", headers=headers), {200, 400, 401}, "logout"
    )
    await desk.check()

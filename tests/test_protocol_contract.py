"""The server and the browser code agree on the protocol (chatserver/protocol.py).

- The events the widget and the console listen to (`socket.on("...")`) are events the
  server sends to their namespace, and every event the server sends them is handled.
- The events they send are named by the constants of their namespace's enum
  (`CustomerRequest`, `AgentRequest`, exported to static/shared/protocol.js), never by a
  string literal, so none can name an event the server does not answer; each namespace
  answers exactly its enum's events, each with the acknowledgement the protocol declares.
- The JSDoc typedefs the browser code refers to (static/shared/protocol.js) are generated
  from the protocol's TypedDicts: the file is what `python -m chatserver.protocol` prints,
  and every `import("../shared/protocol.js").X` in the JS names one of its typedefs.
- No event name is a string literal outside the protocol: every emit and every `Notify`
  of the server names a `ServerEvent`, every handler a `CustomerRequest` or `AgentRequest`.
- Presenters build payloads and acknowledgements with exactly the keys of their TypedDict,
  in its order (the bytes on the wire).
"""

from __future__ import annotations

import ast
import re
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from chatserver import protocol
from chatserver.agents import AgentAccount
from chatserver.models import Author, Message, Team, new_conversation
from chatserver.protocol import (
    ACKNOWLEDGEMENTS,
    AGENT_ACKS,
    AGENT_EVENTS,
    CUSTOMER_ACKS,
    CUSTOMER_EVENTS,
    PAYLOADS,
    AgentRequest,
    CustomerRequest,
    ServerEvent,
)
from chatserver.sockets import payloads
from chatserver.sockets.agent import AgentNamespace
from chatserver.sockets.base import Namespace
from chatserver.sockets.customer import CustomerNamespace

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
TYPEDEFS = STATIC / "shared" / "protocol.js"
# Which namespace each page's code talks to.
PAGES = {
    "widget": (sorted((STATIC / "widget").glob("*.js")), CUSTOMER_EVENTS),
    "console": (sorted((STATIC / "console").glob("*.js")), AGENT_EVENTS),
}
# The Socket.IO client's own events: not the server's to send.
CLIENT_LIBRARY_EVENTS = frozenset({"connect", "disconnect", "connect_error"})
LISTEN = re.compile(r"""\bsocket\.(?:on|once)\(\s*(["'])([^"']+)\1""")
# What each page sends on its namespace: the enum it names its events with.
SENDERS: dict[str, tuple[list[Path], type[StrEnum]]] = {
    "widget": (PAGES["widget"][0], CustomerRequest),
    "console": (PAGES["console"][0], AgentRequest),
}
# The first argument of an emit or of the pages' `call(event, payload)`, and an event
# named in a choice (`{event: ..., payload: ...}`): where an event name is given.
SEND = re.compile(r"""(?:\.emit|\bcall)\(\s*([^,)]*)|\bevent:\s*([^,}]*)""")
STRING = re.compile(r"""^\s*["'`]""")
REQUEST_CONSTANT = re.compile(r"\b(CustomerRequest|AgentRequest)\.(\w+)")
JSDOC_IMPORT = re.compile(r"""import\(\s*["']\.\./shared/protocol\.js["']\s*\)\.(\w+)""")


def listened(paths: list[Path]) -> set[str]:
    return {m.group(2) for path in paths for m in LISTEN.finditer(path.read_text())}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_js_listens_only_to_events_the_server_sends_it(page: str) -> None:
    paths, sent = PAGES[page]
    names = listened(paths) - CLIENT_LIBRARY_EVENTS
    assert names, f"no socket.on(...) found in the {page}'s code"
    assert names <= {str(e) for e in sent}, (
        f"the {page} listens to events its namespace never gets: {names - set(sent)}"
    )


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_event_the_server_sends_is_handled(page: str) -> None:
    paths, sent = PAGES[page]
    assert {str(e) for e in sent} <= listened(paths), (
        f"the {page} ignores {set(sent) - listened(paths)}"
    )


def _scripts() -> list[Path]:
    return sorted(p for p in STATIC.glob("*/*.js") if p.parent.name not in ("vendor", "shared"))


def test_the_js_names_the_events_it_sends_by_the_protocols_constants() -> None:
    literals = [
        f"{path.relative_to(ROOT)}: {found.group(0).strip()}"
        for path in _scripts()
        for found in SEND.finditer(path.read_text())
        if STRING.match(found.group(1) or found.group(2) or "")
    ]
    assert not literals, (
        "send events by CustomerRequest.X / AgentRequest.X (static/shared/protocol.js), "
        "not by a string:\n" + "\n".join(literals)
    )


@pytest.mark.parametrize("page", sorted(SENDERS))
def test_the_js_sends_only_events_its_namespace_answers(page: str) -> None:
    paths, requests = SENDERS[page]
    named = {m.groups() for path in paths for m in REQUEST_CONSTANT.finditer(path.read_text())}
    assert named, f"the {page} sends no {requests.__name__}"
    wrong = {f"{enum}.{member}" for enum, member in named if enum != requests.__name__}
    assert not wrong, f"the {page} talks to the {requests.__name__} namespace, not {wrong}"
    unknown = {member for _, member in named} - set(requests.__members__)
    assert not unknown, f"{requests.__name__} has no {unknown} (they would send undefined)"
    imports = re.compile(
        r"import\s*\{[^}]*\b" + requests.__name__ + r"\b[^}]*\}\s*from\s*"
        r"""["']/static/shared/protocol\.js["']"""
    )
    assert any(imports.search(path.read_text()) for path in paths), (
        f"the {page} does not import {requests.__name__} from /static/shared/protocol.js"
    )
    # The pages in other namespaces send none of these.
    for other in _scripts():
        if other not in paths:
            assert requests.__name__ not in other.read_text(), other


def _namespaces() -> list[tuple[Namespace, type[StrEnum], Mapping[Any, type]]]:
    app = web.Application()
    return [
        (CustomerNamespace(app), CustomerRequest, CUSTOMER_ACKS),
        (AgentNamespace(app), AgentRequest, AGENT_ACKS),
    ]


@pytest.mark.parametrize("index", [0, 1], ids=["customer", "agent"])
def test_each_namespace_answers_exactly_the_events_of_its_enum(index: int) -> None:
    namespace, requests, acks = _namespaces()[index]
    handlers = namespace.handlers()
    literals = [name for name in handlers if not isinstance(name, requests)]
    assert not literals, f"name these handlers by {requests.__name__}: {literals}"
    assert set(handlers) == set(requests) == set(acks)


@pytest.mark.parametrize("index", [0, 1], ids=["customer", "agent"])
def test_each_handler_returns_the_acknowledgement_the_protocol_declares(index: int) -> None:
    namespace, _, acks = _namespaces()[index]
    for name, handler in namespace.handlers().items():
        assert typing.get_type_hints(handler)["return"] is acks[name], name


def test_every_acknowledgement_is_declared_and_typed() -> None:
    declared = {protocol.ErrorAck, *CUSTOMER_ACKS.values(), *AGENT_ACKS.values()}
    assert set(ACKNOWLEDGEMENTS) == declared == set(typing.get_args(protocol.Ack))
    text = TYPEDEFS.read_text()
    for requests, acks in ((CustomerRequest, CUSTOMER_ACKS), (AgentRequest, AGENT_ACKS)):
        for request in requests:
            assert f'{request.name}: "{request}", // {acks[request].__name__}\n' in text


def test_every_server_event_goes_to_some_namespace_and_has_a_payload_type() -> None:
    assert set(ServerEvent) == CUSTOMER_EVENTS | AGENT_EVENTS == set(PAYLOADS)


def test_the_jsdoc_typedefs_are_generated_from_the_protocol() -> None:
    assert TYPEDEFS.read_text() == protocol.jsdoc(), (
        "static/shared/protocol.js has drifted from chatserver/protocol.py: "
        "run `python -m chatserver.protocol > static/shared/protocol.js`"
    )


def test_the_typedefs_the_js_refers_to_exist() -> None:
    defined = set(re.findall(r"@typedef \{Object\} (\w+)", TYPEDEFS.read_text()))
    referred = {
        name
        for path in STATIC.glob("*/*.js")
        if path.parent.name != "vendor"
        for name in JSDOC_IMPORT.findall(path.read_text())
    }
    assert referred, "the browser code refers to no typedef of static/shared/protocol.js"
    assert referred <= defined, f"unknown typedefs: {referred - defined}"
    # Every payload of an event the page handles is typed there.
    for shapes in PAYLOADS.values():
        for shape in shapes:
            assert shape.__name__ in defined


def test_the_typedefs_have_the_fields_of_the_typeddicts() -> None:
    text = TYPEDEFS.read_text()
    for shapes in [*PAYLOADS.values(), ACKNOWLEDGEMENTS]:
        for shape in shapes:
            block = text.split(f"@typedef {{Object}} {shape.__name__}\n", 1)[1].split("*/")[0]
            fields = re.findall(r"@property \{.+\} \[?(\w+)\]?", block)
            assert fields == list(typing.get_type_hints(shape)), shape.__name__


def _event_arguments(tree: ast.AST) -> list[tuple[int, ast.expr]]:
    """The event-name argument of every emit and every `Notify` constructor call."""
    found: list[tuple[int, ast.expr]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        owner = node.func.value
        if name == "emit" and node.args:
            found.append((node.lineno, node.args[0]))
        elif isinstance(owner, ast.Name) and owner.id == "Notify":
            index = 0 if name == "supervisors" else 1
            if len(node.args) > index:
                found.append((node.lineno, node.args[index]))
    return found


def test_no_event_name_is_a_string_literal_outside_the_protocol() -> None:
    literals = []
    for path in sorted((ROOT / "chatserver").rglob("*.py")):
        if path.name == "protocol.py":
            continue
        for line, argument in _event_arguments(ast.parse(path.read_text())):
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                literals.append(f"{path.relative_to(ROOT)}:{line}: {argument.value!r}")
    assert not literals, "event names belong in chatserver.protocol.ServerEvent:\n" + "\n".join(
        literals
    )


def _is_super(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def test_nothing_emits_but_publish() -> None:
    """Everything goes out through `publish` (sockets/base.py): the use cases' Notify. (The
    client manager's `super().emit`, sockets/manager.py, is the transport under it.)"""
    emits = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "chatserver").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "emit"
        and not _is_super(node.func.value)
    ]
    assert len(emits) == 1, emits
    assert emits[0].startswith("chatserver/sockets/base.py:")


NOW = datetime(2026, 11, 24, 9, 0, 1, 250000, tzinfo=UTC)


def _keys(shape: type) -> list[str]:
    return list(typing.get_type_hints(shape))


def _required(shape: type) -> list[str]:
    hints = typing.get_type_hints(shape, include_extras=True)
    return [k for k, v in hints.items() if typing.get_origin(v) is not typing.NotRequired]


def test_presenters_build_their_typeddicts_in_order() -> None:
    message = Message("m1", "c1", 3, Author.BOT, "Hello", NOW, language="en", meta={"kind": "x"})
    assert list(protocol.message(message)) == _required(protocol.MessagePayload)
    assert list(
        protocol.agent_message(message, faq={"id": "a", "question": "q", "language": "en"})
    ) == (_keys(protocol.MessagePayload))
    conversation = new_conversation("c1", language="ar", language_confirmed=False, now=NOW)
    assert list(protocol.conversation(conversation)) == _keys(protocol.ConversationPayload)
    assert protocol.conversation(conversation)["direction"] == "rtl"
    role = typing.get_type_hints(AgentAccount)["role"]("agent")  # (whatever its class is named)
    account = AgentAccount("a1", "aiko", "Aiko", ("ja", "en"), (Team.TECHNICAL,), 3, role, "h", NOW)
    assert list(protocol.agent_presence(account, status="online", load=1)) == _keys(
        protocol.AgentPresence
    )
    assert list(protocol.customer_closed(tracking_number=None, survey=True, reason="x")) == _keys(
        protocol.CustomerClosedPayload
    )
    assert list(protocol.agent_closed("c1", reason="x")) == _keys(protocol.AgentClosedPayload)
    briefing = protocol.briefing(
        conversation,
        messages=[],
        widened=False,
        agent_language="en",
        original_text=None,
        faq_id=None,
        question_en=None,
        remaining_seconds=None,
        held=True,
    )
    assert list(briefing) == _keys(protocol.BriefingPayload)
    assert list(briefing["conversation"]) == _keys(protocol.BriefedConversation)
    assert list(protocol.customer_typing(True, "Emma")) == _keys(protocol.CustomerTypingPayload)
    assert list(protocol.agent_typing("c1", False)) == _keys(protocol.AgentTypingPayload)
    assert list(protocol.seen("c1", 4)) == _keys(protocol.SeenPayload)
    assert list(protocol.availability(False)) == _keys(protocol.AvailabilityPayload)


def test_acknowledgements_are_built_in_order() -> None:
    message = protocol.message(Message("m1", "c1", 3, Author.AGENT, "Hi", NOW, language="en"))
    conversation = protocol.conversation(
        new_conversation("c1", language="en", language_confirmed=True, now=NOW)
    )
    built = {
        protocol.OkAck: protocol.ok_ack(),
        protocol.StartAck: protocol.start_ack(
            conversation,
            token="t",
            resumed=False,
            messages=[message],
            availability=protocol.availability(True),
        ),
        protocol.SeenAck: protocol.seen_ack(3),
        protocol.MessageAck: protocol.message_ack(
            message, duplicate=False, conversation=conversation
        ),
        protocol.ChooseLanguageAck: protocol.choose_language_ack(conversation),
        protocol.FaqFeedbackAck: protocol.faq_feedback_ack(helpful=True, duplicate=False),
        protocol.LeaveMessageAck: protocol.leave_message_ack("T-1"),
        protocol.StatusAck: protocol.status_ack("online"),
        protocol.AcceptAck: protocol.accept_ack("c1"),
    }
    for shape, ack in built.items():
        assert list(ack) == _keys(shape), shape.__name__
    assert list(protocol.message_ack(message, duplicate=True)) == _required(protocol.MessageAck)
    assert payloads.error("invalid_payload", "x") == {
        "ok": False,
        "error": {"code": "invalid_payload", "message": "x"},
    }

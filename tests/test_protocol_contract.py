"""The server and the browser code agree on the protocol (chatserver/protocol.py).

- The events the widget and the console listen to (`socket.on("...")`) are events the
  server sends to their namespace, and every event the server sends them is handled.
- The JSDoc typedefs the browser code refers to (static/shared/protocol.js) are generated
  from the protocol's TypedDicts: the file is what `python -m chatserver.protocol` prints,
  and every `import("../shared/protocol.js").X` in the JS names one of its typedefs.
- No event name is a string literal outside the protocol: every emit and every `Notify`
  of the server names a `ServerEvent`.
- Presenters build payloads with exactly the keys of their TypedDict, in its order (the
  bytes on the wire).
"""

from __future__ import annotations

import ast
import re
import typing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatserver import protocol
from chatserver.agents import AgentAccount
from chatserver.models import Author, Message, Team, new_conversation
from chatserver.protocol import AGENT_EVENTS, CUSTOMER_EVENTS, PAYLOADS, ServerEvent

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
TYPEDEFS = STATIC / "shared" / "protocol.js"
# Which namespace each page's code talks to.
PAGES = {
    "widget": (sorted((STATIC / "widget").glob("*.js")), CUSTOMER_EVENTS),
    "console": ([STATIC / "console" / "console.js"], AGENT_EVENTS),
}
# The Socket.IO client's own events: not the server's to send.
CLIENT_LIBRARY_EVENTS = frozenset({"connect", "disconnect", "connect_error"})
LISTEN = re.compile(r"""\bsocket\.(?:on|once)\(\s*(["'])([^"']+)\1""")
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
    for shapes in PAYLOADS.values():
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


def test_nothing_emits_but_publish() -> None:
    """Everything goes out through `publish` (sockets/base.py): the use cases' Notify."""
    emits = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "chatserver").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "emit"
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

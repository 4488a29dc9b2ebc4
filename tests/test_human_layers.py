"""The rooms of the human side import only the rooms below them (no circles, nothing back
up), and none imports the facade or the transport."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

# Bottom first: a room may import only those before it.
ORDER = (
    "ledger",
    "telling",
    "urgent",
    "routed",
    "clocks",
    "assignment",
    "transfer",
    "replies",
    "presence",
    "views",
    "signals",
)
# Rooms on one level, which must not import each other.
SIBLINGS = {("assignment", "replies"), ("assignment", "presence"), ("replies", "presence")}
SIBLINGS |= {("transfer", "assignment"), ("replies", "transfer"), ("presence", "transfer")}
SIBLINGS |= {
    ("views", room)
    for room in ("assignment", "transfer", "replies", "presence", "clocks", "routed")
}
FORBIDDEN = ("chatserver.dispatch", "chatserver.desk", "chatserver.sockets", "aiohttp", "socketio")


def forbidden(module: str) -> bool:
    """`chatserver.desk` and its submodules, not `chatserver.desk_state` (the port)."""
    return any(module == f or module.startswith(f"{f}.") for f in FORBIDDEN)


def imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / "chatserver" / "human" / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_room_is_in_the_order() -> None:
    rooms = {p.stem for p in Path(ROOT / "chatserver" / "human").glob("*.py")} - {"__init__"}
    assert rooms == set(ORDER)


def test_rooms_import_only_rooms_below_them() -> None:
    for level, room in enumerate(ORDER):
        used = {m.removeprefix("chatserver.human.") for m in imports(room)}
        rooms = used & set(ORDER)
        assert rooms <= set(ORDER[:level]), f"{room} imports {rooms - set(ORDER[:level])}"
        for sibling in rooms:
            assert (room, sibling) not in SIBLINGS, f"{room} imports its sibling {sibling}"
        assert not any(forbidden(m) for m in imports(room)), room

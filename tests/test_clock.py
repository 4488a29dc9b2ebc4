"""Ids and tokens (chatserver/clock.py)."""

from __future__ import annotations

import os
import re

from chatserver.clock import ID_BLOCK, new_id


def test_ids_are_32_hex_characters_and_never_repeat_across_blocks() -> None:
    ids = [new_id() for _ in range(ID_BLOCK * 40 + 7)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_process_does_not_hand_out_its_parents_ids() -> None:
    """Ids are drawn a block ahead: a worker forked after the parent drew some must not
    take the rest of the parent's block (two processes share one database)."""
    new_id()  # the parent holds the rest of a block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, "".join(new_id() for _ in range(ID_BLOCK)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    child_ids = {child[i : i + 32] for i in range(0, len(child), 32)}
    parent_ids = {new_id() for _ in range(ID_BLOCK)}
    assert len(child_ids) == ID_BLOCK
    assert not child_ids & parent_ids

"""What an agent's queue shows of a waiting customer: their latest message, on one line and
short enough to read at a glance.

Pure. The console shows it as text a person wrote (isolated, never HTML).
"""

from __future__ import annotations

import regex

# Characters a queue item shows (an ellipsis included): about two lines of the console's list.
PREVIEW_CHARS = 120
# A cut at a space is preferred if one lies in the last fifth; otherwise the text (Japanese,
# Thai, Chinese: no spaces) is cut where the limit falls.
_WORD_WINDOW = 5
_SPACES = regex.compile(r"\s+")
_GRAPHEMES = regex.compile(r"\X")
ELLIPSIS = "…"


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """`text` on one line (every run of spaces and line breaks one space), at most `limit`
    characters with the ellipsis. A cut never splits a grapheme cluster (a letter and its
    marks, a flag, an emoji sequence joined by ZWJ), and falls after a word where it can."""
    flat = _SPACES.sub(" ", text).strip()
    if len(flat) <= limit:
        return flat
    room = limit - len(ELLIPSIS)
    end = 0
    for cluster in _GRAPHEMES.finditer(flat):
        if cluster.end() > room:
            break
        end = cluster.end()
    cut = flat[:end]
    space = cut.rfind(" ")
    if space >= room - room // _WORD_WINDOW:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS

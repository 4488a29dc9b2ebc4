"""The queue's preview of a customer's question: one line, short, never a broken character."""

from __future__ import annotations

import regex

from chatserver.preview import ELLIPSIS, PREVIEW_CHARS, preview


def test_a_short_question_is_shown_whole_on_one_line():
    assert preview("  How do I\r\n\n reset\tmy password?  ") == "How do I reset my password?"


def test_a_long_question_is_cut_after_a_word_with_an_ellipsis():
    text = "I cannot log in to MT5 " * 10
    shown = preview(text)
    assert len(shown) <= PREVIEW_CHARS
    assert shown.endswith(ELLIPSIS)
    assert text.startswith(shown[:-1])
    assert text[len(shown) - 1] == " "  # the cut fell between words
    assert len(shown) > PREVIEW_CHARS * 3 // 4  # and not far before the limit


def test_text_without_spaces_is_cut_at_the_limit():
    text = "ลืมรหัสผ่านต้องทำยังไง" * 10
    shown = preview(text)
    assert len(shown) <= PREVIEW_CHARS
    assert text.startswith(shown[:-1])
    assert len(shown) >= PREVIEW_CHARS - 3  # a Thai cluster is at most a few code points


def test_a_cut_never_splits_a_grapheme_cluster():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji of five code points
    accented = "e\u0301"  # é as a letter and its mark
    for unit in (family, accented, "\U0001f1ef\U0001f1f5"):  # and a flag
        shown = preview(unit * 100)
        body = shown[: -len(ELLIPSIS)]
        assert body, unit
        assert regex.fullmatch(rf"(?:{regex.escape(unit)})+", body), (unit, shown)
        assert len(shown) <= PREVIEW_CHARS

"""The announcements' domain: validation, the text a reader gets, the lifecycle."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from chatserver.announcement_desk import ACTIVE_KEPT_FOR, AnnouncementDesk
from chatserver.announcements import (
    AnnouncementResolved,
    AnnouncementStatus,
    InvalidAnnouncement,
    Severity,
    check_texts,
    parse_severity,
    post,
    resolve,
    revise,
    text_for,
)
from chatserver.store import open_store
from tests.conftest import FakeClock

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LANGUAGES = ("en", "ja", "zh-Hans", "zh-Hant", "th")
FALLBACKS = {"zh-Hant": ("zh-Hans", "en")}


def outage(**texts: str):
    return post(
        "a1", severity=Severity.CRITICAL, texts=texts or {"en": "MT5 is down"}, by="sam", now=T0
    )


def test_english_is_required_and_named():
    with pytest.raises(InvalidAnnouncement) as refused:
        check_texts({"ja": "MT5が停止中です"}, LANGUAGES)
    assert refused.value.field == "texts.en"
    assert "texts.en" in str(refused.value)


@pytest.mark.parametrize(
    ("texts", "field"),
    [
        ({"en": "ok", "xx": "?"}, "texts.xx"),
        ({"en": "  "}, "texts.en"),
        ({"en": 3}, "texts.en"),
        ({"en": "x" * 1001}, "texts.en"),
        ("MT5 is down", "texts"),
    ],
)
def test_bad_texts_are_refused_naming_the_field(texts, field):
    with pytest.raises(InvalidAnnouncement) as refused:
        check_texts(texts, LANGUAGES)
    assert refused.value.field == field


def test_resolution_texts_are_optional_but_english_comes_with_any():
    assert check_texts({}, LANGUAGES, required=False) == {}
    with pytest.raises(InvalidAnnouncement):
        check_texts({"ja": "復旧しました"}, LANGUAGES, required=False)


def test_severity_is_one_of_three():
    assert parse_severity("warning") is Severity.WARNING
    with pytest.raises(InvalidAnnouncement) as refused:
        parse_severity("urgent")
    assert refused.value.field == "severity"


def test_a_reader_gets_their_language_then_the_fallback_chain_then_english():
    notice = outage(en="MT5 is down", ja="MT5が停止中です", **{"zh-Hans": "MT5 暂停服务"})
    assert text_for(notice, "ja", FALLBACKS).text == "MT5が停止中です"
    chosen = text_for(notice, "zh-Hant", FALLBACKS)
    assert (chosen.text, chosen.language) == ("MT5 暂停服务", "zh-Hans")
    chosen = text_for(notice, "th", FALLBACKS)
    assert (chosen.text, chosen.language) == ("MT5 is down", "en")


def test_revisions_are_new_versions_and_resolution_is_final():
    notice = outage()
    later = T0 + timedelta(minutes=5)
    revised = revise(notice, severity=Severity.WARNING, texts={"en": "Recovering"}, now=later)
    assert (revised.version, revised.severity, revised.updated_at) == (2, Severity.WARNING, later)
    assert text_for(revised, "ja").text == "Recovering"
    kept = revise(revised, severity=None, texts=None, now=later)
    assert kept.texts == revised.texts
    assert kept.severity is Severity.WARNING
    done = resolve(revised, resolution={"en": "All fixed"}, now=later)
    assert done.status is AnnouncementStatus.RESOLVED
    assert text_for(done, "ja").text == "All fixed"
    assert text_for(resolve(revised, resolution={}, now=later), "ja").text == "Recovering"
    with pytest.raises(AnnouncementResolved):
        revise(done, severity=Severity.INFO, texts=None, now=later)
    with pytest.raises(AnnouncementResolved):
        resolve(done, resolution={}, now=later)


async def test_a_desk_keeps_the_active_list_briefly_and_its_own_changes_show_at_once(tmp_path):
    """Two desks on one database, as two processes: each sees its own change at once and
    the other's within ACTIVE_KEPT_FOR (a widget already reading gets it pushed)."""
    clock = FakeClock(T0)
    store = await open_store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    counter = itertools.count()

    def desk() -> AnnouncementDesk:
        return AnnouncementDesk(
            store=store,
            clock=clock,
            new_id=lambda: f"a{next(counter)}",
            languages=LANGUAGES,
            fallbacks=FALLBACKS,
        )

    here, there = desk(), desk()
    try:
        assert await there.active() == []
        posted = await here.post(severity=Severity.CRITICAL, texts={"en": "Down"}, by="sam")
        assert [a.id for a in await here.active()] == [posted.announcement.id]
        assert await there.active() == []  # kept from before the post
        clock.advance(ACTIVE_KEPT_FOR.total_seconds() - 0.001)
        assert await there.active() == []
        clock.advance(0.001)
        assert [a.id for a in await there.active()] == [posted.announcement.id]

        await here.resolve(posted.announcement.id, resolution={})
        assert await here.active() == []
        assert [a.id for a in await there.active()] == [posted.announcement.id]
        clock.advance(ACTIVE_KEPT_FOR.total_seconds())
        assert await there.active() == []
    finally:
        await store.close()

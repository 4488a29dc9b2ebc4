"""Catalogs: complete for every language that has one, placeholders intact, loaded once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from chatserver.bot import DECLINE
from chatserver.i18n import Catalogs, locale_id, po_path
from chatserver.settings import CHAT_LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
SOURCE_LANGUAGE = "en"
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def catalog_languages():
    return [lang for lang in CHAT_LANGUAGES if po_path(LOCALES, lang).is_file()]


def template_ids():
    with (LOCALES / "messages.pot").open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


def test_template_has_the_bot_strings():
    assert any("virtual assistant" in str(message_id) for message_id in template_ids())


@pytest.mark.parametrize("language", catalog_languages())
def test_catalog_is_complete_and_keeps_placeholders(language):
    with po_path(LOCALES, language).open("rb") as handle:
        catalog = read_po(handle, locale=locale_id(language))
    ids = template_ids()
    present = {m.id for m in catalog if m.id}
    assert ids <= present, f"{language} misses {sorted(map(str, ids - present))}"
    if language == SOURCE_LANGUAGE:
        return
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        assert all(strings), f"{language}: untranslated {message.id!r}"
        wanted = set(PLACEHOLDER.findall(" ".join(sources)))
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == wanted, f"{language}: {message.id!r}"


def test_japanese_is_translated_and_english_is_the_source():
    catalogs = Catalogs.load(LOCALES, ["en", "ja"])
    assert catalogs.translator("en").gettext(DECLINE) == DECLINE
    assert "申し訳" in catalogs.translator("ja").gettext(DECLINE)
    assert "担当者" in catalogs.translator("ja").gettext(DECLINE)  # the offer of a person
    assert catalogs.has_catalog("ja")


def test_unknown_language_falls_back_to_the_default():
    catalogs = Catalogs.load(LOCALES, ["en", "ja"])
    assert catalogs.translator("xx").language == "en"


def test_waits_are_formatted_in_the_customers_language():
    catalogs = Catalogs.load(LOCALES, ["en", "ja", "ar"])
    assert catalogs.translator("en").format_wait(120) == "2 minutes"
    assert catalogs.translator("ja").format_wait(120) == "2 分"
    assert catalogs.translator("ar").direction == "rtl"


def test_translators_list_their_translated_messages(tmp_path):
    catalogs = Catalogs.load(LOCALES, ["en", "ja", "ar"])
    messages = catalogs.translator("ja").messages
    assert messages["Sending…"] == "送信中…"
    assert all(messages.values())
    assert catalogs.translator("en").messages == {}  # the source language translates nothing
    assert all(catalogs.translator("ar").messages.values())
    assert Catalogs.load(tmp_path, ["ar"]).translator("ar").messages == {}  # no catalog


def test_every_chat_language_has_a_catalog():
    assert set(catalog_languages()) == set(CHAT_LANGUAGES)


@pytest.mark.parametrize("language", catalog_languages())
def test_catalog_plural_forms_follow_cldr(language):
    from babel.messages.plurals import get_plural

    with po_path(LOCALES, language).open("rb") as handle:
        catalog = read_po(handle, locale=locale_id(language))
    expected = get_plural(locale_id(language))
    assert catalog.num_plurals == expected.num_plurals
    assert catalog.plural_expr == expected.plural_expr


def test_make_catalogs_takes_plural_forms_from_the_installed_babel(tmp_path):
    """`scripts/plural_forms.py` (run by `make catalogs`) rewrites a stale header, leaves the
    messages alone, and changes nothing the second time."""
    import shutil
    import subprocess
    import sys

    from babel.messages.plurals import get_plural

    locales = tmp_path / "locales"
    po = locales / "es" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    shutil.copy(po_path(LOCALES, "es"), po)
    text = po.read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith('"Plural-Forms:'))
    po.write_text(text.replace(header, '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"'), "utf-8")
    script = [sys.executable, str(ROOT / "scripts" / "plural_forms.py"), str(locales)]

    first = subprocess.run(script, capture_output=True, text=True, check=True)
    assert "es" in first.stdout
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="es")
    assert catalog.num_plurals == get_plural("es").num_plurals
    assert catalog.plural_expr == get_plural("es").plural_expr
    with po_path(LOCALES, "es").open("rb") as handle:
        original = read_po(handle, locale="es")
    assert {m.id: m.string for m in catalog} == {m.id: m.string for m in original}
    again = subprocess.run(script, capture_output=True, text=True, check=True)
    assert again.stdout == ""

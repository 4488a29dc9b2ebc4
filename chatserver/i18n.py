"""Gettext catalogs and locale formatting for every customer-facing string.

Catalogs are the `.po` files in `locales/<locale>/LC_MESSAGES/messages.po`, managed with
`pybabel extract/update` (see the Makefile). They are compiled in memory when loaded, once,
at start-up, so no binary `.mo` files live in the repository.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, in the customer's language."""
    return message


def locale_id(language: str) -> str:
    """Our BCP 47 tag to babel's identifier: zh-Hans -> zh_Hans."""
    return language.replace("-", "_")


@dataclass(frozen=True, slots=True)
class Translator:
    language: str
    locale: Locale
    translations: gettext.NullTranslations
    # The catalog's translated singular messages, msgid -> translation (the widget's strings).
    messages: Mapping[str, str] = field(default_factory=dict, compare=False)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def language_name(self, tag: str) -> str:
        """A language's name in this translator's language, as written inside a sentence
        ("Thai", "タイ語", "tailandés"; zh-Hant: "Traditional Chinese"); the tag if CLDR has none."""
        try:
            other = Locale.parse(locale_id(tag))
        except (ValueError, TypeError, UnknownLocaleError):
            return tag
        names = self.locale.languages
        scripted = f"{other.language}_{other.script}" if other.script else None
        return (scripted and names.get(scripted)) or names.get(other.language) or tag

    @property
    def direction(self) -> str:
        return "rtl" if self.locale.text_direction == "rtl" else "ltr"

    def format_wait(self, seconds: float) -> str:
        """A short, rounded duration in the customer's language ("about 2 minutes")."""
        return format_timedelta(
            timedelta(seconds=max(seconds, 1)),
            threshold=1.0,
            add_direction=False,
            locale=self.locale,
        )


class Catalogs:
    """Translators for the configured languages; English source strings when one is missing."""

    def __init__(self, translators: Mapping[str, Translator], default: str) -> None:
        self._translators = dict(translators)
        self.default = default

    @classmethod
    def load(cls, directory: Path, languages: Iterable[str], default: str = "en") -> Catalogs:
        translators: dict[str, Translator] = {}
        for language in languages:
            locale = Locale.parse(locale_id(language))
            translations, messages = _read(directory, language)
            translators[language] = Translator(language, locale, translations, messages)
        return cls(translators, default)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._translators)

    def has_catalog(self, language: str) -> bool:
        translator = self._translators.get(language)
        return (
            translator is not None and type(translator.translations) is not gettext.NullTranslations
        )

    def translator(self, language: str) -> Translator:
        return self._translators.get(language) or self._translators[self.default]


def po_path(directory: Path, language: str) -> Path:
    return directory / locale_id(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(directory: Path, language: str) -> tuple[gettext.NullTranslations, dict[str, str]]:
    """The compiled catalog, and its translated singular messages (fuzzy ones left out, as
    `write_mo` leaves them out)."""
    path = po_path(directory, language)
    if not path.is_file():
        return gettext.NullTranslations(), {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale_id(language), domain=DOMAIN)
    messages = {
        message.id: message.string
        for message in catalog
        if isinstance(message.id, str)
        and message.id
        and isinstance(message.string, str)
        and message.string
        and not message.fuzzy
    }
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer), messages

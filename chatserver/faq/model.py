"""The FAQ as loaded: entries per language, aligned by id, with English as the fallback.

Pure data; loading and validation live in `loader`, matching in `matcher`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from chatserver.models import Priority, Team

FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    language: str
    category: Team
    priority: Priority
    question: str
    variants: tuple[str, ...]
    answer: str
    # Set when this entry is another language's text standing in for a missing translation.
    fallback_from: str | None = None

    @property
    def phrasings(self) -> tuple[str, ...]:
        """Every way of asking this question that the FAQ knows: the question, then variants."""
        return (self.question, *self.variants)

    @property
    def is_fallback(self) -> bool:
        return self.fallback_from is not None


@dataclass(frozen=True, slots=True)
class Faq:
    """All languages of one FAQ directory. `by_language[lang][id]` holds native entries only."""

    by_language: Mapping[str, Mapping[str, FaqEntry]]
    # Per language: messages the desk does not handle (jokes, restaurants, stock tips), which
    # the matcher learns to decline.
    off_topic: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.by_language))

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(i for entries in self.by_language.values() for i in entries)

    def native(self, language: str) -> Mapping[str, FaqEntry]:
        return self.by_language.get(language, {})

    def entry(self, entry_id: str, language: str) -> FaqEntry | None:
        """The entry in `language`, or the English one marked as a fallback, or None."""
        own = self.native(language).get(entry_id)
        if own is not None:
            return own
        english = self.native(FALLBACK_LANGUAGE).get(entry_id)
        if english is None:
            return None
        return replace(english, language=language, fallback_from=FALLBACK_LANGUAGE)

    def missing(self, language: str) -> frozenset[str]:
        """Ids that exist somewhere in the FAQ but not in `language`."""
        return self.ids - self.native(language).keys()

    def __iter__(self) -> Iterator[FaqEntry]:
        for language in self.languages:
            yield from self.by_language[language].values()

"""Match a customer's question to FAQ entries: answer, suggest or decline.

Per language, at load time (`FaqMatcher(faq)`; a second or two for thousands of phrasings, so
the server builds it in a child process, keeps the build on disk and maps it: `build`,
`FaqMatcher.of_indexes`):

1. every phrasing becomes TF-IDF over in-word character 1-5-grams and word 1-2-grams
   (`vectorizer`);
2. a linear SVM learns the entries from their phrasings, and each entry gets a centroid
   (`classifier`);
3. cross-validation over the phrasings sets that language's answer and decline thresholds
   (`calibration`), so they follow the FAQ rather than constants tuned on test questions;
4. with the optional sentence encoder installed (`embedding`), every phrasing is also embedded:
   the ranking score adds a cross-validated multiple of the question's embedding similarity to
   each entry, and the decline similarity becomes the mean of the TF-IDF and embedding ones.

`match()` is pure and synchronous: normalise, count n-grams, one gather-and-dot over the
precomputed weights, a few comparisons: decline when the question is far from every entry,
or fairly far and no entry's SVM claims it; answer when the margin is large;
otherwise suggest the top three. A question equal (after normalisation) to a phrasing
is answered outright.

The sentence encoder is most of a match's CPU, so `match()` is a cascade: the TF-IDF/SVM
decision comes first, and the encoder runs only when that decision is not clearly the one the
blend would take. "Clearly" is calibrated per language with the other thresholds: the
TF-IDF-only margin and similarity at or above which held-out phrasings, and held-out
off-topic examples, get the blended outcome (answered, same entry) from the SVM alone at least
99.5% of the time (`Thresholds.cascade_margin`, `cascade_similarity`; `calibration`; a FAQ
without off-topic examples always runs the encoder). Such a question is answered from TF-IDF
alone: its `score` and `margin` are then the TF-IDF ones, and the related entries under the
answer the SVM's next best. An exact phrasing never runs the encoder either: the blend ranks
its related entries with the embedding of the FAQ's phrasing, stored at build time (the
customer's spelling may differ in case or punctuation, so near-tied related entries can swap).
Nor does an empty question. An exact phrasing's result depends on nothing but the phrasing,
so it is ranked at its first match and kept: at most one result per phrasing and language,
gone with the matcher when the FAQ is reloaded.
On deskbench the encoder ran for 134 of 330 messages, with the same outcomes.
`match()` is `pending()` then `PendingMatch.finish()`: the desk runs the two apart, so that
the questions of several customers that reach the encoder in one turn of the event loop
share one pass of it (`chatserver/faq/query_batch.py`).

Languages without a FAQ file are matched against the English phrasings; entries a language
lacks are learnt from their English phrasings. Either way the returned entry comes from
`Faq.entry`, so it is marked `is_fallback`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

import numpy as np

from chatserver.faq.calibration import Thresholds, calibrate, combined_similarity, rank_one
from chatserver.faq.classifier import EmbeddedEntries, EntryClassifier, train_classifier
from chatserver.faq.embedding import SentenceEncoder, default_encoder
from chatserver.faq.model import FALLBACK_LANGUAGE, Faq, FaqEntry
from chatserver.faq.normalize import normalize
from chatserver.models import Priority, Team

__all__ = [
    "MAX_RELATED",
    "MAX_SUGGESTIONS",
    "FaqMatcher",
    "LanguageIndex",
    "MatchOutcome",
    "MatchResult",
    "PendingMatch",
    "normalize",
]

MAX_SUGGESTIONS = 3  # the product's suggestion list: three buttons fit a chat bubble
MAX_RELATED = 2  # next-best topics under a direct answer


class MatchOutcome(StrEnum):
    """What a match tells the bot to do: answer (confident), suggest the top entries ("did
    you mean"), or decline (offer a person)."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    DECLINE = "decline"


@dataclass(frozen=True, slots=True)
class MatchResult:
    """What the bot needs to reply.

    `entry` is the answer (ANSWER) or the best candidate (SUGGEST, and DECLINE for logging);
    `suggestions` are the top entries, best first, for SUGGEST. `score` is the similarity
    of the question to the FAQ (0-1 cosine; 1.0 for an exact phrasing), `margin` how far the
    best entry leads the runner-up. `searched_language` is the FAQ language that was searched
    (English when `language` has no FAQ file).
    """

    outcome: MatchOutcome
    language: str
    score: float
    entry: FaqEntry | None
    suggestions: tuple[FaqEntry, ...] = ()
    margin: float = 0.0
    searched_language: str | None = None
    # With ANSWER: the next-best entries (at most `MAX_RELATED`), shown under the answer so a
    # customer whose question the answer missed can pick the right topic in one tap.
    related: tuple[FaqEntry, ...] = ()

    @property
    def priority(self) -> Priority | None:
        """Priority of the topic we believe the customer asks about (None when declined)."""
        if self.outcome is MatchOutcome.DECLINE or self.entry is None:
            return None
        return self.entry.priority

    @property
    def is_urgent(self) -> bool:
        """An answered or suggested topic marked `priority: urgent`: offer a human at once."""
        if self.outcome is MatchOutcome.DECLINE:
            return False
        candidates = (
            (self.entry, *self.suggestions)
            if self.outcome is MatchOutcome.SUGGEST
            else (self.entry,)
        )
        return any(e is not None and e.priority is Priority.URGENT for e in candidates)

    @property
    def team(self) -> Team | None:
        """Team owning the topic, for routing a handoff (None when declined)."""
        if self.outcome is MatchOutcome.DECLINE or self.entry is None:
            return None
        return self.entry.category

    @property
    def is_fallback(self) -> bool:
        """The entry is English text standing in for a missing translation."""
        return self.entry is not None and self.entry.is_fallback


# The class of the FAQ's `off_topic` examples; not a valid entry id, so it never collides.
OFF_TOPIC = "~off-topic"


@dataclass(frozen=True, slots=True)
class LanguageIndex:
    """Everything `match` needs for one FAQ language."""

    language: str
    classifier: EntryClassifier
    thresholds: Thresholds
    exact: Mapping[str, str]  # normalised phrasing -> entry id, unambiguous ones only
    off_topic: int | None = None  # column of the off-topic class, when the FAQ has examples
    # With embeddings: normalised phrasing in `exact` -> its embedding's row in
    # `classifier.embedded.matrix`, so an exact phrasing is ranked without the encoder.
    exact_rows: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class PendingMatch:
    """A question matched as far as TF-IDF goes. `embed` is the text `encoder` must embed
    (`encode_queries`) before `finish` can blend it in; None when the match needs no
    embedding (it is done). Several customers' questions can then be embedded in one pass
    (`chatserver/faq/query_batch.py`)."""

    embed: str | None
    encoder: SentenceEncoder | None
    _finish: Callable[[np.ndarray | None], MatchResult]

    def finish(self, vector: np.ndarray | None = None) -> MatchResult:
        """The result, with `vector`, the embedding of `embed` (None when `embed` is)."""
        if (vector is None) != (self.embed is None):
            raise ValueError("an embedding is given exactly when one is asked for")
        return self._finish(vector)


def _done(result: MatchResult) -> PendingMatch:
    return PendingMatch(None, None, lambda _vector: result)


def training_set(faq: Faq, language: str) -> tuple[list[str], list[str]]:
    """(phrasings, entry ids) one language learns from; none when it has no entry."""
    phrasings: list[str] = []
    labels: list[str] = []
    sources = [faq.native(language)]
    if language != FALLBACK_LANGUAGE:
        english = faq.native(FALLBACK_LANGUAGE)
        sources.append({i: e for i, e in english.items() if i not in faq.native(language)})
    for entries in sources:
        for entry in entries.values():
            for phrasing in entry.phrasings:
                phrasings.append(phrasing)
                labels.append(entry.id)
    if not phrasings:
        return [], []
    examples = faq.off_topic.get(language) or faq.off_topic.get(FALLBACK_LANGUAGE, ())
    phrasings.extend(examples)
    labels.extend(OFF_TOPIC for _ in examples)
    return phrasings, labels


class _EmbeddedOnce:
    """Every language's phrasings embedded in one `encode` call (the on-disk store is read
    once per build, not per language), then handed out per language."""

    def __init__(self, encoder: SentenceEncoder, texts: Sequence[str]) -> None:
        self.dimension = encoder.dimension
        self._encoder = encoder
        self._row = {text: row for row, text in enumerate(dict.fromkeys(texts))}
        self._vectors = encoder.encode(list(self._row)) if self._row else None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._vectors is None or any(t not in self._row for t in texts):
            return self._encoder.encode(texts)
        return self._vectors[[self._row[t] for t in texts]]

    def encode_one(self, text: str) -> np.ndarray:
        return self._encoder.encode_one(text)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encoder.encode_queries(texts)


def build_index(
    faq: Faq, language: str, encoder: SentenceEncoder | None = None
) -> LanguageIndex | None:
    """Train and calibrate one language; English phrasings cover the ids it lacks, English
    off-topic examples a language without its own."""
    phrasings, labels = training_set(faq, language)
    if not phrasings:
        return None
    classifier, tf, y = train_classifier(phrasings, labels)
    ids = classifier.entry_ids
    off_topic = ids.index(OFF_TOPIC) if OFF_TOPIC in ids else None
    embeddings = encoder.encode(phrasings) if encoder is not None else None
    thresholds = calibrate(tf, y, len(classifier.entry_ids), embeddings, off_topic)
    if embeddings is not None:
        embedded = EmbeddedEntries.of(embeddings, y, len(classifier.entry_ids))
        classifier = replace(classifier, embedded=embedded, blend=thresholds.blend)
    normalized = [normalize(phrasing) for phrasing in phrasings]
    owners: dict[str, set[str]] = {}
    for text, label in zip(normalized, labels, strict=True):
        owners.setdefault(text, set()).add(label)
    exact = {text: next(iter(ids)) for text, ids in owners.items() if len(ids) == 1 and text}
    rows: dict[str, int] = {}
    if embeddings is not None:  # `EmbeddedEntries.of` stacks the centroids, then by entry
        position = np.empty(len(y), dtype=np.intp)
        position[np.argsort(y, kind="stable")] = np.arange(len(y))
        for i, text in enumerate(normalized):
            if text in exact and exact[text] != OFF_TOPIC:
                rows.setdefault(text, len(classifier.entry_ids) + int(position[i]))
    return LanguageIndex(
        language,
        classifier,
        thresholds,
        MappingProxyType(exact),
        off_topic,
        MappingProxyType(rows),
    )


class FaqMatcher:
    """Built once per FAQ load; `match` only reads precomputed data."""

    def __init__(self, faq: Faq, encoder: SentenceEncoder | bool | None = True) -> None:
        """`encoder`: True = the default sentence encoder when installed, None/False = none."""
        self.faq = faq
        if encoder is True:
            encoder = default_encoder()
        self._encoder: SentenceEncoder | None = encoder or None
        batch = self._encoder and _EmbeddedOnce(
            self._encoder,
            [text for language in faq.languages for text in training_set(faq, language)[0]],
        )
        indexes = {}
        for language in faq.languages:
            index = build_index(faq, language, batch)
            if index is not None:
                indexes[language] = index
        self._indexes: Mapping[str, LanguageIndex] = MappingProxyType(indexes)
        self._exact_results: dict[tuple[str, str], MatchResult] = {}

    @classmethod
    def of_indexes(
        cls,
        faq: Faq,
        indexes: Mapping[str, LanguageIndex],
        encoder: SentenceEncoder | None = None,
    ) -> FaqMatcher:
        """A matcher over indexes built before (`build`, in another process), answering from
        `faq` and encoding questions with this process's `encoder`."""
        matcher = cls.__new__(cls)
        matcher.faq = faq
        matcher._encoder = encoder
        matcher._indexes = MappingProxyType(dict(indexes))
        matcher._exact_results = {}
        return matcher

    @property
    def indexes(self) -> Mapping[str, LanguageIndex]:
        """Per FAQ language: the model and its calibrated thresholds (for `faq check`)."""
        return self._indexes

    @staticmethod
    def _handicapped(index: LanguageIndex, decision: np.ndarray) -> np.ndarray:
        """`decision` with the off-topic class held back by its calibrated handicap."""
        if index.off_topic is not None:
            decision[index.off_topic] -= np.float32(index.thresholds.off_topic_handicap)
        return decision

    def match(self, text: str, language: str) -> MatchResult:
        """Answer, suggest or decline `text` asked in `language`."""
        pending = self.pending(text, language)
        if pending.embed is None or pending.encoder is None:
            return pending.finish()
        return pending.finish(pending.encoder.encode_one(pending.embed))

    def pending(self, text: str, language: str) -> PendingMatch:
        """`match` up to the sentence encoder, which the caller may run for several
        questions at once."""
        index = self._indexes.get(language) or self._indexes.get(FALLBACK_LANGUAGE)
        if index is None:
            return _done(MatchResult(MatchOutcome.DECLINE, language, 0.0, None))
        searched = index.language
        query = normalize(text)
        if not query:
            return _done(
                MatchResult(MatchOutcome.DECLINE, language, 0.0, None, searched_language=searched)
            )
        exact = index.exact.get(query)
        if exact == OFF_TOPIC:
            return _done(
                MatchResult(MatchOutcome.DECLINE, language, 1.0, None, searched_language=searched)
            )
        if exact is not None:
            # A phrasing of the FAQ: its answer and related entries depend on nothing else,
            # so it is ranked once and kept (at most one result per phrasing and language).
            # Its embedding was stored at build time.
            key = (language, query)
            kept = self._exact_results.get(key)
            if kept is None:
                embedded = index.classifier.embedded
                row = index.exact_rows.get(query)
                vector = None if embedded is None or row is None else embedded.matrix[row]
                finish, _ = self._ranked(index, language, query, exact)
                kept = self._exact_results[key] = finish(vector)
            return _done(kept)
        finish, wants = self._ranked(index, language, query, None)
        return (
            PendingMatch(text, self._encoder, finish) if wants else PendingMatch(None, None, finish)
        )

    def _ranked(
        self, index: LanguageIndex, language: str, query: str, exact: str | None
    ) -> tuple[Callable[[np.ndarray | None], MatchResult], bool]:
        """`pending` for a normalised, non-empty `query` that is not an off-topic phrasing
        (`exact`: the entry it is a phrasing of, if any): the step that blends in an
        embedding (an exact phrasing's stored one), and whether the encoder must run."""
        classifier = index.classifier
        thresholds = index.thresholds
        svm, cosine, _ = classifier.scores(query)
        decision = self._handicapped(index, svm.copy())
        best, margin, top_score = rank_one(decision)
        similarity = float(cosine.max())  # `combined_similarity` without embeddings
        # The cascade: the sentence encoder runs only when the TF-IDF-only decision is not
        # clearly the blended one; an exact phrasing is blended with its stored embedding.
        cascaded = exact is None and thresholds.cascades(
            float(margin), similarity, best == index.off_topic
        )

        def finish(vector: np.ndarray | None) -> MatchResult:
            nonlocal svm, decision, best, margin, top_score, similarity
            if vector is not None and classifier.embedded is not None:
                embedded = classifier.embedded.similarity(vector[np.newaxis])
                if classifier.blend:
                    svm += np.float32(classifier.blend) * embedded[0]
                decision = self._handicapped(index, svm)
                best, margin, top_score = rank_one(decision)
                similarity = float(combined_similarity(cosine[np.newaxis, :], embedded)[0])
            return self._result(
                index, language, exact, decision, best, margin, top_score, similarity, cascaded
            )

        wants = (
            exact is None
            and not cascaded
            and classifier.embedded is not None
            and self._encoder is not None
        )
        return finish, wants

    def _result(
        self,
        index: LanguageIndex,
        language: str,
        exact: str | None,
        decision: np.ndarray,
        best: int,
        margin: np.float32,
        top_score: np.float32,
        similarity: float,
        cascaded: bool,
    ) -> MatchResult:
        """The outcome of a ranking: an exact phrasing's answer, a decline, an answer or
        suggestions."""
        searched = index.language
        thresholds = index.thresholds
        ids = index.classifier.entry_ids
        entries = decision.copy()
        if index.off_topic is not None:
            entries[index.off_topic] = -np.inf
        top = np.argsort(-entries, kind="stable")[:MAX_SUGGESTIONS]  # off topic (-inf) is last
        top = top[np.isfinite(entries[top])]
        suggestions = tuple(
            e for e in (self.faq.entry(ids[int(i)], language) for i in top) if e is not None
        )
        if exact is not None:
            entry = self.faq.entry(exact, language)
            related = tuple(e for e in suggestions if e.id != exact)[:MAX_RELATED]
            return MatchResult(
                MatchOutcome.ANSWER, language, 1.0, entry, (), float(margin), searched, related
            )
        if not cascaded and (
            best == index.off_topic or thresholds.declines(similarity, float(top_score))
        ):
            first = suggestions[0] if suggestions else None
            return MatchResult(
                MatchOutcome.DECLINE, language, similarity, first, (), float(margin), searched
            )
        entry = self.faq.entry(ids[int(best)], language)
        if cascaded or margin >= thresholds.answer_margin:
            related = tuple(e for e in suggestions if e.id != ids[int(best)])[:MAX_RELATED]
            return MatchResult(
                MatchOutcome.ANSWER,
                language,
                similarity,
                entry,
                (),
                float(margin),
                searched,
                related,
            )
        return MatchResult(
            MatchOutcome.SUGGEST, language, similarity, entry, suggestions, float(margin), searched
        )

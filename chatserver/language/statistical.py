"""Statistical language models, restricted to the languages the product supports.

Restriction matters: a model that may answer Afrikaans or Galician for "goed" or "bom dia" is wrong for
us even when it is linguistically right. Every model here maps text to a probability per ISO 639-1
code
among the candidates it was built for.

* `LinguaModel` – lingua-language-detector (character 1–5-grams, the strongest library on short
text).
* `LangdetectModel` – langdetect, seeded so the same text gives the same answer in every process.
* `WordFrequencyModel` + `EnsembleModel` – whole-word frequencies from `wordfreq` combined with a
base
  model. Single words and word pairs are where n-gram models are weakest and where knowing that "obrigado"
  is a frequent Portuguese word (and a non-word in Spanish) decides the case.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Protocol

import langdetect
from langdetect.detector_factory import DetectorFactory
from langdetect.lang_detect_exception import LangDetectException
from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
from wordfreq import available_languages, read_cBpack

from chatserver.cache import load_plain, store_plain

#: Weight of the word evidence against the base model's log-probability, divided by sqrt(word
#: count):
#: decisive for one or two words, while on sentences the n-gram model (already sure) keeps the lead.
#: Measured robust from 0.2 to 0.5 (bench figures in docs/benchmarks.md).
WORD_WEIGHT = 0.4

#: Frequency given to a word a list does not contain. wordfreq's "small" lists stop at 1e-6, so an
#: absent word is rarer than that in the language, yet not impossible (names, typos, rare
#: inflections).
WORD_FLOOR = 1e-7

#: Floor added to the base model's probabilities before taking logs, so a zero from the base model
#: (lingua rules a language out on one unusual letter) can still be outvoted by strong word
#: evidence.
BASE_FLOOR = 1e-3

#: The most the base model can move two languages' scores apart: one at probability 1, the other
#: at 0, both floored. Word evidence beyond this settles the order whatever the base model says.
BASE_SPAN = math.log((1.0 + BASE_FLOOR) / BASE_FLOOR)

#: Characters of the message the base model reads when word evidence backs it up. lingua's time
#: grows
#: with length (1-5-grams below 120 characters) while its verdict is settled by ~60 characters; the
#: word
#: model still reads the whole message. Bench: sentence accuracy -0.03 points, p99 -45 %.
BASE_MAX_CHARS = 60

#: At most this many words are scored; beyond that the n-gram model has long made up its mind.
MAX_WORDS = 48

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


class StatisticalModel(Protocol):
    """What the detector needs from a statistical model."""

    @property
    def languages(self) -> tuple[str, ...]:
        """ISO 639-1 codes this model can name."""
        ...

    def probabilities(self, text: str) -> dict[str, float]:
        """Probability per language code; empty or all zero when the text gives the model nothing."""
        ...


class LinguaModel:
    """lingua-language-detector restricted to `languages`, models preloaded at construction."""

    def __init__(self, languages: Sequence[str], *, low_accuracy: bool = False) -> None:
        by_language: dict[Language, str] = {}
        for code in languages:
            try:
                by_language[Language.from_iso_code_639_1(IsoCode639_1.from_str(code))] = code
            except ValueError:
                continue  # lingua does not know it: the other stages still can name it
        if len(by_language) < 2:
            raise ValueError(
                f"lingua needs two or more known languages, got {sorted(by_language.values())}"
            )
        builder = LanguageDetectorBuilder.from_languages(
            *by_language
        ).with_preloaded_language_models()
        if low_accuracy:
            builder = builder.with_low_accuracy_mode()
        self._detector = builder.build()
        self._codes = by_language
        self._languages = tuple(code for code in languages if code in by_language.values())

    @property
    def languages(self) -> tuple[str, ...]:
        return self._languages

    def probabilities(self, text: str) -> dict[str, float]:
        values = self._detector.compute_language_confidence_values(text)
        return {self._codes[cv.language]: cv.value for cv in values}


#: langdetect names Chinese by variant; everything else by its ISO 639-1 code.
_LANGDETECT_PROFILES: Mapping[str, tuple[str, ...]] = {"zh": ("zh-cn", "zh-tw")}


class LangdetectModel:
    """langdetect restricted to `languages` (None: all 55 profiles), seeded for reproducible answers.

    langdetect samples n-grams at random; the seed lives on our own DetectorFactory, so it is
    neither
    global state nor shared with other users of langdetect in the process.
    """

    def __init__(self, languages: Sequence[str] | None, *, seed: int = 0) -> None:
        profile_dir = Path(langdetect.__file__).parent / "profiles"
        available = sorted(p.name for p in profile_dir.iterdir() if not p.name.startswith("."))
        wanted = available if languages is None else [
            name for code in languages for name in _LANGDETECT_PROFILES.get(code, (code,)) if name
            in available
        ]  # fmt: skip
        if len(wanted) < 2:
            raise ValueError(f"langdetect needs two or more known languages, got {wanted}")
        factory = DetectorFactory()
        factory.seed = seed
        factory.load_json_profile(
            [(profile_dir / name).read_text(encoding="utf-8") for name in wanted]
        )
        self._factory = factory
        self._languages = tuple(dict.fromkeys(name.split("-", 1)[0] for name in wanted))

    @property
    def languages(self) -> tuple[str, ...]:
        return self._languages

    def probabilities(self, text: str) -> dict[str, float]:
        detector = self._factory.create()
        detector.append(text)
        try:
            ranked = detector.get_probabilities()
        except LangDetectException:  # no usable n-grams in the text
            return {}
        out: dict[str, float] = {}
        for item in ranked:
            code = str(item.lang).split("-", 1)[0]
            out[code] = out.get(code, 0.0) + float(item.prob)
        return out


def prefix(text: str, limit: int) -> str:
    """The first `limit` characters, cut back to a word boundary when one is near."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


def words(text: str) -> list[str]:
    """Lower-cased words as wordfreq lists them (apostrophes unified, Turkish dotted İ folded)."""
    return [w.lower().replace("’", "'").replace("\u0307", "") for w in _WORD.findall(text)][
        :MAX_WORDS
    ]


class WordFrequencyModel:
    """Per-language word frequencies from wordfreq's "small" lists (words at or above 1e-6).

    One table maps each word to a tuple of log-frequencies, one per language. Identical tuples are
    shared, so the common case (a word listed in one language only) costs a dictionary slot, and a
    message is scored by summing a few tuples column-wise.
    """

    def __init__(self, languages: Sequence[str]) -> None:
        paths = available_languages("small")
        self._languages = tuple(code for code in dict.fromkeys(languages) if code in paths)
        self._unknown = (math.log(WORD_FLOOR),) * len(self._languages)
        # Building the table reads 1.9 million (word, language) pairs, about 2.5 s of a
        # start; loading it from the cache directory takes a tenth of that.
        name = _table_file(self._languages)
        cached = load_plain(name)
        if isinstance(cached, dict) and _looks_like_table(cached, len(self._languages)):
            self._table: dict[str, tuple[float, ...]] = cached
            return
        self._table = _word_table(self._languages, paths)
        store_plain(name, self._table)

    @property
    def languages(self) -> tuple[str, ...]:
        return self._languages

    def _vector(self, word: str) -> tuple[float, ...] | None:
        found = self._table.get(word)
        if found is not None or "'" not in word:
            return found
        # French and Italian lists split elisions (l'homme -> l, homme): average the parts.
        parts = [self._table.get(p, self._unknown) for p in word.split("'") if p]
        return (
            tuple(sum(column) / len(parts) for column in zip(*parts, strict=True))
            if parts
            else None
        )

    def log_likelihoods(self, tokens: Sequence[str]) -> dict[str, float]:
        """Sum of log word frequencies per language that has a list.

        Words no list knows are skipped: they would add the same floor to every language.
        """
        vectors = [v for v in map(self._vector, tokens) if v is not None]
        if not vectors:
            return dict.fromkeys(self._languages, 0.0)
        return dict(zip(self._languages, map(math.fsum, zip(*vectors, strict=True)), strict=True))


def _word_table(languages: Sequence[str], paths: Mapping[str, str]) -> dict[str, tuple[float, ...]]:
    """Each listed word's log-frequency in every language (the floor where it is absent)."""
    unknown = math.log(WORD_FLOOR)
    # Bin index = -centibels: every word in bin `cb` has frequency 10 ** (-cb / 100).
    log_frequency = [math.log(10 ** (-cb / 100) + WORD_FLOOR) for cb in range(1000)] + [unknown]
    missing = len(log_frequency) - 1
    bins_by_language = [
        {word: cb for cb, bin_words in enumerate(read_cBpack(paths[code])) for word in bin_words}
        for code in languages
    ]
    shared: dict[tuple[float, ...], tuple[float, ...]] = {}
    table: dict[str, tuple[float, ...]] = {}
    for bins in bins_by_language:
        for word in bins:
            if word not in table:
                row = tuple(
                    log_frequency[min(b.get(word, missing), missing)] for b in bins_by_language
                )
                table[word] = shared.setdefault(row, row)
    return table


# Bumped whenever `_word_table` computes something else from the same lists.
_TABLE_FORMAT = 1


def _table_file(languages: Sequence[str]) -> str:
    """The cache file of one table: its inputs (the wordfreq release, the languages, the
    floor and the format) in its name, so a change of any of them never reads a stale one."""
    key = repr((_TABLE_FORMAT, metadata.version("wordfreq"), tuple(languages), WORD_FLOOR))
    return f"wordfreq-table-{hashlib.sha256(key.encode()).hexdigest()[:20]}.pickle"


def _looks_like_table(table: dict[object, object], width: int) -> bool:
    """A cheap check of a loaded table's shape (a sample of its rows)."""
    for count, (word, row) in enumerate(table.items()):
        if count == 64:
            break
        if not (isinstance(word, str) and isinstance(row, tuple) and len(row) == width):
            return False
    return bool(table)


class EnsembleModel:
    """Product of experts: a base model's log-probability plus down-weighted word log-likelihoods."""

    def __init__(self, base: StatisticalModel, word_model: WordFrequencyModel) -> None:
        self._base = base
        self._words = word_model

    @property
    def languages(self) -> tuple[str, ...]:
        return self._base.languages

    def max_log_odds(self, text: str, against: str) -> float | None:
        """The most any other language's score can exceed `against`'s on `text`, whatever the
        base model says (`BASE_SPAN` plus the word evidence): a bound, from dictionary lookups
        alone, that lets a caller skip the base model when no answer of it could matter.
        None when `against` is not one of the model's languages."""
        if against not in self.languages:
            return None
        tokens = words(text)
        if not tokens:
            return BASE_SPAN
        weight = WORD_WEIGHT / math.sqrt(len(tokens))
        likelihoods = self._words.log_likelihoods(tokens)
        known = [likelihoods[c] for c in self.languages if c in likelihoods]
        neutral = sum(known) / len(known) if known else 0.0
        own = likelihoods.get(against, neutral)
        others = [likelihoods.get(c, neutral) for c in self.languages if c != against]
        return BASE_SPAN + weight * (max(others) - own) if others else BASE_SPAN

    def probabilities(self, text: str) -> dict[str, float]:
        base = self._base.probabilities(prefix(text, BASE_MAX_CHARS))
        if not any(base.values()):
            return base
        scores = {code: math.log(base.get(code, 0.0) + BASE_FLOOR) for code in self.languages}
        tokens = words(text)
        if tokens:
            weight = WORD_WEIGHT / math.sqrt(len(tokens))
            likelihoods = self._words.log_likelihoods(tokens)
            known = [likelihoods[c] for c in self.languages if c in likelihoods]
            neutral = (
                sum(known) / len(known) if known else 0.0
            )  # languages without a list stay neutral
            for code in self.languages:
                scores[code] += weight * likelihoods.get(code, neutral)
        top = max(scores.values())
        exp = {code: math.exp(s - top) for code, s in scores.items()}
        total = sum(exp.values())
        return {code: v / total for code, v in exp.items()}


#: Backend names accepted by `build_model`; "auto" is the measured best (see docs/benchmarks.md).
BACKENDS: tuple[str, ...] = (
    "auto",
    "lingua+words",
    "lingua",
    "lingua-low",
    "langdetect",
    "langdetect+words",
)
DEFAULT_BACKEND = "lingua+words"


def build_model(
    backend: str, languages: Sequence[str], *, seed: int = 0
) -> tuple[str, StatisticalModel]:
    """Build the named backend over `languages`; return (resolved name, model)."""
    name = DEFAULT_BACKEND if backend == "auto" else backend
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    base_name, _, extra = name.partition("+")
    base: StatisticalModel
    if base_name == "langdetect":
        base = LangdetectModel(languages, seed=seed)
    else:
        base = LinguaModel(languages, low_accuracy=base_name == "lingua-low")
    if extra == "words":
        base = EnsembleModel(base, WordFrequencyModel(base.languages))
    return name, base

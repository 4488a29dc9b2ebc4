"""Read and validate a FAQ directory (`<lang>.yaml` files) into a `Faq`.

Every mistake is reported with the file, the entry and the field, so whoever edits the
FAQ can fix it without reading code. Exceptions::

    FaqError                 the directory cannot be loaded at all, or has invalid entries
      .problems: list[FaqProblem]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from chatserver.faq.model import Faq, FaqEntry
from chatserver.models import Priority, Team

ENTRY_KEYS = frozenset({"id", "category", "priority", "question", "variants", "answer"})
REQUIRED_KEYS = ("id", "category", "priority", "question", "answer")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
# Generous upper bounds: they catch pasted documents, not long answers.
MAX_QUESTION_CHARS = 500
MAX_ANSWER_CHARS = 5000

_E = TypeVar("_E", Team, Priority)
# libyaml's parser when PyYAML was built with it: about ten times faster on a large FAQ.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class FaqProblem:
    file: str
    entry: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.entry is not None:
            where.append(f"entry {self.entry}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{': '.join(where)}: {self.message}"


class FaqError(Exception):
    def __init__(self, problems: list[FaqProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"the FAQ has {len(problems)} problem(s):\n{lines}")


@dataclass(frozen=True, slots=True)
class LoadResult:
    faq: Faq
    problems: tuple[FaqProblem, ...]  # only non-empty when invalid entries were skipped


def load_faq(directory: Path | str, *, skip_invalid: bool = False) -> LoadResult:
    """Load every `*.yaml` in `directory`.

    With `skip_invalid`, bad entries are left out and reported in `problems`; without it, any
    problem raises FaqError. A file that cannot be parsed at all always raises.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FaqError([FaqProblem(str(root), None, None, "is not a directory")])
    files = sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
    if not files:
        raise FaqError([FaqProblem(str(root), None, None, "contains no .yaml files")])

    fatal: list[FaqProblem] = []
    skipped: list[FaqProblem] = []
    by_language: dict[str, dict[str, FaqEntry]] = {}
    off_topic: dict[str, tuple[str, ...]] = {}
    for path in files:
        language, entries, examples, file_problems, entry_problems = _load_file(path)
        fatal.extend(file_problems)
        skipped.extend(entry_problems)
        if language is None:
            continue
        if language in by_language:
            fatal.append(FaqProblem(str(path), None, "language", f"{language!r} is defined twice"))
            continue
        by_language[language] = entries
        if examples:
            off_topic[language] = examples

    if fatal or (skipped and not skip_invalid):
        raise FaqError(fatal + skipped)
    return LoadResult(Faq(by_language, off_topic), tuple(skipped))


_FileResult = tuple[
    str | None, dict[str, FaqEntry], tuple[str, ...], list[FaqProblem], list[FaqProblem]
]


def _load_file(path: Path) -> _FileResult:
    name = str(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
    except (OSError, UnicodeDecodeError) as exc:
        return None, {}, (), [FaqProblem(name, None, None, f"cannot be read: {exc}")], []
    except yaml.YAMLError as exc:
        detail = str(exc).replace("\n", " ")
        return None, {}, (), [FaqProblem(name, None, None, f"is not valid YAML: {detail}")], []
    if not isinstance(document, dict):
        return (
            None,
            {},
            (),
            [FaqProblem(name, None, None, "must be a mapping with 'language' and 'entries'")],
            [],
        )

    file_problems: list[FaqProblem] = []
    unknown = set(document) - {"language", "off_topic", "entries"}
    if unknown:
        file_problems.append(
            FaqProblem(name, None, ", ".join(sorted(map(str, unknown))), "unknown top-level key")
        )
    language = document.get("language")
    if not isinstance(language, str) or not language.strip():
        file_problems.append(FaqProblem(name, None, "language", "must be a language tag"))
        return None, {}, (), file_problems, []
    if language != path.stem:
        file_problems.append(
            FaqProblem(name, None, "language", f"{language!r} does not match the file name")
        )
    raw_entries = document.get("entries")
    if not isinstance(raw_entries, list):
        file_problems.append(FaqProblem(name, None, "entries", "must be a list of entries"))
        return None, {}, (), file_problems, []

    entries: dict[str, FaqEntry] = {}
    entry_problems: list[FaqProblem] = []
    for index, raw in enumerate(raw_entries, start=1):
        entry, problems = _parse_entry(name, language, index, raw)
        if entry is not None and entry.id in entries:
            problems.append(FaqProblem(name, f"{entry.id!r} (#{index})", "id", "duplicate id"))
            entry = None
        entry_problems.extend(problems)
        if entry is not None and not problems:
            entries[entry.id] = entry
    examples = _off_topic(name, document.get("off_topic"), file_problems)
    return language, entries, examples, file_problems, entry_problems


def _off_topic(file: str, raw: Any, problems: list[FaqProblem]) -> tuple[str, ...]:
    """The `off_topic` examples: a list of texts (optional)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(FaqProblem(file, None, "off_topic", "must be a list of texts"))
        return ()
    examples: list[str] = []
    for position, item in enumerate(raw, start=1):
        text = _text(item, MAX_QUESTION_CHARS)
        if text is None:
            problems.append(
                FaqProblem(
                    file,
                    None,
                    f"off_topic[{position}]",
                    f"must be non-empty text of at most {MAX_QUESTION_CHARS} characters",
                )
            )
        else:
            examples.append(text)
    return tuple(dict.fromkeys(examples))


def _parse_entry(
    file: str, language: str, index: int, raw: Any
) -> tuple[FaqEntry | None, list[FaqProblem]]:
    label = f"#{index}"
    if not isinstance(raw, dict):
        return None, [FaqProblem(file, label, None, "must be a mapping")]
    entry_id = raw.get("id")
    if isinstance(entry_id, str):
        label = f"{entry_id!r} (#{index})"
    problems: list[FaqProblem] = []

    def problem(field_name: str, message: str) -> None:
        problems.append(FaqProblem(file, label, field_name, message))

    for key in sorted(set(map(str, raw)) - ENTRY_KEYS):
        problem(key, "unknown field")
    for key in REQUIRED_KEYS:
        if key not in raw:
            problem(key, "is required")
    if problems:
        return None, problems

    if not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id):
        problem("id", "must be lowercase letters, digits, '-' or '_' (at most 80)")
    category = _enum(raw["category"], Team)
    if category is None:
        problem("category", f"must be one of {', '.join(Team)}")
    priority = _enum(raw["priority"], Priority)
    if priority is None:
        problem("priority", f"must be one of {', '.join(Priority)}")
    question = _text(raw["question"], MAX_QUESTION_CHARS)
    if question is None:
        problem("question", f"must be non-empty text of at most {MAX_QUESTION_CHARS} characters")
    answer = _text(raw["answer"], MAX_ANSWER_CHARS)
    if answer is None:
        problem("answer", f"must be non-empty text of at most {MAX_ANSWER_CHARS} characters")
    variants: list[str] = []
    raw_variants = raw.get("variants", [])
    if raw_variants is None:
        raw_variants = []
    if not isinstance(raw_variants, list):
        problem("variants", "must be a list of texts")
    else:
        for position, item in enumerate(raw_variants, start=1):
            text = _text(item, MAX_QUESTION_CHARS)
            if text is None:
                problem(f"variants[{position}]", "must be non-empty text")
            else:
                variants.append(text)
    if problems:
        return None, problems
    if not (isinstance(entry_id, str) and category and priority and question and answer):
        raise AssertionError("validated above")  # narrows the types for mypy
    return (
        FaqEntry(
            id=entry_id,
            language=language,
            category=category,
            priority=priority,
            question=question,
            variants=tuple(variants),
            answer=answer.strip(),
        ),
        problems,
    )


def _enum(value: Any, kind: type[_E]) -> _E | None:
    try:
        return kind(value)
    except ValueError:
        return None


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # YAML reads a bare "404" as a number
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        return None
    return value.strip()


def coverage(faq: Faq) -> Mapping[str, Mapping[str, Any]]:
    """Per language: entries, variants, off-topic examples and the ids it lacks (for
    `chatserver faq check`)."""
    report: dict[str, dict[str, Any]] = {}
    for language in faq.languages:
        native = faq.native(language)
        report[language] = {
            "entries": len(native),
            "variants": sum(len(e.variants) for e in native.values()),
            "off_topic": len(faq.off_topic.get(language, ())),
            "missing": sorted(faq.missing(language)),
        }
    return report

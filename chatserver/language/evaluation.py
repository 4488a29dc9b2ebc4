"""Accuracy and latency of a detector on labelled cases (pure; the CLI and bench do the file I/O).

Labels are ISO 639-1 codes ("zh"), predictions are product tags ("zh-Hant"), so both are compared by
base language. Indonesian and Malay are also scored merged, because Malay web text is largely
Indonesian (the labels themselves disagree with every detector there).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from .detector import Detection
from .tags import base_language

#: Languages scored as one in the "merged" figures: Leipzig's Malay web text is mostly Indonesian.
MERGED_LANGUAGES = frozenset({"id", "ms"})

#: Kinds in report order; unknown kinds follow alphabetically.
KIND_ORDER: tuple[str, ...] = ("sentence", "word-pair", "word")

#: Upper bounds of the confidence buckets in the calibration table.
CALIBRATION_EDGES: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95, 0.99, 1.0)

#: Cases detected once, untimed, before timing starts: first calls pay for lazy caches.
WARMUP_CASES = 50

#: Most frequent confusions listed in the report.
TOP_CONFUSIONS = 12


class SupportsDetect(Protocol):
    """Anything with a `detect(text)` returning a Detection (our detector or a wrapped library)."""

    def detect(self, text: str) -> Detection: ...


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled message."""

    text: str
    lang: str  # ISO 639-1 label
    kind: str  # sentence | word-pair | word


def parse_cases(lines: Iterable[str]) -> Iterator[Case]:
    """Parse JSON lines {"text", "lang", "kind"}; blank lines are skipped, bad lines raise ValueError."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            yield Case(
                text=str(record["text"]),
                lang=str(record["lang"]),
                kind=str(record.get("kind", "sentence")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {number}: not a case: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Score:
    """Counts for one slice of the cases."""

    n: int
    strict: int
    merged: int

    @property
    def strict_accuracy(self) -> float:
        return self.strict / self.n if self.n else 0.0

    @property
    def merged_accuracy(self) -> float:
        return self.merged / self.n if self.n else 0.0


@dataclass(frozen=True, slots=True)
class Latency:
    """Wall-clock time of one detect() call, microseconds."""

    p50: float
    p99: float
    max: float


@dataclass(frozen=True, slots=True)
class CalibrationBucket:
    """Cases whose confidence fell in [low, high) and how many of them were right (strict)."""

    low: float
    high: float
    n: int
    correct: int


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Everything `evaluate` measured; `to_json` for machines, `to_markdown` for people."""

    detector: str
    by_kind: tuple[tuple[str, Score], ...]
    by_language: tuple[tuple[str, tuple[tuple[str, Score], ...]], ...]
    latency: tuple[tuple[str, Latency], ...]  # "all" first, then per kind
    confusions: tuple[tuple[str, str, int], ...]  # (label, predicted base language, count), strict
    calibration: tuple[CalibrationBucket, ...]

    @property
    def cases(self) -> int:
        return sum(score.n for _, score in self.by_kind)

    def kind(self, kind: str) -> Score:
        """Score for one kind (zero counts if absent)."""
        return dict(self.by_kind).get(kind, Score(0, 0, 0))

    def latency_of(self, kind: str = "all") -> Latency:
        return dict(self.latency).get(kind, Latency(0.0, 0.0, 0.0))

    def to_json(self) -> dict[str, object]:
        def score(s: Score) -> dict[str, object]:
            return {
                "n": s.n,
                "strict": round(s.strict_accuracy, 4),
                "merged_id_ms": round(s.merged_accuracy, 4),
            }

        return {
            "detector": self.detector,
            "cases": self.cases,
            "by_kind": {k: score(s) for k, s in self.by_kind},
            "by_language": {lang: {k: score(s) for k, s in kinds} for lang, kinds in self.by_language},
            "latency_us": {k: {"p50": round(v.p50, 1), "p99": round(v.p99, 1), "max": round(v.max, 1)}
                           for k, v in self.latency},
            "confusions": [{"label": a, "predicted": b, "count": n} for a, b, n in self.confusions],
            "calibration": [{"low": b.low, "high": b.high, "n": b.n, "correct": b.correct} for b in self.calibration],
        }  # fmt: skip

    def to_markdown(self) -> str:
        kinds = [k for k, _ in self.by_kind]
        lines = [
            f"### {self.detector} ({self.cases} cases)",
            "",
            "| kind | n | strict | id=ms merged | p50 µs | p99 µs |",
            "|---|---|---|---|---|---|",
        ]
        for kind, s in self.by_kind:
            lat = self.latency_of(kind)
            accuracy = f"{s.strict_accuracy:.3f} | {s.merged_accuracy:.3f}"
            lines.append(f"| {kind} | {s.n} | {accuracy} | {lat.p50:.0f} | {lat.p99:.0f} |")
        total = self.latency_of()
        lines += [
            "",
            f"All messages: p50 {total.p50:.0f} µs, p99 {total.p99:.0f} µs, max {total.max:.0f} µs.",
            "",
        ]
        lines += ["| lang | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        for lang, by in self.by_language:
            scores = dict(by)
            cells = [f"{scores[k].strict_accuracy:.2f}" if k in scores else "–" for k in kinds]
            lines.append(f"| {lang} | " + " | ".join(cells) + " |")
        if self.confusions:
            top = ", ".join(f"{a}→{b} {n}" for a, b, n in self.confusions)
            lines += ["", f"Top confusions (label→predicted): {top}."]
        lines += ["", "| confidence | n | accuracy |", "|---|---|---|"]
        for b in self.calibration:
            accuracy = f"{b.correct / b.n:.3f}" if b.n else "–"
            lines.append(
                f"| [{b.low:.2f}, {b.high:.2f}{']' if b.high >= 1.0 else ')'} | {b.n} | {accuracy} |"
            )
        return "\n".join(lines) + "\n"


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _latency(values_ns: list[int]) -> Latency:
    us = sorted(v / 1000 for v in values_ns)
    return Latency(_percentile(us, 0.50), _percentile(us, 0.99), us[-1] if us else 0.0)


def _kind_key(kind: str) -> tuple[int, str]:
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), kind)


def _timed(detector: SupportsDetect, text: str) -> tuple[Detection, int]:
    start = time.perf_counter_ns()
    found = detector.detect(text)
    return found, time.perf_counter_ns() - start


def evaluate(
    detector: SupportsDetect,
    cases: Iterable[Case],
    *,
    name: str | None = None,
    passes: int = 1,
) -> EvalReport:
    """Run `detector` over `cases` (after a short untimed warm-up) and score it.

    With `passes` > 1 each text's latency is its fastest pass: the detector is deterministic,
    so slower passes measure only what else the machine was doing.
    """
    items = list(cases)
    for case in items[:WARMUP_CASES]:
        detector.detect(case.text)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    times: dict[str, list[int]] = defaultdict(list)
    confusions: Counter[tuple[str, str]] = Counter()
    edges = (0.0, *CALIBRATION_EDGES)
    buckets = [[0, 0] for _ in CALIBRATION_EDGES]
    for case in items:
        found, elapsed = _timed(detector, case.text)
        for _ in range(passes - 1):
            elapsed = min(elapsed, _timed(detector, case.text)[1])
        times[case.kind].append(elapsed)
        times["all"].append(elapsed)
        label, predicted = base_language(case.lang), base_language(found.language)
        strict = predicted == label
        merged = strict or (predicted in MERGED_LANGUAGES and label in MERGED_LANGUAGES)
        for key in ((label, case.kind), ("*", case.kind)):
            row = counts[key]
            row[0] += 1
            row[1] += strict
            row[2] += merged
        if not strict:
            confusions[(label, predicted)] += 1
        for i in range(len(CALIBRATION_EDGES)):
            if found.confidence < edges[i + 1] or i == len(CALIBRATION_EDGES) - 1:
                buckets[i][0] += 1
                buckets[i][1] += strict
                break
    kinds = sorted({kind for _, kind in counts}, key=_kind_key)
    languages = sorted({lang for lang, _ in counts if lang != "*"})
    return EvalReport(
        detector=name or type(detector).__name__,
        by_kind=tuple((k, Score(*counts[("*", k)])) for k in kinds),
        by_language=tuple(
            (lang, tuple((k, Score(*counts[(lang, k)])) for k in kinds if (lang, k) in counts))
            for lang in languages
        ),
        latency=tuple((k, _latency(times[k])) for k in ("all", *kinds) if k in times),
        confusions=tuple((a, b, n) for (a, b), n in confusions.most_common(TOP_CONFUSIONS)),
        calibration=tuple(
            CalibrationBucket(edges[i], edges[i + 1], n, c) for i, (n, c) in enumerate(buckets)
        ),
    )

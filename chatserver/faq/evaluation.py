"""Measure a matcher on labelled questions: accuracy, declines, answer precision, latency.

A case is `{"text", "lang", "expected"}` with `expected: null` for a question no entry covers.
Definitions (shares are of the cases named; languages are reported separately and together):

* top-1: in-scope cases answered or suggested with the right entry first (a decline is a miss);
* top-3: the right entry is the answer or among the suggestions;
* answered correct: in-scope cases answered directly with the right entry;
* false declines: in-scope cases declined;
* out-of-scope declined: `expected: null` cases declined;
* answer precision: of all answered cases (in and out of scope), those answered correctly.

Latency is wall time of `match` per call, so it includes Python overhead, as the bot sees it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TypedDict

from chatserver.faq.matcher import MatchOutcome, MatchResult

__all__ = ["Case", "FaqEvalReport", "LanguageReport", "evaluate", "load_cases"]


class Case(TypedDict):
    text: str
    lang: str
    expected: str | None


class Matcher(Protocol):
    def match(self, text: str, language: str) -> MatchResult: ...


@dataclass(frozen=True, slots=True)
class LanguageReport:
    language: str
    in_scope: int
    out_of_scope: int
    top1: float | None
    top3: float | None
    answered_correct: float | None
    false_declines: float | None
    oos_declined: float | None
    answer_precision: float | None
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class FaqEvalReport:
    overall: LanguageReport
    languages: tuple[LanguageReport, ...]

    def to_json(self) -> str:
        return json.dumps(
            {"overall": asdict(self.overall), "languages": [asdict(r) for r in self.languages]},
            ensure_ascii=False,
            indent=2,
        )

    def to_markdown(self, title: str = "") -> str:
        header = (
            "| language | in-scope | OOS | top-1 % | top-3 % | answered correct % | "
            "false declines % | OOS declined % | answer precision % | p50 ms | p99 ms |"
        )
        rows = [header, "|" + "---|" * 11]
        for report in (*self.languages, self.overall):
            rows.append(
                f"| {report.language} | {report.in_scope} | {report.out_of_scope} | "
                f"{_pct(report.top1)} | {_pct(report.top3)} | {_pct(report.answered_correct)} | "
                f"{_pct(report.false_declines)} | {_pct(report.oos_declined)} | "
                f"{_pct(report.answer_precision)} | {report.p50_ms:.3f} | {report.p99_ms:.3f} |"
            )
        table = "\n".join(rows)
        return f"### {title}\n\n{table}\n" if title else table + "\n"


def load_cases(path: Path | str) -> list[Case]:
    """Read a JSON-lines case file; blank lines are skipped."""
    cases: list[Case] = []
    with Path(path).open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            raw = json.loads(line)
            if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
                raise ValueError(f"{path}:{number}: a case needs 'text', 'lang' and 'expected'")
            expected = raw.get("expected")
            cases.append(
                Case(
                    text=raw["text"],
                    lang=str(raw.get("lang", "en")),
                    expected=None if expected is None else str(expected),
                )
            )
    return cases


@dataclass(slots=True)
class _Tally:
    in_scope: int = 0
    out_of_scope: int = 0
    top1: int = 0
    top3: int = 0
    answered_correct: int = 0
    false_declines: int = 0
    oos_declined: int = 0
    answered: int = 0

    def add(self, expected: str | None, result: MatchResult) -> None:
        answered_id = result.entry.id if result.entry is not None else None
        if result.outcome is MatchOutcome.ANSWER:
            self.answered += 1
        if expected is None:
            self.out_of_scope += 1
            self.oos_declined += result.outcome is MatchOutcome.DECLINE
            return
        self.in_scope += 1
        if result.outcome is MatchOutcome.DECLINE:
            self.false_declines += 1
            return
        self.top1 += answered_id == expected
        if result.outcome is MatchOutcome.ANSWER:
            self.top3 += answered_id == expected
            self.answered_correct += answered_id == expected
        else:
            self.top3 += any(e.id == expected for e in result.suggestions)

    def report(self, language: str, latencies: Sequence[float]) -> LanguageReport:
        def share(count: int, total: int) -> float | None:
            return count / total if total else None

        ordered = sorted(latencies)
        return LanguageReport(
            language=language,
            in_scope=self.in_scope,
            out_of_scope=self.out_of_scope,
            top1=share(self.top1, self.in_scope),
            top3=share(self.top3, self.in_scope),
            answered_correct=share(self.answered_correct, self.in_scope),
            false_declines=share(self.false_declines, self.in_scope),
            oos_declined=share(self.oos_declined, self.out_of_scope),
            answer_precision=share(self.answered_correct, self.answered),
            p50_ms=_quantile(ordered, 0.50) * 1e3,
            p99_ms=_quantile(ordered, 0.99) * 1e3,
        )


def evaluate(
    matcher: Matcher,
    cases: Iterable[Mapping[str, Any]],
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> FaqEvalReport:
    """Run every case through `matcher.match` once and tally the outcomes."""
    tallies: dict[str, _Tally] = {}
    latencies: dict[str, list[float]] = {}
    overall = _Tally()
    for case in cases:
        language = str(case["lang"])
        expected = case.get("expected")
        started = clock()
        result = matcher.match(str(case["text"]), language)
        elapsed = clock() - started
        tallies.setdefault(language, _Tally()).add(expected, result)
        overall.add(expected, result)
        latencies.setdefault(language, []).append(elapsed)
    every = [t for values in latencies.values() for t in values]
    return FaqEvalReport(
        overall=overall.report("all", every),
        languages=tuple(tallies[lang].report(lang, latencies[lang]) for lang in sorted(tallies)),
    )


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of sorted values (0.0 when there are none)."""
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"

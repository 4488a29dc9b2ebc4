"""Benchmark the FAQ matcher against the naive rapidfuzz baseline on real intent data.

    python bench/faq.py [--data DIR] [--deskbench FILE ...] [--write docs/benchmarks.md]

Data: `faqbench` (BANKING77 + CLINC150 out-of-scope, xSID in 9 languages), by default at
`../shared/data/faqbench` next to the repository, and `deskbench` (customer chat messages in
15 languages against the product's own `faq/`; any number of case files, by default
`../shared/data/deskbench/cases.jsonl`). Both matchers run in the same process on the same
files; deskbench also gets a per-language table and its targets checked. With `--write`, the section between `<!-- faq:start -->` and `<!-- faq:end -->`
of the given file is replaced (the file and the section are created when missing).

The FAQ files are read directly rather than through `load_faq`: two BANKING77 intent names
(`Refund_not_showing_up`, `reverted_card_payment?`) break the product's id rule, so ids are
folded with `bench_id` on both the FAQ and the cases.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import platform
import re
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chatserver.faq.embedding import Floats, SentenceEncoder, default_encoder  # noqa: E402
from chatserver.faq.evaluation import Case, FaqEvalReport, evaluate, load_cases  # noqa: E402
from chatserver.faq.matcher import FaqMatcher, MatchOutcome, MatchResult  # noqa: E402
from chatserver.faq.model import FALLBACK_LANGUAGE, Faq, FaqEntry  # noqa: E402
from chatserver.models import Priority, Team  # noqa: E402

SHOTS = ("1shot", "10shot", "full")
NAIVE_THRESHOLD = 60.0  # the README's reference setting for token_set_ratio
LATENCY_PASSES = 5  # p99 on a shared 2-core box is noisy: report the median of several passes
START, END = "<!-- faq:start -->", "<!-- faq:end -->"


def bench_id(raw: str) -> str:
    """Fold a dataset intent name into the product's id alphabet."""
    return re.sub(r"[^a-z0-9_-]", "_", raw.lower())


def load_bench_faq(directory: Path) -> Faq:
    """Read `<lang>.yaml` files of the faqbench format into a `Faq` (no id validation)."""
    by_language: dict[str, dict[str, FaqEntry]] = {}
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        language = str(document["language"])
        entries: dict[str, FaqEntry] = {}
        for raw in document["entries"]:
            entry_id = bench_id(str(raw["id"]))
            entries[entry_id] = FaqEntry(
                id=entry_id,
                language=language,
                category=Team(raw["category"]),
                priority=Priority(raw["priority"]),
                question=str(raw["question"]).strip(),
                variants=tuple(str(v).strip() for v in raw.get("variants") or ()),
                answer=str(raw["answer"]).strip(),
            )
        by_language[language] = entries
    return Faq(by_language)


def bench_cases(*paths: Path) -> list[Case]:
    cases: list[Case] = []
    for path in paths:
        for case in load_cases(path):
            expected = case["expected"]
            cases.append(
                Case(
                    text=case["text"],
                    lang=case["lang"],
                    expected=None if expected is None else bench_id(expected),
                )
            )
    return cases


class CountingEncoder:
    """The default sentence encoder, counting the questions `match` embeds: the cascade skips
    it for questions the TF-IDF decision settles."""

    def __init__(self, inner: SentenceEncoder) -> None:
        self._inner = inner
        self.dimension = inner.dimension
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> Floats:
        return self._inner.encode(texts)

    def encode_one(self, text: str) -> Floats:
        self.calls += 1
        return self._inner.encode_one(text)

    def encode_queries(self, texts: Sequence[str]) -> Floats:
        self.calls += len(texts)
        return self._inner.encode_queries(texts)


def counted_matcher(faq: Faq) -> tuple[FaqMatcher, CountingEncoder | None]:
    """Our matcher with the default encoder (when installed) behind a call counter."""
    inner = default_encoder()
    encoder = CountingEncoder(inner) if inner is not None else None
    return FaqMatcher(faq, encoder=encoder), encoder


def _encoder_share(encoder: CountingEncoder | None, questions: int) -> str:
    if encoder is None or not questions:
        return "no encoder"
    return f"{100 * encoder.calls / questions:.1f} %"


class NaiveMatcher:
    """The README's baseline: extractOne, token_set_ratio, lowercased strings, threshold 60."""

    def __init__(self, faq: Faq) -> None:
        self.faq = faq
        self._choices: dict[str, tuple[list[str], list[str]]] = {}
        for language in faq.languages:
            texts, ids = [], []
            for entry in faq.native(language).values():
                for phrasing in entry.phrasings:
                    texts.append(phrasing.lower())
                    ids.append(entry.id)
            self._choices[language] = (texts, ids)

    def match(self, text: str, language: str) -> MatchResult:
        texts, ids = self._choices.get(language) or self._choices[FALLBACK_LANGUAGE]
        if not texts:
            return MatchResult(MatchOutcome.DECLINE, language, 0.0, None)
        _, score, position = process.extractOne(
            text.lower(), texts, scorer=fuzz.token_set_ratio, processor=None
        )
        entry = self.faq.entry(ids[position], language)
        outcome = MatchOutcome.ANSWER if score >= NAIVE_THRESHOLD else MatchOutcome.DECLINE
        return MatchResult(outcome, language, float(score), entry)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _rows(dataset: str, shot: str, name: str, report: FaqEvalReport) -> list[str]:
    several = len(report.languages) > 1
    rows = []
    for r in (*report.languages, report.overall) if several else (report.overall,):
        language = r.language if several else report.languages[0].language
        rows.append(
            f"| {dataset} | {shot} | {language} | {name} | {_pct(r.top1)} | {_pct(r.top3)} | "
            f"{_pct(r.answered_correct)} | {_pct(r.false_declines)} | {_pct(r.oos_declined)} | "
            f"{_pct(r.answer_precision)} |"
        )
    return rows


def accuracy_table(data: Path) -> tuple[str, dict[str, float]]:
    header = [
        "| set | FAQ | lang | matcher | top-1 % | top-3 % | answered correct % | "
        "false declines % | OOS declined % | answer precision % |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows: list[str] = []
    builds: dict[str, float] = {}
    encoded: dict[str, str] = {}
    plans: list[tuple[str, list[Path]]] = [
        ("banking77", [data / "banking77" / "cases.jsonl", data / "banking77" / "cases_oos.jsonl"]),
        ("xsid", [data / "xsid" / "cases.jsonl"]),
    ]
    for dataset, case_files in plans:
        cases = bench_cases(*case_files)
        for shot in SHOTS:
            faq = load_bench_faq(data / dataset / f"faq-{shot}")
            started = time.perf_counter()
            ours, encoder = counted_matcher(faq)
            builds[f"{dataset} {shot}"] = time.perf_counter() - started
            for name, matcher in (("ours", ours), ("naive", NaiveMatcher(faq))):
                rows.extend(_rows(dataset, shot, name, evaluate(matcher, cases)))
            encoded[f"{dataset} {shot}"] = _encoder_share(encoder, len(cases))
            print(
                f"  {dataset} {shot}: built in {builds[f'{dataset} {shot}']:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    return "\n".join(header + rows) + "\n", builds, encoded


# Targets of the answer decision on deskbench (issue "The bot answers"): shares of in-scope
# messages, except answer precision (of answered ones) and OOS declined (of off-topic ones).
DESK_TARGETS = {
    "answered_correct": (">=", 0.70),
    "answer_precision": (">=", 0.95),
    "top1": (">=", 0.92),
    "top3": (">=", 0.98),
    "oos_declined": (">=", 0.90),
    "false_declines": ("<=", 0.03),
}


def desk_tables(case_files: Sequence[Path]) -> str:
    """Per-language figures of the product's FAQ on each deskbench file, and the targets."""
    from chatserver.faq.loader import load_faq

    faq = load_faq(REPO / "faq").faq
    started = time.perf_counter()
    ours, encoder = counted_matcher(faq)
    built = time.perf_counter() - started
    naive = NaiveMatcher(faq)
    parts = [
        f"FAQ `faq/` ({sum(len(e.phrasings) for e in faq):,} phrasings), built in {built:.1f} s.\n"
    ]
    for path in case_files:
        cases = load_cases(path)
        if encoder is not None:
            encoder.calls = 0
        report = evaluate(ours, cases)
        encoded = _encoder_share(encoder, len(cases))
        baseline = evaluate(naive, cases).overall
        overall = report.overall
        checks = []
        for name, (sense, goal) in DESK_TARGETS.items():
            value = getattr(overall, name)
            met = value is not None and (value >= goal if sense == ">=" else value <= goal)
            checks.append(
                f"{name} {_pct(value)} % ({sense} {100 * goal:.0f}: {'met' if met else 'NOT met'})"
            )
        parts.append(
            f"#### `{_shown(path)}` ({len(cases)} messages)\n\n"
            f"{report.to_markdown()}\n"
            f"Naive baseline (all languages): top-1 {_pct(baseline.top1)} %, answered correct "
            f"{_pct(baseline.answered_correct)} %, answer precision {_pct(baseline.answer_precision)} %, "
            f"OOS declined {_pct(baseline.oos_declined)} %.\n\n"
            f"Sentence encoder run for {encoded} of the messages (the cascade settles the "
            f"others on TF-IDF alone).\n\n"
            f"Targets: {'; '.join(checks)}.\n"
        )
    return "\n".join(parts)


def _shown(path: Path) -> str:
    """The path as the command line would give it from the repository."""
    try:
        return f"../{path.resolve().relative_to(REPO.parent).as_posix()}"
    except ValueError:
        return str(path)


def latency_table(data: Path) -> str:
    cases = bench_cases(data / "banking77" / "cases.jsonl", data / "banking77" / "cases_oos.jsonl")
    lines = [
        f"| FAQ | strings | matcher | p50 ms | p99 ms (median of {LATENCY_PASSES} passes) | "
        "p99 ms (best / worst pass) |",
        "|---|---|---|---|---|---|",
    ]
    for shot in ("10shot", "full"):
        faq = load_bench_faq(data / "banking77" / f"faq-{shot}")
        strings = sum(len(e.phrasings) for e in faq)
        for name, matcher in (("ours", FaqMatcher(faq)), ("naive", NaiveMatcher(faq))):
            p50s: list[float] = []
            p99s: list[float] = []
            passes = LATENCY_PASSES if name == "ours" else 1
            for _ in range(passes):
                gc.collect()
                report = evaluate(matcher, cases)
                p50s.append(report.overall.p50_ms)
                p99s.append(report.overall.p99_ms)
            lines.append(
                f"| banking77 {shot} | {strings:,} | {name} | {statistics.median(p50s):.3f} | "
                f"{statistics.median(p99s):.3f} | {min(p99s):.3f} / {max(p99s):.3f} |"
            )
    return "\n".join(lines) + "\n"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def render(
    command: str,
    desk: str,
    accuracy: str,
    latency: str,
    builds: dict[str, float],
    encoded: dict[str, str],
) -> str:
    build_lines = ", ".join(f"{k} {v:.2f} s" for k, v in builds.items())
    encoded_lines = ", ".join(f"{k} {v}" for k, v in encoded.items())
    return (
        f"## FAQ matcher\n\n"
        f"### deskbench: the desk's own FAQ\n\n"
        f"`{command}` on {dt.date.today().isoformat()}, Python {platform.python_version()}, "
        f"{cpu_name()}, one thread.\n\n{desk}\n"
        f"### Public benchmarks\n\n"
        f"`{command}` on {dt.date.today().isoformat()}, Python {platform.python_version()}, "
        f"{cpu_name()}, one thread. Data: faqbench (BANKING77, Casanueva et al. 2020; CLINC150 "
        f"out-of-scope, Larson et al. 2019; xSID 0.7, van der Goot et al. 2021). `ours` = "
        f"TF-IDF in-word char 1-5 + word 1-2 grams, linear SVM (C=2), plus a cross-validated "
        f"multiple of the USE multilingual v3 embedding similarity (centroid and nearest "
        f"phrasing), run only when the TF-IDF-only decision is not clearly the blended one "
        f"(the cascade: a TF-IDF margin and similarity cross-validated per language so that "
        f"held-out phrasings and off-topic examples above both get the same outcome either "
        f"way at least 99.5% of the time; these FAQs have no off-topic examples, so here the "
        f"encoder runs for every question but an exact phrasing); thresholds (similarity floor, similarity AND best-entry score, answer "
        f"margin) cross-validated on the FAQ itself; `naive` = rapidfuzz extractOne, token_set_ratio, lowercased, threshold 60. "
        f"BANKING77 rows include the 500 out-of-scope cases; top-1 counts a decline as a miss.\n\n"
        f"{accuracy}\n"
        f"Match latency on the 3,580 BANKING77 questions (wall time per call):\n\n{latency}\n"
        f"Build time (ours): {build_lines}.\n\n"
        f"Questions that ran the sentence encoder (ours): {encoded_lines}.\n"
    )


def write_section(path: Path, body: str) -> None:
    section = f"{START}\n{body}{END}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        text = before + section.rstrip("\n") + after
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = REPO.parent / "shared" / "data" / "faqbench"
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument(
        "--deskbench",
        type=Path,
        nargs="+",
        default=[REPO.parent / "shared" / "data" / "deskbench" / "cases.jsonl"],
        help="deskbench case files (JSON lines) against faq/",
    )
    parser.add_argument("--write", type=Path, help="markdown file whose faq section to replace")
    parser.add_argument(
        "--desk-only", action="store_true", help="only deskbench (skip BANKING77 and xSID)"
    )
    args = parser.parse_args(argv)
    if not (args.data / "banking77").is_dir() or not (args.data / "xsid").is_dir():
        print(f"faqbench data not found at {args.data}", file=sys.stderr)
        return 2
    command = "python bench/faq.py"
    if args.data != default_data:
        command += f" --data {args.data}"
    if args.write:
        command += f" --write {args.write}"
    with threadpool_limits(1):
        desk = desk_tables([p for p in args.deskbench if p.exists()])
        if args.desk_only:
            print(desk)
            return 0
        accuracy, builds, encoded = accuracy_table(args.data)
        latency = latency_table(args.data)
    body = render(command, desk, accuracy, latency, builds, encoded)
    print(body)
    if args.write:
        write_section(args.write, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

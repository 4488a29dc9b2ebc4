"""Benchmark language detection on the shared langid cases.

    python bench/langid.py [--cases PATH] [--write docs/benchmarks.md]

Accuracy and latency are measured in this process, one detector after another. Resident memory is
measured per detector in a fresh child process (build + detect every 10th case), because detector
libraries cache models process-wide and an in-process delta would depend on the order of the rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import platform
import re
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout: make the package importable
    sys.path.insert(0, str(ROOT))

from chatserver.language import (  # noqa: E402 - needs the sys.path line above
    Case,
    Detection,
    DetectionSource,
    EvalReport,
    LanguageDetector,
    evaluate,
    parse_cases,
)
from chatserver.language.statistical import LangdetectModel, LinguaModel, StatisticalModel  # noqa: E402

#: The dataset's 20 languages as product tags (Chinese split by script, as the product does).
SUPPORTED = ("en", "ja", "zh-Hans", "zh-Hant", "ko", "th", "vi", "id", "ms", "ar",
             "es", "pt", "fr", "de", "it", "pl", "ru", "tr", "cs", "hu", "nl")  # fmt: skip
CODES = tuple(dict.fromkeys(tag.split("-")[0] for tag in SUPPORTED))
DEFAULT_CASES = ROOT.parent / "shared" / "data" / "langid" / "cases.jsonl"
MARK_START, MARK_END = "<!-- langid:start -->", "<!-- langid:end -->"
RSS_SAMPLE_EVERY = (
    10  # the child process for RSS detects every 10th case: enough to touch all models
)


class RawModel:
    """A bare statistical model dressed as a detector (no script rules, no hints): the baselines."""

    def __init__(self, model: StatisticalModel) -> None:
        self._model = model

    def detect(self, text: str) -> Detection:
        ranked = sorted(self._model.probabilities(text).items(), key=lambda kv: -kv[1])
        if not ranked or ranked[0][1] <= 0.0:
            return Detection("und", 0.0, None, DetectionSource.DEFAULT)
        return Detection(ranked[0][0], ranked[0][1], ranked[1][0] if len(ranked) > 1 else None,
                         DetectionSource.STATISTICAL)  # fmt: skip


CONFIGS: dict[str, Callable[[], object]] = {
    "ours auto (lingua+words)": lambda: LanguageDetector(SUPPORTED, backend="auto"),
    "ours lingua": lambda: LanguageDetector(SUPPORTED, backend="lingua"),
    "ours lingua-low": lambda: LanguageDetector(SUPPORTED, backend="lingua-low"),
    "ours langdetect": lambda: LanguageDetector(SUPPORTED, backend="langdetect"),
    "ours langdetect+words": lambda: LanguageDetector(SUPPORTED, backend="langdetect+words"),
    "langdetect seed 0, unrestricted": lambda: RawModel(LangdetectModel(None, seed=0)),
    "langdetect seed 0, restricted": lambda: RawModel(LangdetectModel(CODES, seed=0)),
    "lingua high, restricted": lambda: RawModel(LinguaModel(CODES)),
    "lingua low, restricted": lambda: RawModel(LinguaModel(CODES, low_accuracy=True)),
}


def rss_kib() -> int | None:
    """Resident set size of this process from /proc (Linux), KiB."""
    try:
        match = re.search(
            r"^VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE
        )
    except OSError:
        return None
    return int(match.group(1)) if match else None


def rss_probe(config: str, cases_path: Path) -> None:
    """Child-process entry: print RSS before and after building `config` and detecting a sample."""
    cases = list(parse_cases(cases_path.read_text(encoding="utf-8").splitlines()))[
        ::RSS_SAMPLE_EVERY
    ]
    gc.collect()
    before = rss_kib()
    detector = CONFIGS[config]()
    for case in cases:
        detector.detect(case.text)  # type: ignore[attr-defined]
    print(json.dumps({"before_kib": before, "after_kib": rss_kib()}))


def measure_rss(config: str, cases_path: Path) -> tuple[float, float] | None:
    """(RSS after, RSS delta) in MiB from a fresh child process, or None if unavailable."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--cases",
        str(cases_path),
        "--rss-probe",
        config,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return None
    data = json.loads(result.stdout.strip().splitlines()[-1])
    if data["before_kib"] is None or data["after_kib"] is None:
        return None
    return data["after_kib"] / 1024, (data["after_kib"] - data["before_kib"]) / 1024


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> str:
    names = ("lingua-language-detector", "langdetect", "wordfreq", "zhon", "babel", "regex")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def table(rows: list[tuple[str, EvalReport, tuple[float, float] | None]]) -> str:
    lines = [
        "| detector | sentence | word pair | single word | merged id=ms sentence / pair / word | p50 µs | p99 µs "
        "| RSS Δ MiB (total) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, report, rss in rows:
        s, p, w = (report.kind(k) for k in ("sentence", "word-pair", "word"))
        lat = report.latency_of()
        memory = f"{rss[1]:+.0f} ({rss[0]:.0f})" if rss else "n/a"
        lines.append(
            f"| {name} | {s.strict_accuracy:.3f} | {p.strict_accuracy:.3f} | {w.strict_accuracy:.3f} "
            f"| {s.merged_accuracy:.3f} / {p.merged_accuracy:.3f} / {w.merged_accuracy:.3f} "
            f"| {lat.p50:.0f} | {lat.p99:.0f} | {memory} |"
        )
    return "\n".join(lines) + "\n"


def write_section(path: Path, body: str) -> None:
    """Replace the text between the langid markers in `path`, creating file or section if missing."""
    section = f"{MARK_START}\n{body.rstrip()}\n{MARK_END}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        text = head + section + rest.split(MARK_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Language detection\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--write", type=Path, help="markdown file whose langid section is replaced")
    parser.add_argument(
        "--only", action="append", choices=list(CONFIGS), help="run just these rows"
    )
    parser.add_argument(
        "--no-rss", action="store_true", help="skip the child processes that measure memory"
    )
    parser.add_argument(
        "--passes", type=int, default=3, help="timing passes; a text's latency is its fastest"
    )
    parser.add_argument("--rss-probe", choices=list(CONFIGS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.cases.exists():
        parser.error(f"cases file not found: {args.cases}")
    if args.rss_probe:
        rss_probe(args.rss_probe, args.cases)
        return 0
    cases: list[Case] = list(parse_cases(args.cases.read_text(encoding="utf-8").splitlines()))
    rows: list[tuple[str, EvalReport, tuple[float, float] | None]] = []
    for name in args.only or list(CONFIGS):
        rss = None if args.no_rss else measure_rss(name, args.cases)
        detector = CONFIGS[name]()
        report = evaluate(detector, cases, name=name, passes=args.passes)  # type: ignore[arg-type]
        rows.append((name, report, rss))
        print(f"{name}: done", file=sys.stderr, flush=True)
        del detector
        gc.collect()
    command = "python bench/langid.py " + " ".join(sys.argv[1:])
    header = (
        f"Command: `{command.strip()}`  \n"
        f"Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; Python {platform.python_version()}; "
        f"CPU: {cpu_model()} ({len(cases)} cases)  \n"
        f"Libraries: {versions()}  \n"
        "Accuracy: strict = predicted base language equals the label (zh-Hans/zh-Hant count as zh); merged also "
        f"accepts id<->ms. Latency: wall time of one detect() call after a 50-case warm-up, all kinds; "
        f"each text's fastest of {args.passes} passes (the detectors are deterministic, so slower passes "
        "time only the machine's other work). RSS Δ: fresh child process with the "
        "libraries already imported, before building vs. after detecting every 10th case (total RSS in brackets).\n"
    )
    body = header + "\n" + table(rows)
    print(body)
    if args.write:
        details = "\n".join(r.to_markdown() for _, r, _ in rows[:1])
        write_section(args.write, body + "\n" + details)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

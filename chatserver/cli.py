"""Command line: `chatserver [serve]`, `faq check|match|eval|gaps`, `lang detect|eval`,
`agents add|list`.

`serve` is the default. Every serve option is also a CHATSERVER_* variable; a flag wins
over the variable, the variable over the default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatserver import __version__
from chatserver.settings import OPTIONS, Settings, SettingsError

if TYPE_CHECKING:
    from chatserver.faq import FaqMatcher
    from chatserver.faq.calibration import Thresholds
    from chatserver.faq_gaps import GapsQuery

log = logging.getLogger("chatserver")
COMMANDS = ("serve", "faq")
GAP_FORMATS = ("markdown", "json", "csv")  # the first is `faq gaps`' default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatserver",
        description="Multilingual chatbot and live-chat handoff server.",
    )
    parser.add_argument("--version", action="version", version=f"chatserver {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve the chat (default)",
        description="Serve the widget, agent console and Socket.IO on one port.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Every option can also be set with its CHATSERVER_* environment variable.",
    )
    for option in OPTIONS:
        serve.add_argument(
            option.flag,
            dest=option.name,
            metavar="VALUE",
            help=f"{option.help} [{option.env}; default: {option.default or '(empty)'}]",
        )

    faq = commands.add_parser("faq", help="check the FAQ files")
    faq_commands = faq.add_subparsers(dest="faq_command", metavar="SUBCOMMAND", required=True)
    check = faq_commands.add_parser(
        "check", help="validate a FAQ directory and report coverage per language"
    )
    check.add_argument(
        "--faq-dir", type=Path, default=None, help="default: CHATSERVER_FAQ_DIR or faq"
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--calibration",
        action="store_true",
        help="also train the matcher and report, per language, how its held-out variants "
        "fare and the thresholds they set (seconds to a minute)",
    )
    match = faq_commands.add_parser(
        "match", help="match one question: outcome, entry, score, suggestions (JSON)"
    )
    match.add_argument("text", help="the customer's question")
    match.add_argument(
        "--lang", default="auto", help="the question's language, or auto to detect it"
    )
    faq_eval = faq_commands.add_parser(
        "eval", help="top-1, top-3, declines and latency per language on JSON-lines cases"
    )
    faq_eval.add_argument(
        "--cases", type=Path, required=True, help='JSON lines {"text", "lang", "expected"}'
    )
    faq_eval.add_argument("--json", action="store_true", help="print the report as JSON")
    for command in (match, faq_eval):
        command.add_argument(
            "--faq-dir", type=Path, default=None, help="default: CHATSERVER_FAQ_DIR or faq"
        )
    gaps = faq_commands.add_parser(
        "gaps",
        help="questions declined, answered unhelpfully or picked from suggestions, per language",
        description=(
            "The customer questions the FAQ did not answer well, from the desk's database: "
            "declined by the bot, answered but marked not helpful, or resolved by picking a "
            "suggestion. Per language, the same question (normalised) is one line, most "
            "frequent first, with the entries involved: the variants to add."
        ),
    )
    gaps.add_argument("--since", default=None, help="ISO 8601 time (default: 30 days ago)")
    gaps.add_argument("--until", default=None, help="ISO 8601 time (default: now)")
    gaps.add_argument("--lang", default=None, help="one language (default: all)")
    gaps.add_argument(
        "--kind", default=None, help="declined, not_helpful, picked, comma-separated (default: all)"
    )
    gaps.add_argument("--limit", default=None, help="lines per language (default 50)")
    gaps.add_argument(
        "--format", default=None, choices=GAP_FORMATS, help="output (default: markdown)"
    )
    gaps.add_argument("--json", action="store_true", help="the same as --format json")
    gaps.add_argument(
        "--database-url", default=None, help="default: CHATSERVER_DATABASE_URL or the default"
    )

    agents = commands.add_parser("agents", help="manage agent accounts")
    agent_commands = agents.add_subparsers(
        dest="agents_command", metavar="SUBCOMMAND", required=True
    )
    add = agent_commands.add_parser(
        "add", help="create an agent account (password from a prompt or --password-stdin)"
    )
    add.add_argument("username", help="log-in name: lowercase letters, digits, . _ -")
    add.add_argument("--name", required=True, help="the name customers see")
    add.add_argument("--languages", required=True, help="languages spoken, e.g. ja,en")
    add.add_argument("--teams", default="technical,account,trading", help="teams, comma-separated")
    add.add_argument("--capacity", type=int, default=3, help="concurrent chats (default 3)")
    add.add_argument(
        "--role", default="agent", choices=("agent", "supervisor", "admin"), help="default agent"
    )
    add.add_argument(
        "--takes-chats",
        action="store_true",
        help="a supervisor offered chats like an agent (else only by their console's switch)",
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    listing = agent_commands.add_parser("list", help="list agent accounts")
    listing.add_argument("--json", action="store_true", help="print JSON")

    lang = commands.add_parser("lang", help="detect languages, evaluate the detector")
    lang_commands = lang.add_subparsers(dest="lang_command", metavar="SUBCOMMAND", required=True)
    detect = lang_commands.add_parser("detect", help="print the detected language as JSON")
    detect.add_argument("text", help="the message")
    detect.add_argument("--hint", default="", help="browser languages, comma-separated (ja,en)")
    detect.add_argument("--choice", default=None, help="the customer's explicit choice")
    evaluate = lang_commands.add_parser(
        "eval", help="accuracy per kind and language, latency, on JSON-lines cases"
    )
    evaluate.add_argument(
        "--cases", type=Path, required=True, help='JSON lines {"text", "lang", "kind"}'
    )
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    for command in (detect, evaluate):
        command.add_argument(
            "--languages",
            default=None,
            help="supported languages (default: CHATSERVER_LANGUAGES or the 15 chat languages)",
        )
        command.add_argument(
            "--backend",
            default=None,
            help="statistical backend (default: CHATSERVER_LANGUAGE_BACKEND or auto)",
        )
    return parser


def settings_from(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    merged = dict(env)
    for option in OPTIONS:
        value = getattr(args, option.name, None)
        if value is not None:
            merged[option.env] = value
    return Settings.from_env(merged)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (
        arguments[0].startswith("-") and arguments[0] not in ("-h", "--help", "--version")
    ):
        arguments.insert(0, "serve")
    parser = build_parser()
    args = parser.parse_args(arguments)
    if args.command == "faq":
        if args.faq_command == "match":
            return faq_match(args)
        if args.faq_command == "eval":
            return faq_eval(args)
        if args.faq_command == "gaps":
            return faq_gaps(args)
        return faq_check(args)
    if args.command == "lang":
        return lang_command(args)
    if args.command == "agents":
        return agents_command(args)
    try:
        settings = settings_from(args, os.environ)
    except SettingsError as exc:
        print(f"chatserver: error: {exc}", file=sys.stderr)
        return 2
    return serve(settings)


def serve(settings: Settings) -> int:
    from aiohttp import web

    from chatserver import logs, runtime
    from chatserver.app import StartupFailed, create_app
    from chatserver.faq import FaqError
    from chatserver.keys import SERVICES

    logs.configure(settings.log_level, settings.log_format)
    uvloop = runtime.install_uvloop(settings.uvloop)
    runtime.tune_gc(settings.gc_threshold)
    app = create_app(settings)

    reloads: set[asyncio.Task[bool]] = set()

    def reload_faq() -> None:
        task = asyncio.create_task(app[SERVICES].faq_reloader.reload(force=True))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    async def after_start(_: web.Application) -> None:
        # SIGHUP: rebuild the FAQ now (an edit is also picked up by polling).
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_faq)
        # Every BLAS library is loaded by now (the FAQ matcher's numpy and scipy): one
        # thread each, for the life of the process.
        blas = runtime.limit_blas_threads(1)
        log.info("BLAS limited to one thread (%d libraries)", len(blas))
        if settings.gc_freeze:
            runtime.freeze_gc()
        runtime.release_free_memory()
        log.info(
            "serving on http://%s:%s (event loop: %s)",
            settings.host,
            settings.port,
            "uvloop" if uvloop else "asyncio",
        )

    app.on_startup.append(after_start)
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            shutdown_timeout=settings.shutdown_timeout,
            backlog=settings.listen_backlog,
            print=None,
            access_log=None,
        )
    except (FaqError, StartupFailed) as exc:
        print(f"chatserver: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"chatserver: error: cannot listen on {settings.host}:{settings.port}: {exc}",
            file=sys.stderr,
        )
        return 2
    return 0


def faq_check(args: argparse.Namespace) -> int:
    from chatserver.faq import FaqError, coverage, load_faq

    directory = args.faq_dir or Path(os.environ.get("CHATSERVER_FAQ_DIR", "faq"))
    try:
        loaded = load_faq(directory)
    except FaqError as exc:
        if args.json:
            print(
                json.dumps(
                    {"ok": False, "problems": [str(p) for p in exc.problems]},
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            print(f"{directory}: {len(exc.problems)} problem(s)", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
        return 1
    report = {language: dict(row) for language, row in coverage(loaded.faq).items()}
    if args.calibration:
        from chatserver.faq import FaqMatcher

        for language, index in FaqMatcher(loaded.faq).indexes.items():
            report[language]["calibration"] = calibration_row(index.thresholds)
    if args.json:
        print(json.dumps({"ok": True, "languages": report}, ensure_ascii=False, indent=2))
        return 0
    print(f"{directory}: valid, {len(loaded.faq.ids)} entries in {len(report)} languages")
    for language, row in report.items():
        missing = ", ".join(row["missing"]) or "-"
        line = (
            f"  {language:8} entries {row['entries']:4}  variants {row['variants']:5}  "
            f"off-topic {row['off_topic']:3}  missing: {missing}"
        )
        if "calibration" in row:
            c = row["calibration"]
            accuracy = "-" if c["held_out_top1"] is None else f"{100 * c['held_out_top1']:.1f}%"
            line += (
                f"\n           held out {c['held_out']:4}  top-1 {accuracy}  "
                f"answer margin {c['answer_margin']:.2f}  embedding weight {c['blend']:.1f}"
            )
        print(line)
    return 0


def calibration_row(thresholds: Thresholds) -> dict[str, Any]:
    """What cross-validation on a language's own variants found (`faq check --calibration`):
    few held-out variants or a low top-1 says the language needs more variants."""
    return {
        "held_out": thresholds.samples,
        "held_out_top1": thresholds.held_out_accuracy,
        "answer_margin": round(thresholds.answer_margin, 3),
        "blend": thresholds.blend,
        "off_topic_handicap": round(thresholds.off_topic_handicap, 3),
        "decline_similarity": round(thresholds.decline_similarity, 3),
    }


def lang_command(args: argparse.Namespace) -> int:
    from chatserver.language import LanguageDetector, evaluate, parse_cases

    env = dict(os.environ)
    if args.languages:
        env["CHATSERVER_LANGUAGES"] = args.languages
    if args.backend:
        env["CHATSERVER_LANGUAGE_BACKEND"] = args.backend
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        print(f"chatserver: error: {exc}", file=sys.stderr)
        return 2
    detector = LanguageDetector(
        settings.languages, backend=settings.language_backend, default=settings.default_language
    )
    if args.lang_command == "detect":
        hints = [tag.strip() for tag in args.hint.split(",") if tag.strip()]
        detection = detector.detect(args.text, choice=args.choice, hints=hints)
        print(
            json.dumps(
                {
                    "language": detection.language,
                    "confidence": round(detection.confidence, 4),
                    "runner_up": detection.runner_up,
                    "source": str(detection.source),
                    "backend": detector.backend,
                },
                ensure_ascii=False,
            )
        )
        return 0
    try:
        with args.cases.open(encoding="utf-8") as handle:
            cases = list(parse_cases(handle))
    except (OSError, ValueError) as exc:
        print(f"chatserver: error: {args.cases}: {exc}", file=sys.stderr)
        return 2
    report = evaluate(detector, cases, name=f"chatserver {detector.backend}")
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(report.to_markdown())
    return 0


def _load_matcher(args: argparse.Namespace) -> tuple[Path, FaqMatcher] | None:
    from chatserver.faq import FaqError
    from chatserver.faq.build import BuildFailed, built_matcher

    directory = args.faq_dir or Path(os.environ.get("CHATSERVER_FAQ_DIR", "faq"))
    # As the server would answer: with or without embeddings as CHATSERVER_FAQ_EMBEDDINGS says.
    (option,) = (o for o in OPTIONS if o.name == "faq_embeddings")
    try:
        embeddings = option.parse(os.environ.get(option.env, option.default))
    except ValueError as exc:
        print(f"chatserver: error: {option.env}: {exc}", file=sys.stderr)
        return None
    try:
        # The server's own build of this FAQ when one is in the cache directory (the same
        # answers, and nothing to train); built in a child process otherwise.
        return directory, built_matcher(directory, skip_invalid=False, embeddings=embeddings)[1]
    except (FaqError, BuildFailed) as exc:
        print(f"chatserver: error: {exc}", file=sys.stderr)
        return None


def faq_match(args: argparse.Namespace) -> int:
    loaded = _load_matcher(args)
    if loaded is None:
        return 2
    _, matcher = loaded
    language = args.lang
    if language == "auto":
        from chatserver.language import LanguageDetector

        languages = matcher.faq.languages or ("en",)
        default = "en" if "en" in languages else languages[0]
        language = LanguageDetector(languages, default=default).detect(args.text).language
    result = matcher.match(args.text, language)
    print(
        json.dumps(
            {
                "language": language,
                "outcome": str(result.outcome),
                "id": result.entry.id if result.entry is not None else None,
                "score": round(result.score, 4),
                "margin": round(result.margin, 4),
                "fallback": bool(result.entry is not None and result.entry.is_fallback),
                "suggestions": [
                    {"id": entry.id, "question": entry.question} for entry in result.suggestions
                ],
            },
            ensure_ascii=False,
        )
    )
    return 0


def faq_eval(args: argparse.Namespace) -> int:
    from chatserver.faq.evaluation import evaluate, load_cases

    loaded = _load_matcher(args)
    if loaded is None:
        return 2
    directory, matcher = loaded
    try:
        cases = load_cases(args.cases)
    except (OSError, ValueError) as exc:
        print(f"chatserver: error: {args.cases}: {exc}", file=sys.stderr)
        return 2
    report = evaluate(matcher, cases)
    print(report.to_json() if args.json else report.to_markdown(f"{directory} on {args.cases}"))
    return 0


def faq_gaps(args: argparse.Namespace) -> int:
    from chatserver.clock import SystemClock
    from chatserver.faq_gaps import GapsQuery, InvalidQuery

    env = dict(os.environ)
    if args.database_url:
        env["CHATSERVER_DATABASE_URL"] = args.database_url
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        print(f"chatserver: error: {exc}", file=sys.stderr)
        return 2
    raw = {
        "since": args.since,
        "until": args.until,
        "language": args.lang,
        "kind": args.kind,
        "limit": args.limit,
        "format": "json" if args.json else args.format,
    }
    try:
        query = GapsQuery.parse(
            {k: v for k, v in raw.items() if v is not None},
            now=SystemClock().now(),
            languages=settings.languages,
            formats=GAP_FORMATS,
        )
    except InvalidQuery as exc:
        print(f"chatserver: error: {exc}", file=sys.stderr)
        return 2
    text = asyncio.run(_faq_gaps(settings, query))
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


async def _faq_gaps(settings: Settings, query: GapsQuery) -> str:
    from chatserver.faq_gaps import find_gaps, render
    from chatserver.store import open_store

    store = await open_store(settings.database_url)
    try:
        rows = await store.faq_gap_rows(query.since, query.until, query.language)
    finally:
        await store.close()
    report = find_gaps(
        rows, since=query.since, until=query.until, kinds=query.kinds, limit=query.limit
    )
    return render(report, query.format)


def agents_command(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"chatserver: error: {exc}", file=sys.stderr)
        return 2
    password = None
    if args.agents_command == "add":
        password = _read_password(args.password_stdin)
        if password is None:
            return 2
    return asyncio.run(_agents(args, settings, password))


def _read_password(from_stdin: bool) -> str | None:
    import getpass

    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        print("chatserver: error: the passwords differ", file=sys.stderr)
        return None
    return first


async def _agents(args: argparse.Namespace, settings: Settings, password: str | None) -> int:
    from chatserver.accounts import Accounts
    from chatserver.agents import InvalidAccount
    from chatserver.clock import SystemClock, new_id
    from chatserver.protocol import agent
    from chatserver.store import DuplicateAgent, open_store

    store = await open_store(settings.database_url)
    try:
        if args.agents_command == "list":
            accounts = await store.agents()
            if args.json:
                print(json.dumps([agent(a) for a in accounts], ensure_ascii=False, indent=2))
            for account in [] if args.json else accounts:
                print(
                    f"{account.username:16} {account.role!s:10} cap {account.capacity:2}  "
                    f"{','.join(account.languages):20} {','.join(account.teams):28} {account.name}"
                )
            return 0
        manager = Accounts(
            store=store,
            clock=SystemClock(),
            new_id=new_id,
            languages=settings.languages,
            session_lifetime=timedelta(hours=settings.session_hours),
        )
        try:
            account = await manager.add(
                username=args.username,
                name=args.name,
                languages=[t.strip() for t in args.languages.split(",") if t.strip()],
                teams=[t.strip() for t in args.teams.split(",") if t.strip()],
                capacity=args.capacity,
                role=args.role,
                password=password or "",
                takes_chats=args.takes_chats,
            )
        except InvalidAccount as exc:
            print(f"chatserver: error: {exc}", file=sys.stderr)
            return 2
        except DuplicateAgent:
            print(f"chatserver: error: username {args.username!r} is taken", file=sys.stderr)
            return 2
        print(f"added {account.username} ({account.role}): {', '.join(account.languages)}")
        return 0
    finally:
        await store.close()

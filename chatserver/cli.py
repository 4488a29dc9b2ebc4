"""Command line: `chatserver [serve]`, `chatserver faq check`.

`serve` is the default. Every serve option is also a CHATSERVER_* variable; a flag wins
over the variable, the variable over the default.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from chatserver import __version__
from chatserver.settings import OPTIONS, Settings, SettingsError

log = logging.getLogger("chatserver")
COMMANDS = ("serve", "faq")


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
        return faq_check(args)
    try:
        settings = settings_from(args, os.environ)
    except SettingsError as exc:
        print(f"chatserver: error: {exc}", file=sys.stderr)
        return 2
    return serve(settings)


def serve(settings: Settings) -> int:
    from aiohttp import web

    from chatserver import logs, runtime
    from chatserver.app import create_app
    from chatserver.faq import FaqError

    logs.configure(settings.log_level, settings.log_format)
    uvloop = runtime.install_uvloop(settings.uvloop)
    runtime.tune_gc(settings.gc_threshold)
    app = create_app(settings)

    async def after_start(_: web.Application) -> None:
        if settings.gc_freeze:
            runtime.freeze_gc()
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
            print=None,
            access_log=None,
        )
    except FaqError as exc:
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
    report = coverage(loaded.faq)
    if args.json:
        print(json.dumps({"ok": True, "languages": report}, ensure_ascii=False, indent=2))
        return 0
    print(f"{directory}: valid, {len(loaded.faq.ids)} entries in {len(report)} languages")
    for language, row in report.items():
        missing = ", ".join(row["missing"]) or "-"
        print(
            f"  {language:8} entries {row['entries']:4}  "
            f"variants {row['variants']:5}  missing: {missing}"
        )
    return 0

"""Settings from a mapping; one clear line per bad value; CLI flags over variables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chatserver.cli import build_parser, settings_from
from chatserver.settings import CHAT_LANGUAGES, OPTIONS, Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_the_embedded_set_up():
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.database_url.startswith("sqlite:///var/")
    assert settings.languages == CHAT_LANGUAGES
    assert len(settings.languages) == 15
    assert settings.cors_allowed_origins is None  # same origin only
    assert settings.gc_threshold == (50000, 50, 100)


def test_values_are_read_from_the_mapping():
    settings = Settings.from_env(
        {
            "CHATSERVER_PORT": "9000",
            "CHATSERVER_LANGUAGES": "en, ja ,th",
            "CHATSERVER_ALLOWED_ORIGINS": "https://broker.example,https://www.broker.example",
            "CHATSERVER_UVLOOP": "off",
            "CHATSERVER_LOG_FORMAT": "JSON",
        }
    )
    assert settings.port == 9000
    assert settings.languages == ("en", "ja", "th")
    assert settings.cors_allowed_origins == ["https://broker.example", "https://www.broker.example"]
    assert settings.uvloop is False
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CHATSERVER_PORT", "http", "CHATSERVER_PORT (--port): expected an integer, got 'http'"),
        ("CHATSERVER_PORT", "70000", "CHATSERVER_PORT (--port): expected 0..65535, got 70000"),
        ("CHATSERVER_UVLOOP", "maybe", "CHATSERVER_UVLOOP (--uvloop): expected true/false"),
        ("CHATSERVER_LOG_LEVEL", "loud", "CHATSERVER_LOG_LEVEL (--log-level): expected one of"),
        ("CHATSERVER_DATABASE_URL", "mysql://x", "CHATSERVER_DATABASE_URL (--database-url)"),
        ("CHATSERVER_GC_THRESHOLD", "a,b", "CHATSERVER_GC_THRESHOLD (--gc-threshold)"),
        ("CHATSERVER_LANGUAGES", " , ", "CHATSERVER_LANGUAGES (--languages)"),
        ("CHATSERVER_LANGUAGES", "en,xx", "CHATSERVER_LANGUAGES (--languages): 'xx' is not a"),
        ("CHATSERVER_LANGUAGES", "en,ja,EN", "CHATSERVER_LANGUAGES (--languages): a language is"),
        ("CHATSERVER_DEFAULT_LANGUAGE", "xx", "CHATSERVER_DEFAULT_LANGUAGE: 'xx' is not in"),
        ("CHATSERVER_CHAT_HOURS", "mon-fri 9-5", "CHATSERVER_CHAT_HOURS (--chat-hours): expected"),
        ("CHATSERVER_TIMEZONE", "Tokyo", "CHATSERVER_TIMEZONE (--timezone): unknown time zone"),
        ("CHATSERVER_TIMEZONE", "Asia", "CHATSERVER_TIMEZONE (--timezone): unknown time zone"),
        ("CHATSERVER_RATE_MESSAGES", "10", "CHATSERVER_RATE_MESSAGES (--rate-messages): expected"),
        ("CHATSERVER_RATE_STARTS_PER_ADDRESS", "1/s burst 0", "CHATSERVER_RATE_STARTS_PER_ADD"),
        ("CHATSERVER_TRUSTED_PROXIES", "proxy", "CHATSERVER_TRUSTED_PROXIES (--trusted-proxies)"),
        ("CHATSERVER_LOGIN_CONCURRENCY", "0", "CHATSERVER_LOGIN_CONCURRENCY (--login-concurrency"),
        ("CHATSERVER_METRICS_TOKEN", "short", "CHATSERVER_METRICS_TOKEN (--metrics-token): use"),
        ("CHATSERVER_URGENT_EMAIL", "oncall", "CHATSERVER_URGENT_EMAIL (--urgent-email): expected"),
        (
            "CHATSERVER_URGENT_EMAIL",
            "a@example.com",
            "CHATSERVER_URGENT_EMAIL: needs CHATSERVER_SMTP",
        ),
        (
            "CHATSERVER_URGENT_WEBHOOK_URL",
            "hooks.slack",
            "CHATSERVER_URGENT_WEBHOOK_URL (--urgent-",
        ),
        ("CHATSERVER_URGENT_WEBHOOK_URL", "ftp://x.example", "CHATSERVER_URGENT_WEBHOOK_URL (--"),
    ],
)
def test_a_bad_value_names_its_variable(variable, value, expected):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)


def test_urgent_alerts_read_their_addresses_and_webhook():
    settings = Settings.from_env(
        {
            "CHATSERVER_SMTP_HOST": "mail.example.com",
            "CHATSERVER_SMTP_SENDER": "support@example.com",
            "CHATSERVER_URGENT_EMAIL": " lead@example.com, oncall@example.com ,",
            "CHATSERVER_URGENT_WEBHOOK_URL": "https://hooks.example.com/services/T0/B0/x",
        }
    )
    assert settings.urgent_email == ("lead@example.com", "oncall@example.com")
    assert settings.urgent_webhook_url == "https://hooks.example.com/services/T0/B0/x"
    assert (Settings.from_env({}).urgent_email, Settings.from_env({}).urgent_webhook_url) == (
        (),
        "",
    )


def test_flags_win_over_variables():
    args = build_parser().parse_args(["serve", "--port", "9100"])
    settings = settings_from(args, {"CHATSERVER_PORT": "9000", "CHATSERVER_HOST": "0.0.0.0"})
    assert settings.port == 9100
    assert settings.host == "0.0.0.0"


def test_help_shows_every_option_with_its_variable_and_default():
    result = subprocess.run(
        [sys.executable, "-m", "chatserver", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    squeezed = "".join(result.stdout.split())  # argparse wraps lines anywhere, even at '-'
    for option in OPTIONS:
        assert option.flag in result.stdout
        assert option.env in squeezed
        assert "".join(f"default: {option.default or '(empty)'}".split()) in squeezed


def test_readme_configuration_table_lists_every_variable():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for option in OPTIONS:
        assert f"`{option.env}`" in readme, f"README misses {option.env}"


def test_bad_value_stops_start_up_with_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "chatserver", "serve", "--port", "http"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "chatserver: error: CHATSERVER_PORT (--port): expected an integer, got 'http'"
    ]


def test_an_sla_file_overrides_the_briefs_targets(tmp_path):
    from datetime import timedelta

    from chatserver.settings import read_sla_file
    from chatserver.sla import Channel, policy_for

    path = tmp_path / "sla.yaml"
    path.write_text("chat:\n  first_response: 20s\n  warn_before: 5s\n", encoding="utf-8")
    settings = Settings.from_env({"CHATSERVER_SLA_FILE": str(path)})
    assert settings.sla_file == path
    chat = policy_for(Channel.CHAT, "urgent", read_sla_file(path))
    assert (chat.first_response, chat.warn_before) == (timedelta(seconds=20), timedelta(seconds=5))
    assert policy_for(Channel.CHAT, "low", read_sla_file(path)).resolution == timedelta(hours=48)


def test_the_example_sla_file_is_valid():
    assert Settings.from_env({"CHATSERVER_SLA_FILE": str(ROOT / "docs" / "sla.example.yaml")})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chat:\n  urgent:\n    first_response: soon\n", "sla.chat.urgent.first_response"),
        ("fax:\n  first_response: 1m\n", "sla.fax: unknown channel"),
        ("chat: [1, 2\n", "is not valid YAML"),
    ],
)
def test_a_bad_sla_file_names_the_file_and_the_key(tmp_path, text, expected):
    path = tmp_path / "sla.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"CHATSERVER_SLA_FILE": str(path)})
    message = str(raised.value)
    assert message.startswith("CHATSERVER_SLA_FILE (--sla-file): ")
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


def test_a_missing_sla_file_is_named():
    with pytest.raises(SettingsError, match=r"cannot read /nowhere/sla\.yaml"):
        Settings.from_env({"CHATSERVER_SLA_FILE": "/nowhere/sla.yaml"})

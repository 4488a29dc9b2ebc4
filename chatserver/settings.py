"""Configuration: one frozen `Settings`, read from `CHATSERVER_*` variables (or any mapping).

Each option is declared once in `OPTIONS`; the CLI builds its flags and `--help` from the
same table, and the README's configuration table is checked against it by a test.
A bad value raises `SettingsError` with one line naming the variable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError

from chatserver.limits import Limit, Network, Rate, parse_networks
from chatserver.models import CHAT_LANGUAGES

if TYPE_CHECKING:
    from chatserver.sla_topics import SlaMatrix

ENV_PREFIX = "CHATSERVER_"
LOG_LEVELS = ("debug", "info", "warning", "error")
# chatserver.language.BACKENDS, repeated so reading settings does not load the detectors.
LANGUAGE_BACKENDS = (
    "auto",
    "lingua+words",
    "lingua",
    "lingua-low",
    "langdetect",
    "langdetect+words",
)


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the variable."""


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"expected {low}..{high}, got {value}")
        return value

    return parse


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _languages(raw: str) -> tuple[str, ...]:
    """Tags babel knows (queues, names and formatting need its locale data), each once."""
    tags = _csv(raw)
    if not tags:
        raise ValueError("expected at least one language tag")
    for tag in tags:
        try:
            Locale.parse(tag.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            raise ValueError(f"{tag!r} is not a language tag babel knows") from None
    folded = [tag.casefold() for tag in tags]
    if len(set(folded)) != len(folded):
        raise ValueError("a language is listed twice")
    return tags


def _gc_threshold(raw: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in _csv(raw))
    except ValueError:
        raise ValueError(f"expected up to three integers like 50000,50,100, got {raw!r}") from None
    if not 1 <= len(values) <= 3 or any(v < 0 for v in values):
        raise ValueError(f"expected up to three non-negative integers, got {raw!r}")
    return values


def _fallbacks(raw: str) -> dict[str, tuple[str, ...]]:
    """`zh-Hant:zh-Hans,en;ms:id,en` -> {"zh-Hant": ("zh-Hans", "en"), "ms": ("id", "en")}."""
    chains: dict[str, tuple[str, ...]] = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        language, sep, rest = part.partition(":")
        chain = _csv(rest)
        if not sep or not language.strip() or not chain:
            raise ValueError(f"expected language:fallback,fallback;..., got {part!r}")
        chains[language.strip()] = chain
    return chains


def _database_url(raw: str) -> str:
    # sqlite+aiosqlite and postgresql+asyncpg are the spellings of earlier versions.
    if not raw.startswith(("sqlite://", "sqlite+aiosqlite://", "postgresql")):
        raise ValueError("expected sqlite:///PATH or postgresql://USER@HOST/DATABASE")
    return raw


def _redis_url(raw: str) -> str:
    if raw.strip() and not raw.strip().startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected redis://HOST:PORT/DB (or rediss://, unix://), or empty")
    return raw.strip()


def _chat_hours(raw: str) -> str:
    from chatserver.hours import parse_hours

    parse_hours(raw)  # the zone is checked by its own option
    return raw.strip()


def _timezone(raw: str) -> str:
    from chatserver.hours import parse_hours

    parse_hours("24/7", raw)
    return raw.strip()


def _hours_spec(raw: str) -> str:
    from chatserver.hours import parse_hours

    parse_hours(raw)
    return raw.strip()


def _channel_languages(raw: str) -> tuple[str, ...]:
    """Empty: every chat language; else tags as in CHATSERVER_LANGUAGES."""
    return _languages(raw) if raw.strip() else ()


def _email_address(raw: str) -> str:
    value = raw.strip()
    local, at, domain = value.rpartition("@")
    if value and (not at or not local or "." not in domain or " " in value):
        raise ValueError(f"expected an email address like support@example.com, got {raw!r}")
    return value


def _email_addresses(raw: str) -> tuple[str, ...]:
    return tuple(_email_address(part) for part in raw.split(",") if part.strip())


def _webhook_url(raw: str) -> str:
    value = raw.strip()
    if not value:
        return ""
    from yarl import URL

    try:
        url = URL(value)
    except ValueError:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"expected an http(s) URL like https://hooks.example.com/x, got {raw!r}")
    return value


def read_sla_file(path: Path) -> SlaMatrix:
    """SLA policies and topics from a YAML file over the brief's (docs/sla.example.yaml)."""
    import yaml

    from chatserver.sla import SlaConfigError
    from chatserver.sla_topics import matrix_from_mapping

    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from None
    try:
        return matrix_from_mapping(config)
    except SlaConfigError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _sla_file(raw: str) -> Path | None:
    if not raw.strip():
        return None
    path = Path(raw.strip())
    read_sla_file(path)
    return path


def _rate(raw: str) -> Rate | None:
    return Rate.parse(raw)


def _secret(raw: str) -> str:
    value = raw.strip()
    if value and len(value) < 16:
        raise ValueError("use at least 16 characters (or leave it empty)")
    return value


def _text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw.strip()


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # Settings field; the variable is CHATSERVER_<NAME>, the flag --<name>
    default: str
    parse: Callable[[str], Any]
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("host", "127.0.0.1", _text, "address to listen on"),
    Option("port", "8080", _int_range(0, 65535), "TCP port to listen on (0 picks a free one)"),
    Option(
        "database_url",
        "sqlite:///var/chatserver.sqlite3",
        _database_url,
        "where conversations are stored (SQLite file by default)",
    ),
    Option(
        "redis_url",
        "",
        _redis_url,
        "Redis shared by several server processes (desk state, the tick's lease, Socket.IO "
        "between processes); empty: this process serves the desk alone. Use it with a "
        "PostgreSQL database_url",
    ),
    Option(
        "redis_prefix",
        "chatserver",
        _text,
        "prefix of this desk's keys and channels in Redis (two desks may share one Redis)",
    ),
    Option(
        "database_pool_size",
        "20",
        _int_range(1, 1000),
        "PostgreSQL connections each process keeps open; a busy moment waits for one of "
        "them rather than opening (and closing again) more",
    ),
    Option(
        "sqlite_synchronous",
        "normal",
        _choice("normal", "full"),
        "SQLite durability: normal survives a crash of the server, full also a power cut "
        "(about ten times slower writes)",
    ),
    Option("faq_dir", "faq", Path, "directory of <lang>.yaml FAQ files"),
    Option("faq_skip_invalid", "false", _bool, "start even if some FAQ entries are invalid"),
    Option(
        "faq_embeddings",
        "true",
        _bool,
        "blend sentence embeddings (USE multilingual v3, ~70 MiB) into FAQ matching; "
        "false: TF-IDF and SVM only",
    ),
    Option(
        "faq_reload_interval",
        "2",
        _int_range(0, 3600),
        "seconds between checks for FAQ file changes (0: only on SIGHUP)",
    ),
    Option("locales_dir", "locales", Path, "gettext catalogs (<lang>/LC_MESSAGES/messages.po)"),
    Option("languages", ",".join(CHAT_LANGUAGES), _languages, "chat languages, BCP 47 tags"),
    Option("default_language", "en", _text, "language used when nothing else tells"),
    Option(
        "language_backend",
        "auto",
        _choice(*LANGUAGE_BACKENDS),
        "statistical language detector: auto (lingua + word frequencies, ~100 MiB) "
        "or langdetect (~50 MiB, less accurate on short text)",
    ),
    Option(
        "allowed_origins",
        "",
        _csv,
        "origins allowed to open Socket.IO connections, comma-separated; "
        "empty = same origin, * = any",
    ),
    Option("max_message_chars", "4000", _int_range(1, 100_000), "longest customer message"),
    Option(
        "session_hours", "12", _int_range(1, 24 * 30), "how long an agent's console log-in lasts"
    ),
    Option(
        "trusted_proxies",
        "",
        parse_networks,
        "reverse proxies (addresses or CIDR networks, comma-separated) whose "
        "X-Forwarded-For names the client; empty: the peer address is the client",
    ),
    # Rate limits: RATE/UNIT burst N (a token bucket), or off. Per connection and per client
    # address; an event passes only when both allow it.
    Option(
        "rate_messages",
        "1/s burst 10",
        _rate,
        "messages a connection may send (customer and agent messages, notes, suggestion "
        "picks, language choices, left messages)",
    ),
    Option("rate_messages_per_address", "20/s burst 200", _rate, "the same, per client address"),
    Option("rate_starts", "6/min burst 10", _rate, "'start's (new or resumed chats) a connection"),
    Option("rate_starts_per_address", "2/s burst 120", _rate, "'start's per client address"),
    Option("rate_typing", "2/s burst 10", _rate, "typing notices a connection may send"),
    Option("rate_typing_per_address", "50/s burst 500", _rate, "typing notices per address"),
    Option("rate_events", "5/s burst 30", _rate, "any other event a connection may send"),
    Option("rate_events_per_address", "50/s burst 500", _rate, "any other event per address"),
    Option(
        "rate_connections_per_address",
        "5/s burst 120",
        _rate,
        "new Socket.IO connections (customer and agent) per client address",
    ),
    Option(
        "rate_transcript_emails",
        "3/h burst 3",
        _rate,
        "transcripts a conversation's customer may have emailed (any address)",
    ),
    Option(
        "rate_transcript_emails_per_address",
        "10/h burst 10",
        _rate,
        "transcripts emailed per client address, all conversations together",
    ),
    Option(
        "rate_logins_per_address",
        "5/min burst 30",
        _rate,
        "failed (or pending) console log-ins per client address; on top of it, 5 wrong "
        "passwords for one username from one address pause that pair for 5 minutes",
    ),
    Option(
        "login_concurrency",
        "2",
        _int_range(1, 64),
        "password checks (Argon2id, 64 MiB each) run at once; a few more wait, the rest get "
        "429 at once",
    ),
    Option(
        "metrics_token",
        "",
        _secret,
        "bearer token /metrics requires (at least 16 characters); empty: /metrics is open",
    ),
    Option(
        "demo_agents",
        "false",
        _bool,
        "create demo agent accounts (password demo-password) when there are none",
    ),
    Option(
        "fallbacks",
        "zh-Hant:zh-Hans,en;zh-Hans:zh-Hant,en;ms:id,en;id:ms,en",
        _fallbacks,
        "fallback languages when nobody speaks the customer's (others fall back to en)",
    ),
    Option("accept_timeout", "10", _int_range(1, 600), "seconds an offered chat waits for accept"),
    Option(
        "fallback_after",
        "15",
        _int_range(1, 3600),
        "seconds of waiting after which a queue widens to the next fallback language",
    ),
    Option(
        "agent_grace_seconds",
        "30",
        _int_range(0, 3600),
        "an agent who disconnected keeps their chats this long before going offline",
    ),
    Option(
        "customer_grace_seconds",
        "60",
        _int_range(0, 3600),
        "a customer whose widget disconnected keeps their place this long; then they "
        "leave the queue (abandoned) or their chat with an agent ends",
    ),
    Option(
        "chat_hours",
        "24/7",
        _chat_hours,
        "when live chat takes customers, e.g. 'mon-fri 08:00-20:00; sat 09:00-13:00'; "
        "out of hours a handoff offers to leave a message or ask for a call back",
    ),
    Option("timezone", "UTC", _timezone, "the desk's time zone for chat hours (IANA name)"),
    Option(
        "email_hours",
        "24/7",
        _hours_spec,
        "when the email inbox's first-response clock runs (as CHATSERVER_CHAT_HOURS)",
    ),
    Option(
        "email_languages",
        "",
        _channel_languages,
        "languages the email inbox answers in (empty: every chat language); others in en",
    ),
    Option(
        "callback_hours",
        "mon-fri 09:00-18:00",
        _hours_spec,
        "business hours of callbacks: their 15-minute clock runs only then",
    ),
    Option(
        "callback_languages",
        "ja,en,zh-Hans,zh-Hant,ko,th,vi,id",
        _channel_languages,
        "languages the desk calls back in (empty: every chat language); others in en",
    ),
    Option("smtp_host", "", lambda raw: raw.strip(), "SMTP server for replies (empty: no mail)"),
    Option("smtp_port", "587", _int_range(1, 65535), "SMTP port"),
    Option("smtp_tls", "starttls", _choice("none", "starttls", "tls"), "none, starttls or tls"),
    Option("smtp_user", "", lambda raw: raw.strip(), "SMTP user name (empty: no log-in)"),
    Option("smtp_password", "", lambda raw: raw, "SMTP password"),
    Option(
        "smtp_sender",
        "",
        _email_address,
        "From address of replies; the Reply-To is it plus the tracking number "
        "(support+K7PX-4QR9-M@example.com)",
    ),
    Option(
        "inbound_email_secret",
        "",
        _secret,
        "bearer token POST /api/v1/inbound-email requires (at least 16 characters); "
        "empty: the endpoint is off",
    ),
    Option(
        "urgent_email",
        "",
        _email_addresses,
        "addresses (comma-separated) an urgent chat is emailed to at once; needs "
        "CHATSERVER_SMTP_HOST (empty: no email)",
    ),
    Option(
        "urgent_webhook_url",
        "",
        _webhook_url,
        "URL an urgent chat is POSTed to as JSON with a `text` (Slack/Mattermost incoming "
        "webhooks); empty: no webhook",
    ),
    Option(
        "sla_file",
        "",
        _sla_file,
        "YAML file of SLA targets and warnings over the brief's (docs/sla.example.yaml); "
        "empty: chat 30 s, the brief's priority table",
    ),
    Option(
        "identity_secret",
        "",
        lambda raw: raw,
        "HMAC-SHA256 key the broker's site signs customer identities with (empty: no VIPs)",
    ),
    Option("log_level", "info", _choice(*LOG_LEVELS), "log level"),
    Option("log_format", "text", _choice("text", "json"), "text, or one JSON object a line"),
    Option("uvloop", "true", _bool, "use uvloop's event loop when it is installed"),
    Option(
        "gc_threshold",
        "50000,50,100",
        _gc_threshold,
        "gc.set_threshold values; larger first generation = fewer pauses under load",
    ),
    Option(
        "gc_freeze",
        "true",
        _bool,
        "gc.freeze() after start-up so long-lived objects are not rescanned",
    ),
    Option(
        "listen_backlog",
        "4096",
        _int_range(1, 65535),
        "connections the kernel queues before the server accepts them: a desk where thousands "
        "of widgets reconnect at once (a restart) needs more than aiohttp's 128; the kernel "
        "caps it at net.core.somaxconn",
    ),
    Option(
        "shutdown_timeout", "10", _int_range(0, 600), "seconds to let connections finish on stop"
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str
    port: int
    database_url: str
    redis_url: str
    redis_prefix: str
    database_pool_size: int
    sqlite_synchronous: str
    faq_dir: Path
    faq_skip_invalid: bool
    faq_embeddings: bool
    faq_reload_interval: int
    locales_dir: Path
    languages: tuple[str, ...]
    default_language: str
    language_backend: str
    allowed_origins: tuple[str, ...]
    max_message_chars: int
    session_hours: int
    trusted_proxies: tuple[Network, ...]
    rate_messages: Rate | None
    rate_messages_per_address: Rate | None
    rate_starts: Rate | None
    rate_starts_per_address: Rate | None
    rate_typing: Rate | None
    rate_typing_per_address: Rate | None
    rate_events: Rate | None
    rate_events_per_address: Rate | None
    rate_connections_per_address: Rate | None
    rate_logins_per_address: Rate | None
    rate_transcript_emails: Rate | None
    rate_transcript_emails_per_address: Rate | None
    login_concurrency: int
    metrics_token: str
    demo_agents: bool
    fallbacks: dict[str, tuple[str, ...]]
    accept_timeout: int
    fallback_after: int
    agent_grace_seconds: int
    customer_grace_seconds: int
    chat_hours: str
    timezone: str
    email_hours: str
    email_languages: tuple[str, ...]
    callback_hours: str
    callback_languages: tuple[str, ...]
    smtp_host: str
    smtp_port: int
    smtp_tls: str
    smtp_user: str
    smtp_password: str
    smtp_sender: str
    inbound_email_secret: str
    urgent_email: tuple[str, ...]
    urgent_webhook_url: str
    sla_file: Path | None
    identity_secret: str
    log_level: str
    log_format: str
    uvloop: bool
    gc_threshold: tuple[int, ...]
    gc_freeze: bool
    listen_backlog: int
    shutdown_timeout: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read every option from `env` (e.g. os.environ), falling back to its default."""
        values: dict[str, Any] = {}
        for option in OPTIONS:
            raw = env.get(option.env, option.default)
            try:
                values[option.name] = option.parse(raw)
            except ValueError as exc:
                raise SettingsError(f"{option.env} ({option.flag}): {exc}") from None
        settings = cls(**values)
        if settings.smtp_host and not settings.smtp_sender:
            raise SettingsError(
                f"{ENV_PREFIX}SMTP_SENDER: required with {ENV_PREFIX}SMTP_HOST (the From address)"
            )
        if settings.urgent_email and not settings.smtp_host:
            raise SettingsError(
                f"{ENV_PREFIX}URGENT_EMAIL: needs {ENV_PREFIX}SMTP_HOST (the mail server)"
            )
        if settings.redis_url and settings.database_url.startswith("sqlite"):
            raise SettingsError(
                f"{ENV_PREFIX}REDIS_URL: processes sharing a desk need a shared database "
                f"({ENV_PREFIX}DATABASE_URL=postgresql://...), not a SQLite file"
            )
        if settings.default_language not in settings.languages:
            raise SettingsError(
                f"{ENV_PREFIX}DEFAULT_LANGUAGE: {settings.default_language!r} is not in "
                f"{ENV_PREFIX}LANGUAGES"
            )
        return settings

    @classmethod
    def defaults(cls, **overrides: Any) -> Settings:
        """The defaults with some fields replaced (tests and embedding)."""
        base = cls.from_env({})
        values = {f.name: getattr(base, f.name) for f in fields(cls)}
        values.update(overrides)
        return cls(**values)

    @property
    def event_limits(self) -> dict[str, Limit]:
        """The rate limits of each kind of event (chatserver.sockets.base.EVENT_KINDS)."""
        return {
            "messages": Limit(self.rate_messages, self.rate_messages_per_address),
            "starts": Limit(self.rate_starts, self.rate_starts_per_address),
            "typing": Limit(self.rate_typing, self.rate_typing_per_address),
            "events": Limit(self.rate_events, self.rate_events_per_address),
            "connections": Limit(None, self.rate_connections_per_address),
            # Keyed by conversation (not connection) and by client address.
            "transcript_emails": Limit(
                self.rate_transcript_emails, self.rate_transcript_emails_per_address
            ),
        }

    @property
    def cors_allowed_origins(self) -> list[str] | str | None:
        """python-socketio's form: None = same origin only, '*' = any, or a list."""
        if not self.allowed_origins:
            return None
        if "*" in self.allowed_origins:
            return "*"
        return list(self.allowed_origins)

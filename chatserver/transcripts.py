"""A conversation's transcript, for the customer to keep and for agents to export.

Pure: takes the conversation, its stored messages, a translator and a time zone, and
returns the transcript as plain text and as a standalone HTML document (UTF-8, escaped,
`lang` and `dir` set, inline CSS, printable: "save as PDF" from a browser gives the PDF).
The customer's copy never holds agents' internal notes; the agents' copy has them, marked.
`transcript_bodies` is the seam for sending one by email: the text and HTML bodies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime, format_time
from babel.lists import format_list

from chatserver.agents import AgentAccount
from chatserver.holdings import Holding, HoldingEnd, ever_held
from chatserver.i18n import N_, Translator
from chatserver.models import Author, Conversation, ConversationStatus, Message, Team
from chatserver.system_lines import SystemLine

TITLE = N_("Conversation transcript")
STARTED = N_("Started")
TIME_ZONE = N_("Time zone")
TRACKING_NUMBER = N_("Tracking number")
NOTE = N_("Internal note")
CUSTOMER_SELF = N_("You")
CUSTOMER = N_("Customer")
BOT = N_("Virtual assistant")
AGENT = N_("Support agent")
DESK = N_("Customer support")
HANDLED_BY = N_("Handled by")
# One agent's stretch in the staff's header; {since} and {until} are times (or dates and
# times), {name} the agent's display name.
HELD = N_("{name} {since}–{until}")
HELD_NOW = N_("{name} since {since}")
HELD_ENDED = {
    HoldingEnd.CLOSED: HELD,
    HoldingEnd.TRANSFERRED: N_("{name} {since}–{until} (transferred)"),
    HoldingEnd.REQUEUED: N_("{name} {since}–{until} (back in the queue)"),
}

FORMATS = ("txt", "html")
MAX_ZONE_CHARS = 64
# "Area/Location" names: nothing that could reach outside the zone database.
ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")


class Audience(StrEnum):
    """Who reads the transcript: the customer (no notes) or the desk's staff (notes too)."""

    CUSTOMER = "customer"
    STAFF = "staff"


class InvalidTimeZone(ValueError):
    """A time zone that is not an IANA name this machine knows."""


def parse_zone(name: str | None, default: str) -> ZoneInfo:
    """The IANA zone a client named (the widget sends the browser's), or `default` without one."""
    raw = (name or "").strip() or default
    if len(raw) > MAX_ZONE_CHARS:
        raise InvalidTimeZone("tz is too long to be a time zone (an IANA name such as Asia/Tokyo)")
    try:
        if not ZONE_NAME.fullmatch(raw):
            raise ValueError(raw)
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a region ("Asia"), a directory
        raise InvalidTimeZone(
            f"unknown time zone {raw!r} (an IANA name such as Asia/Tokyo)"
        ) from None


class InvalidFormat(ValueError):
    """A transcript format this server does not make."""


@dataclass(frozen=True, slots=True)
class TranscriptQuery:
    """`?format=txt|html&tz=<IANA zone>`, checked."""

    format: str
    zone: ZoneInfo

    @classmethod
    def parse(cls, query: Mapping[str, str], *, default_zone: str) -> TranscriptQuery:
        """Raises InvalidFormat or InvalidTimeZone, each saying what is wrong."""
        fmt = query.get("format", "txt")
        if fmt not in FORMATS:
            raise InvalidFormat("format must be txt or html")
        return cls(fmt, parse_zone(query.get("tz"), default_zone))


@dataclass(frozen=True, slots=True)
class Line:
    """One message as the transcript shows it."""

    day: date  # in the reader's zone: a heading starts each new day
    time: str
    iso: str
    author: str  # who, as the reader names them
    kind: str  # customer | bot | agent | system
    text: str
    note: bool
    options: tuple[str, ...] = ()  # the topics a bot message offered as buttons


@dataclass(frozen=True, slots=True)
class Transcript:
    language: str
    direction: str
    title: str
    facts: tuple[tuple[str, str], ...]  # label, value: tracking number, start, time zone
    lines: tuple[Line, ...]
    day_names: dict[date, str]
    note_label: str
    filename_stem: str


@dataclass(frozen=True, slots=True)
class Waiting:
    """Where a waiting conversation is shown: its queue's team, and the languages of the
    agents who see it (its own, and those its queue widened to)."""

    team: Team | None
    languages: tuple[str, ...]


def may_export(
    account: AgentAccount,
    conversation: Conversation,
    messages: Iterable[Message],
    holdings: Sequence[Holding] = (),
    *,
    waiting: Waiting | None = None,
) -> bool:
    """Supervisors export any conversation. An agent exports those they can see: that they
    hold or ever held (the history; or wrote in, for chats from before it was kept), and
    one waiting in a queue they serve (their team, a language they speak), so they can read
    what the customer wrote before taking it."""
    if account.role.supervises or conversation.agent_id == account.id:
        return True
    if ever_held(account.id, holdings):
        return True
    if waiting is not None and conversation.status is ConversationStatus.QUEUED:
        team_served = waiting.team is None or waiting.team in account.teams
        if team_served and not set(account.languages).isdisjoint(waiting.languages):
            return True
    return any(message.meta.get("agent_id") == account.id for message in messages)


def same_customer(conversation: Conversation, held: Iterable[Conversation]) -> bool:
    """An agent serving a signed-in customer now may read that customer's earlier
    conversations: the customer panel lists them beside the chat."""
    customer_id = conversation.customer_id
    return customer_id is not None and any(c.customer_id == customer_id for c in held)


def handled_by(
    holdings: Sequence[Holding],
    names: Mapping[str, str],
    *,
    translator: Translator,
    zone: ZoneInfo,
) -> str:
    """ "Emma 10:02–10:07 (transferred), Carlos 10:07–10:20": who held the conversation, in
    the reader's language and zone (a stretch over midnight gets its dates)."""
    _ = translator.gettext
    locale = translator.locale
    parts: list[str] = []
    for holding in holdings:
        name = names.get(holding.agent_id) or holding.agent_id
        since = holding.since.astimezone(zone)
        start = format_time(since, "short", tzinfo=zone, locale=locale)
        if holding.until is None:
            parts.append(_(HELD_NOW).format(name=name, since=start))
            continue
        until = holding.until.astimezone(zone)
        if until.date() != since.date():
            start = format_datetime(since, "short", tzinfo=zone, locale=locale)
            end = format_datetime(until, "short", tzinfo=zone, locale=locale)
        else:
            end = format_time(until, "short", tzinfo=zone, locale=locale)
        template = HELD_ENDED.get(holding.ended or HoldingEnd.CLOSED, HELD)
        parts.append(_(template).format(name=name, since=start, until=end))
    return format_list(parts, locale=locale) if parts else ""


def build(
    conversation: Conversation,
    messages: Sequence[Message],
    *,
    translator: Translator,
    zone: ZoneInfo,
    audience: Audience,
    holdings: Sequence[Holding] = (),
    names: Mapping[str, str] | None = None,
) -> Transcript:
    """What the transcript says, worded in the translator's language, times in `zone`;
    staff also read who handled it (`holdings`, agents' `names` by id), customers never."""
    _ = translator.gettext
    locale = translator.locale
    staff = audience is Audience.STAFF
    # A greeting said again in a language the customer picked stands for the first one (the
    # widget shows only the new one).
    replaced = {message.meta.get("replaces") for message in messages}
    lines = tuple(
        _line(message, translator, zone, staff=staff)
        for message in messages
        if staff or not (message.internal or message.seq in replaced)
    )
    started = conversation.created_at.astimezone(zone)
    facts: list[tuple[str, str]] = []
    if conversation.tracking_number:
        facts.append((_(TRACKING_NUMBER), conversation.tracking_number))
    facts.append((_(STARTED), format_datetime(started, "long", tzinfo=zone, locale=locale)))
    facts.append((_(TIME_ZONE), zone.key))
    if staff and holdings:
        handled = handled_by(holdings, names or {}, translator=translator, zone=zone)
        facts.append((_(HANDLED_BY), handled))
    stem = conversation.tracking_number or started.date().isoformat()
    return Transcript(
        language=translator.language,
        direction=translator.direction,
        title=_(TITLE),
        facts=tuple(facts),
        lines=lines,
        day_names={line.day: format_date(line.day, "full", locale=locale) for line in lines},
        note_label=_(NOTE),
        filename_stem=f"transcript-{stem}",
    )


def _line(message: Message, translator: Translator, zone: ZoneInfo, *, staff: bool) -> Line:
    _ = translator.gettext
    local = message.created_at.astimezone(zone)
    text = message.text
    if message.author is Author.CUSTOMER:
        author = _(CUSTOMER) if staff else _(CUSTOMER_SELF)
    elif message.author is Author.BOT:
        author = _(BOT)
    elif message.author is Author.AGENT:
        name = message.meta.get("agent_name")
        author = name if isinstance(name, str) and name else _(AGENT)
    else:
        author = _(DESK)
        text = _system_text(message, translator)
    return Line(
        day=local.date(),
        time=format_time(local, "short", tzinfo=zone, locale=translator.locale),
        iso=local.isoformat(),
        author=author,
        kind=str(message.author),
        text=text,
        note=message.internal,
        options=_offered(message) if message.author is Author.BOT else (),
    )


def _offered(message: Message) -> tuple[str, ...]:
    """The questions a bot message offered as buttons (suggestions, related topics)."""
    items = message.meta.get("suggestions") or message.meta.get("related") or []
    if not isinstance(items, list):
        return ()
    return tuple(
        item["question"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("question"), str)
    )


def _system_text(message: Message, translator: Translator) -> str:
    """A desk line in the reader's language when it was stored in another (an English agent
    exporting a Thai chat); the stored text otherwise."""
    line = SystemLine.from_meta(message.meta)
    if line is None or message.language == translator.language:
        return message.text
    try:
        return line.render(translator)
    except (KeyError, IndexError, ValueError):
        return message.text


def render_text(transcript: Transcript) -> str:
    """Plain text: a heading, the facts, then each day's messages, notes marked."""
    out = [transcript.title, "=" * max(len(transcript.title), 10)]
    out += [f"{label}: {value}" for label, value in transcript.facts]
    day: date | None = None
    for line in transcript.lines:
        if line.day != day:
            day = line.day
            out += ["", f"-- {transcript.day_names[day]} --"]
        marker = f" [{transcript.note_label}]" if line.note else ""
        out.append("")
        out.append(f"[{line.time}] {line.author}{marker}:")
        out += [f"  {part}" for part in line.text.splitlines() or [""]]
        out += [f"  • {option}" for option in line.options]
    return "\n".join(out) + "\n"


STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans", sans-serif;
  color: #1d2330; background: #fff; margin: 0; }
main { max-width: 46rem; margin: 0 auto; padding: 2rem 1.5rem; }
h1 { font-size: 1.4rem; margin: 0 0 .75rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1.5rem;
  color: #4a5263; }
dt { font-weight: 600; }
dd { margin: 0; }
h2 { font-size: .95rem; color: #4a5263; border-bottom: 1px solid #d8dce4;
  padding-bottom: .25rem; margin: 1.5rem 0 .75rem; }
ol { list-style: none; margin: 0; padding: 0; }
li { margin: 0 0 .8rem; padding: .5rem .75rem; border-radius: 8px; background: #f3f5f9;
  break-inside: avoid; page-break-inside: avoid; }
li.customer { background: #e8f0fe; }
li.system { background: transparent; color: #4a5263; font-style: italic; }
li.note { background: #fff6d6; border: 1px dashed #c9a227; }
.who { font-weight: 600; }
.when { color: #6b7386; font-size: .85em; margin-inline-start: .5rem; }
.tag { font-size: .8em; font-weight: 600; color: #7a5c00; margin-inline-start: .5rem; }
.text { margin: .2rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
ul.options { margin: .3rem 0 0; padding-inline-start: 1.2rem; list-style: disc; }
ul.options li { margin: 0; padding: 0; background: none; border: 0; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  li { background: none; border: 1px solid #d8dce4; }
  li.note { border: 1px dashed #7a5c00; }
}
@page { margin: 18mm 15mm; }
""".strip()


def render_html(transcript: Transcript) -> str:
    """A standalone, printable HTML document; everything people wrote is escaped and
    isolated (`dir="auto"`), so a message cannot add markup or reorder the page."""
    lang = escape(transcript.language, quote=True)
    direction = escape(transcript.direction, quote=True)
    title = escape(transcript.title)
    parts = [
        "<!doctype html>",
        f'<html lang="{lang}" dir="{direction}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>\n{STYLE}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{title}</h1>",
        "<dl>",
    ]
    for label, value in transcript.facts:
        parts.append(f"<dt>{escape(label)}</dt><dd><bdi>{escape(value)}</bdi></dd>")
    parts.append("</dl>")
    day: date | None = None
    for line in transcript.lines:
        if line.day != day:
            if day is not None:
                parts.append("</ol>")
            day = line.day
            parts.append(f"<h2>{escape(transcript.day_names[day])}</h2>")
            parts.append("<ol>")
        classes = f"{line.kind} note" if line.note else line.kind
        tag = f'<span class="tag">{escape(transcript.note_label)}</span>' if line.note else ""
        parts.append(
            f'<li class="{classes}">'
            f'<span class="who" dir="auto">{escape(line.author)}</span>'
            f'<time class="when" datetime="{escape(line.iso, quote=True)}">'
            f"{escape(line.time)}</time>{tag}"
            f'<p class="text" dir="auto">{escape(line.text)}</p>{_options_html(line)}</li>'
        )
    if day is not None:
        parts.append("</ol>")
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _options_html(line: Line) -> str:
    if not line.options:
        return ""
    items = "".join(f'<li dir="auto">{escape(option)}</li>' for option in line.options)
    return f'<ul class="options">{items}</ul>'


@dataclass(frozen=True, slots=True)
class TranscriptBodies:
    """A transcript as the two bodies of an email (multipart/alternative)."""

    subject: str
    text: str
    html: str


def transcript_bodies(
    conversation: Conversation,
    messages: Sequence[Message],
    *,
    translator: Translator,
    zone: ZoneInfo,
    audience: Audience = Audience.CUSTOMER,
) -> TranscriptBodies:
    """The seam for mailing a transcript: subject, text and HTML bodies, the customer's by
    default (notes left out)."""
    transcript = build(conversation, messages, translator=translator, zone=zone, audience=audience)
    subject = transcript.title
    if conversation.tracking_number:
        subject = f"{subject} {conversation.tracking_number}"
    return TranscriptBodies(subject, render_text(transcript), render_html(transcript))


def render(transcript: Transcript, fmt: str) -> tuple[str, str, str]:
    """The body, its content type and a file name for a download in `fmt` (txt or html)."""
    if fmt == "html":
        return render_html(transcript), "text/html", f"{transcript.filename_stem}.html"
    return render_text(transcript), "text/plain", f"{transcript.filename_stem}.txt"

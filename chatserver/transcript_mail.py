"""A transcript sent by email to the customer who asks for it.

Pure: checks the address the customer typed and composes the email (the customer's copy,
no internal notes: `transcripts.transcript_bodies`), the plain text as the body and the
printable HTML as its alternative part, so any mail program shows one of them and a
browser can still save the HTML one as a PDF. Sending is `mail.Mailer`'s.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from chatserver.mail import SmtpConfig
from chatserver.transcripts import TranscriptBodies

MAX_EMAIL_CHARS = 254  # RFC 5321's longest path, less the angle brackets
# One plain address: no display name, no list, nothing a header could be split on.
_ADDRESS = re.compile(
    r"[^\s@<>()\[\],;:\"\\]{1,64}@[^\s@<>()\[\],;:\"\\]+\.[^\s@<>()\[\],;:\"\\.]+"
)


def is_email_address(text: str) -> bool:
    """Whether `text` is a single plain address (what the request schema accepts)."""
    if len(text) > MAX_EMAIL_CHARS or not _ADDRESS.fullmatch(text):
        return False
    local, _, domain = text.rpartition("@")
    return not (
        ".." in text or local.startswith(".") or local.endswith(".") or domain.startswith(".")
    )


def compose_transcript(
    config: SmtpConfig, *, to: str, bodies: TranscriptBodies, number: str | None
) -> EmailMessage:
    """The email: localised subject (with the tracking number), text body, HTML alternative.
    Replies reach the desk's inbox under the tracking number, as an agent's reply would."""
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = to
    message["Subject"] = bodies.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    if number:
        message["X-Tracking-Number"] = number
    message.set_content(bodies.text)
    message.add_alternative(bodies.html, subtype="html")
    return message

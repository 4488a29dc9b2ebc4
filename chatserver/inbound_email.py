"""`POST /api/v1/inbound-email`: customers' emailed replies come back into their inquiry.

A webhook rather than polling an IMAP mailbox: the mail provider (or a small relay in front
of the desk's mailbox) already parses the email and posts it, the server keeps no mailbox
credentials and no polling task, and a test can drive it as the provider does. The
provider authenticates with the shared secret `CHATSERVER_INBOUND_EMAIL_SECRET` as a bearer
token; without the setting the endpoint answers 404. The body is JSON ``{"to", "sender",
"subject", "text"}``: the tracking number is read from the recipient's plus-address
(``support+K7PX-4QR9-M@example.com``, the Reply-To of every reply) or else from the
subject, and the sender must be the address the customer left.
"""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from chatserver.inbox import InboxError
from chatserver.keys import SERVICES, SETTINGS, SIO
from chatserver.sockets.base import publish
from chatserver.sockets.payloads import InboundEmailRequest, bearer_token

routes = web.RouteTableDef()
MAX_INBOUND_BODY = 256 * 1024


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@routes.post("/api/v1/inbound-email")
async def inbound_email(request: web.Request) -> web.Response:
    secret = request.app[SETTINGS].inbound_email_secret
    if not secret:
        return _error(404, "not_found", "inbound email is not configured")
    token = bearer_token(request.headers.get("Authorization", "")) or ""
    if not hmac.compare_digest(token.encode(), secret.encode()):
        return _error(401, "unauthorized", "send Authorization: Bearer <inbound email secret>")
    if request.content_length is not None and request.content_length > MAX_INBOUND_BODY:
        return _error(413, "too_large", f"the body is over {MAX_INBOUND_BODY} bytes")
    try:
        body = json.loads(await request.content.read(MAX_INBOUND_BODY + 1))
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return _error(400, "invalid_payload", 'send JSON {"to", "sender", "subject", "text"}')
    email = InboundEmailRequest.parse(body, max_chars=request.app[SETTINGS].max_message_chars)
    try:
        outcome = await request.app[SERVICES].inbox.customer_replied(
            to=email.to, subject=email.subject, sender=email.sender, text=email.text
        )
    except InboxError as exc:
        return _error(404, exc.code, str(exc))
    await publish(request.app[SIO], request.app, outcome.notifications)
    return web.json_response({"ok": True, "item_id": outcome.result["item_id"]})

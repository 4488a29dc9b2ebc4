"""HTTP API for the console: log in and out (more of /api/v1 arrives with its issues)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from chatserver.accounts import InvalidCredentials, TooManyAttempts
from chatserver.keys import SERVICES

routes = web.RouteTableDef()
MAX_LOGIN_BODY = 4096


def api_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    if request.content_length is not None and request.content_length > MAX_LOGIN_BODY:
        return None
    try:
        body = json.loads(await request.content.read(MAX_LOGIN_BODY + 1))
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


@routes.post("/api/v1/login")
async def login(request: web.Request) -> web.Response:
    """`{"username", "password"}` -> `{"token", "expires_at", "agent"}`; 401 when wrong."""
    body = await _json_body(request)
    if body is None or not all(isinstance(body.get(k), str) for k in ("username", "password")):
        return api_error(400, "invalid_payload", 'send JSON {"username": ..., "password": ...}')
    accounts = request.app[SERVICES].accounts
    try:
        logged_in = await accounts.login(body["username"].strip().lower(), body["password"])
    except InvalidCredentials as exc:
        return api_error(401, exc.code, str(exc))
    except TooManyAttempts as exc:
        return api_error(429, exc.code, str(exc))
    return web.json_response(
        {
            "token": logged_in.token,
            "expires_at": logged_in.session.expires_at.isoformat(),
            "agent": logged_in.account.to_public(),
        }
    )


@routes.post("/api/v1/logout")
async def logout(request: web.Request) -> web.Response:
    token = bearer_token(request)
    if token is None:
        return api_error(401, "unauthorized", "send Authorization: Bearer <token>")
    await request.app[SERVICES].accounts.logout(token)
    return web.json_response({"ok": True})

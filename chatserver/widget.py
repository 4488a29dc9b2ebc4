"""The customer chat widget over HTTP: its pages, its static files, and the two small JSON
resources it reads before it connects (the chat languages, and its own strings). The agents'
console page (`/console/`) is served here too, with the same headers; it reads the same
strings.

Owns what browsers are told about those responses (CSP and the other security headers,
caching). Knows nothing of Socket.IO: the widget speaks `/customer` (docs/protocol.md) like
any other client. The files live in `static/` at the top of the repository, beside `faq/`
and `locales/`; there is no build step, the browser loads them as they are.
"""

from __future__ import annotations

import asyncio
import json
import re
from functools import partial
from pathlib import Path, PurePosixPath

from aiohttp import hdrs, web

from chatserver.keys import SERVICES, SETTINGS
from chatserver.language import display_name, negotiate, text_direction
from chatserver.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
DEMO_PAGE = STATIC_DIR / "demo" / "index.html"
WIDGET_PAGE = STATIC_DIR / "widget" / "index.html"
CONSOLE_PAGE = STATIC_DIR / "console" / "index.html"
# GET /widget.js: the message bridge (an ES module the widget imports too) and the loader.
EMBED_BRIDGE = STATIC_DIR / "embed" / "bridge.js"
EMBED_LOADER = STATIC_DIR / "embed" / "loader.js"

# No build step, so file names carry no content hash: a short freshness, then a cheap
# revalidation (ETag / Last-Modified -> 304), so a deploy reaches every browser in minutes.
STATIC_CACHE_CONTROL = "public, max-age=300"
# Pages are always revalidated, so they never point at files that have changed under them.
PAGE_CACHE_CONTROL = "no-cache"
# Languages and strings change only with a restart (catalogs load at start-up).
API_CACHE_CONTROL = "public, max-age=300"

# Module scripts must be served with a JavaScript type (browsers refuse anything else under
# nosniff); the platform's mimetypes table is not trusted for that.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

# Non-Latin strings as UTF-8 rather than \u escapes: a third of the bytes for CJK.
_dumps = partial(json.dumps, ensure_ascii=False)

routes = web.RouteTableDef()


def _csp(*directives: str) -> str:
    return "; ".join(directives)


def widget_csp(settings: Settings) -> str:
    """No inline script or style, and nothing but this server to talk to. The sites that
    may frame the widget are the ones allowed to talk to the server (`allowed_origins`)."""
    if "*" in settings.allowed_origins:
        ancestors = "*"
    else:
        ancestors = " ".join(["'self'", *settings.allowed_origins])
    return _csp(
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        f"frame-ancestors {ancestors}",
    )


DEMO_CSP = _csp(
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)


# The staff console: the widget's policy, but never framed by anyone (clickjacking).
CONSOLE_CSP = _csp(
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)


def _page(path: Path, csp: str) -> web.FileResponse:
    return web.FileResponse(
        path,
        headers={
            hdrs.CONTENT_TYPE: CONTENT_TYPES[".html"],
            hdrs.CACHE_CONTROL: PAGE_CACHE_CONTROL,
            "Content-Security-Policy": csp,
            **COMMON_HEADERS,
        },
    )


def _json(data: object) -> web.Response:
    headers = {hdrs.CACHE_CONTROL: API_CACHE_CONTROL, **COMMON_HEADERS}
    return web.json_response(data, headers=headers, dumps=_dumps)


@routes.get("/")
async def demo(request: web.Request) -> web.FileResponse:
    """A plain broker website with the widget in its corner (what `make run` shows)."""
    return _page(DEMO_PAGE, DEMO_CSP)


def loader_script(bridge: str, loader: str) -> str:
    """The one-tag loader as a classic script: the bridge module's top-level `export`s made
    plain declarations, then the loader, both inside one function (nothing leaks into the
    host page's globals but `$chatserver`). The bridge has no imports (it says so)."""
    if re.search(r"^\s*import\b", bridge, re.M):
        raise ValueError("static/embed/bridge.js must not import anything")
    body = re.sub(r"^export (?=(?:async )?function |const |let )", "", bridge, flags=re.M)
    return f'(() => {{\n"use strict";\n{body}\n{loader}\n}})();\n'


def _read_loader() -> str:
    return loader_script(EMBED_BRIDGE.read_text("utf-8"), EMBED_LOADER.read_text("utf-8"))


@routes.get("/widget.js")
async def widget_loader(request: web.Request) -> web.Response:
    """The script a host page includes to embed the widget with one tag (README)."""
    loop = asyncio.get_running_loop()
    text = await loop.run_in_executor(None, _read_loader)
    return web.Response(
        text=text,
        headers={
            hdrs.CONTENT_TYPE: CONTENT_TYPES[".js"],
            hdrs.CACHE_CONTROL: STATIC_CACHE_CONTROL,
            **COMMON_HEADERS,
        },
    )


@routes.get("/widget")
async def widget_without_slash(request: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect("/widget/")


@routes.get("/widget/")
async def widget(request: web.Request) -> web.FileResponse:
    """The widget's page, meant to be framed by the host site."""
    return _page(WIDGET_PAGE, widget_csp(request.app[SETTINGS]))


@routes.get("/console")
async def console_without_slash(request: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect("/console/")


@routes.get("/console/")
async def console(request: web.Request) -> web.FileResponse:
    """The agents' and supervisors' console (it speaks `/agent`)."""
    return _page(CONSOLE_PAGE, CONSOLE_CSP)


def static_path(relative: str, root: Path = STATIC_DIR) -> Path | None:
    """The file under `root` that a URL path names, or None: nothing outside it, no hidden
    files, no directories, no types we do not serve."""
    parts = PurePosixPath(relative).parts
    if not parts or any(part.startswith(".") or "\\" in part for part in parts):
        return None
    candidate = root.joinpath(*parts).resolve()
    if candidate.suffix not in CONTENT_TYPES:
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


@routes.get("/static/{path:.+}")
async def static_file(request: web.Request) -> web.FileResponse:
    loop = asyncio.get_running_loop()
    path = await loop.run_in_executor(None, static_path, request.match_info["path"])
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(
        path,
        headers={
            hdrs.CONTENT_TYPE: CONTENT_TYPES[path.suffix],
            hdrs.CACHE_CONTROL: STATIC_CACHE_CONTROL,
            **COMMON_HEADERS,
        },
    )


@routes.get("/api/v1/languages")
async def languages(request: web.Request) -> web.Response:
    """The chat languages, each named in itself, for the widget's language picker."""
    return _json(
        [
            {"tag": tag, "name": display_name(tag), "direction": text_direction(tag)}
            for tag in request.app[SETTINGS].languages
        ]
    )


@routes.get("/api/v1/widget/strings")
async def widget_strings(request: web.Request) -> web.Response:
    """The widget's strings in one language: `lang` is a tag or a comma-separated list of
    them (`navigator.languages`), negotiated against the chat languages. A string missing
    from the answer is shown in English, its msgid."""
    services = request.app.get(SERVICES)
    if services is None:
        return web.json_response({"status": "starting"}, status=503, headers=COMMON_HEADERS)
    settings = request.app[SETTINGS]
    tags = [tag.strip() for tag in request.query.get("lang", "").split(",") if tag.strip()]
    language = negotiate(tags[:10], settings.languages) or settings.default_language
    translator = services.catalogs.translator(language)
    return _json(
        {
            "language": language,
            "direction": text_direction(language),
            "strings": dict(translator.messages),
        }
    )


@routes.get("/api/v1/widget/embed")
async def widget_embed(request: web.Request) -> web.Response:
    """Which host pages the framed widget may take orders from (the same origins that may
    frame it, CSP `frame-ancestors`, which already publishes them): `*` for any."""
    return _json({"allowed_origins": list(request.app[SETTINGS].allowed_origins)})

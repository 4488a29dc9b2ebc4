"""Typed keys for what the application holds (aiohttp AppKey), in a leaf module."""

from __future__ import annotations

from dataclasses import dataclass

import socketio
from aiohttp import web

from chatserver.accounts import Accounts
from chatserver.announcement_desk import AnnouncementDesk
from chatserver.bot import Bot
from chatserver.desk import Desk
from chatserver.dispatch import Dispatcher
from chatserver.faq_reload import FaqReloader
from chatserver.i18n import Catalogs
from chatserver.inbox_desk import InboxDesk
from chatserver.limits import RateLimiter
from chatserver.metrics import Metrics
from chatserver.settings import Settings
from chatserver.store import SqlStore
from chatserver.surveys import Surveys


@dataclass(frozen=True, slots=True)
class Services:
    """Everything built at start-up (off the event loop where it is slow)."""

    store: SqlStore
    bot: Bot
    catalogs: Catalogs
    desk: Desk
    faq_reloader: FaqReloader
    accounts: Accounts
    dispatcher: Dispatcher
    announcements: AnnouncementDesk
    surveys: Surveys
    inbox: InboxDesk


SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
SERVICES = web.AppKey("services", Services)
SIO = web.AppKey("sio", socketio.AsyncServer)
LIMITS = web.AppKey("limits", RateLimiter)

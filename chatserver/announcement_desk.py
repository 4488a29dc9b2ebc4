"""The announcements' use cases: post, revise, resolve, and what a widget or console that
arrives while one is active is shown. They store the announcement, then return what to
publish: one `announcement` per language room (customers reading it, consoles whose agent
reads it first), so a desk of several processes emits each once, whatever the number of
readers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chatserver import protocol
from chatserver.announcements import (
    Announcement,
    Severity,
    post,
    resolve,
    revise,
    text_for,
)
from chatserver.clock import Clock, IdFactory
from chatserver.events import Notify
from chatserver.models import DomainError
from chatserver.protocol import ServerEvent
from chatserver.store import Store

# How long the active announcements are kept between reads (see `AnnouncementDesk.active`).
ACTIVE_KEPT_FOR = timedelta(seconds=1)


class UnknownAnnouncement(DomainError):
    code = "unknown_announcement"


@dataclass(frozen=True, slots=True)
class Announced:
    announcement: Announcement
    notifications: list[Notify]


class AnnouncementDesk:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        new_id: IdFactory,
        languages: Sequence[str],
        fallbacks: Mapping[str, Sequence[str]],
    ) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id
        self.languages = tuple(languages)
        self.fallbacks = fallbacks
        self._active: list[Announcement] | None = None
        self._active_since = datetime.min.replace(tzinfo=UTC)
        self._changes = 0

    async def post(self, *, severity: Severity, texts: Mapping[str, str], by: str) -> Announced:
        notice = post(self.new_id(), severity=severity, texts=texts, by=by, now=self.clock.now())
        return await self._publish(notice)

    async def revise(
        self,
        announcement_id: str,
        *,
        severity: Severity | None,
        texts: Mapping[str, str] | None,
    ) -> Announced:
        notice = await self._get(announcement_id)
        return await self._publish(
            revise(notice, severity=severity, texts=texts, now=self.clock.now())
        )

    async def resolve(self, announcement_id: str, *, resolution: Mapping[str, str]) -> Announced:
        notice = await self._get(announcement_id)
        return await self._publish(resolve(notice, resolution=resolution, now=self.clock.now()))

    async def active(self) -> list[Announcement]:
        """Every widget that starts asks, so the list is kept for `ACTIVE_KEPT_FOR`: this
        process's own changes replace it at once; another process's (several processes on
        one database) are seen within that time. Those already reading get it pushed."""
        now = self.clock.now()
        if self._active is not None and now - self._active_since < ACTIVE_KEPT_FOR:
            return list(self._active)
        changes = self._changes
        active = await self.store.active_announcements()
        if changes == self._changes:  # no change of ours landed while it was read
            self._active, self._active_since = active, now
        return list(active)

    async def for_customer(self, sid: str, language: str) -> list[Notify]:
        """What a widget that starts or resumes is shown at once: every active one."""
        return [
            Notify.customer_socket(sid, ServerEvent.ANNOUNCEMENT, self.payload(notice, language))
            for notice in await self.active()
        ]

    async def for_console(self, sid: str, language: str) -> list[Notify]:
        """What a console that connects is shown at once, in its agent's first language."""
        return [
            Notify.console(sid, ServerEvent.ANNOUNCEMENT, self.payload(notice, language))
            for notice in await self.active()
        ]

    def payload(self, notice: Announcement, language: str) -> protocol.AnnouncementPayload:
        return protocol.announcement(notice, text_for(notice, language, self.fallbacks))

    async def _get(self, announcement_id: str) -> Announcement:
        notice = await self.store.announcement(announcement_id)
        if notice is None:
            raise UnknownAnnouncement("no announcement with this id")
        return notice

    async def _publish(self, notice: Announcement) -> Announced:
        self._changes += 1
        self._active = None
        try:
            await self.store.save_announcement(notice)
        finally:
            self._changes += 1
            self._active = None
        notifications = [
            notify(language, ServerEvent.ANNOUNCEMENT, self.payload(notice, language))
            for language in self.languages
            for notify in (Notify.readers, Notify.consoles)
        ]
        return Announced(notice, notifications)

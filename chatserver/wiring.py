"""The desk's services as the settings describe them: the human side's dispatcher (its
router's policy, the SLA targets, chat hours, the customer's grace) and the customer desk
over it.

One recipe, so that the tests that call the desk without a server build the desk the app
runs. It only builds: which store, clock, bot and detector they get, when the queue is
restored from the store, and everything else the server needs stay with the app factory
(`chatserver/app.py`), the one module that wires the server together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chatserver import sla
from chatserver.bot import Bot
from chatserver.clock import Clock, IdFactory
from chatserver.desk import Desk
from chatserver.dispatch import Dispatcher
from chatserver.faq.query_batch import QueryBatches
from chatserver.hours import parse_hours
from chatserver.human.urgent import SendAlert
from chatserver.i18n import Catalogs
from chatserver.inbox import ChannelDesk, InboxKind
from chatserver.inbox_desk import InboxDesk, Observe
from chatserver.language import LanguageDetector
from chatserver.mail import Mailer, SmtpConfig
from chatserver.models import Priority
from chatserver.routing import Router, RoutingPolicy
from chatserver.settings import Settings
from chatserver.store import Store
from chatserver.urgent_notifier import UrgentNotifier


def build_desk(
    settings: Settings,
    *,
    store: Store,
    bot: Bot,
    detector: LanguageDetector,
    clock: Clock,
    new_id: IdFactory,
    policies: sla.SlaPolicies,
    observe: Callable[[str, dict[str, Any]], None] | None = None,
    send_urgent: SendAlert | None = None,
) -> Desk:
    """The customer desk, its dispatcher (`Desk.dispatcher`) behind it, neither restored
    yet. The bot's catalogs and (current) matcher are the human side's too; `send_urgent`
    emails and posts urgent chats' alerts (urgent_notifier.py)."""
    dispatcher = Dispatcher(
        store=store,
        router=Router(
            RoutingPolicy(
                accept_timeout=timedelta(seconds=settings.accept_timeout),
                fallback_after=timedelta(seconds=settings.fallback_after),
                fallbacks=settings.fallbacks,
                # What consoles count down to while a chat waits.
                target=sla.policy_for(sla.Channel.CHAT, Priority.MEDIUM, policies).first_response,
            )
        ),
        policies=policies,
        clock=clock,
        new_id=new_id,
        catalogs=bot.catalogs,
        matcher=lambda: bot.matcher,
        languages=settings.languages,
        hours=parse_hours(settings.chat_hours, settings.timezone),
        observe=observe,
        customer_grace=timedelta(seconds=settings.customer_grace_seconds),
        agent_grace=timedelta(seconds=settings.agent_grace_seconds),
        send_urgent=send_urgent,
    )
    return Desk(
        store=store,
        bot=bot,
        detector=detector,
        dispatcher=dispatcher,
        clock=clock,
        new_id=new_id,
        languages=settings.languages,
        default_language=settings.default_language,
        identity_secret=settings.identity_secret or None,
        queries=QueryBatches(observe=observe),
    )


def build_urgent_notifier(
    settings: Settings,
    *,
    catalogs: Catalogs,
    observe: Callable[[str, dict[str, Any]], None],
    console_url: str,
) -> UrgentNotifier:
    """Email and webhook of urgent alerts, in the desk's default language."""
    return UrgentNotifier(
        mailer=Mailer(SmtpConfig.from_settings(settings)),
        email_to=settings.urgent_email,
        webhook_url=settings.urgent_webhook_url,
        gettext=catalogs.translator(settings.default_language).gettext,
        console_url=console_url,
        observe=observe,
    )


def build_inbox(
    settings: Settings,
    *,
    store: Store,
    dispatcher: Dispatcher,
    catalogs: Catalogs,
    clock: Clock,
    new_id: IdFactory,
    policies: sla.SlaPolicies,
    observe: Observe | None = None,
) -> InboxDesk:
    """The offline inbox: each channel's hours and languages, and the mailer."""

    def desk(channel: sla.Channel, hours: str, languages: tuple[str, ...]) -> ChannelDesk:
        return ChannelDesk(
            channel,
            parse_hours(hours, settings.timezone),
            frozenset(languages) if languages else None,
        )

    return InboxDesk(
        store=store,
        dispatcher=dispatcher,
        clock=clock,
        new_id=new_id,
        policies=policies,
        desks={
            InboxKind.MESSAGE: desk(
                sla.Channel.EMAIL, settings.email_hours, settings.email_languages
            ),
            InboxKind.CALLBACK: desk(
                sla.Channel.CALLBACK, settings.callback_hours, settings.callback_languages
            ),
        },
        mailer=Mailer(SmtpConfig.from_settings(settings)),
        catalogs=catalogs,
        observe=observe,
    )

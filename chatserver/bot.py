"""The bot's side of a conversation: greet, answer from the FAQ, suggest, or decline.

Pure: it turns a customer's text into replies in the customer's language and leaves
storing and sending them to the desk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from chatserver.faq import FaqEntry, FaqMatcher, MatchOutcome, MatchResult
from chatserver.faq.matcher import MAX_RELATED, MAX_SUGGESTIONS
from chatserver.i18n import N_, Catalogs
from chatserver.language import display_name
from chatserver.models import Priority
from chatserver.urgency import urgent_topic

GREETING = N_(
    "Hello! I'm the virtual assistant. Ask me anything about your account, "
    "the trading platforms or trading conditions."
)
FALLBACK_NOTE = N_("This answer is not available in your language yet, so here it is in English:")
SUGGEST_INTRO = N_("I'm not completely sure what you mean. Is it one of these?")
DECLINE = N_(
    "Sorry, I don't have an answer to that. You can put it another way, "
    "or talk to a person from our team."
)
# The customer said an answer did not help: the topics shown under it, and a person.
NOT_HELPFUL_ALTERNATIVES = N_(
    "Sorry that didn't help. Is your question about one of these? "
    "You can also talk to a person from our team."
)
NOT_HELPFUL = N_(
    "Sorry that didn't help. You can put your question another way, "
    "or talk to a person from our team."
)
LANGUAGE_QUESTION = N_("Which language would you like me to answer in?")
LANGUAGE_CHOSEN = N_("All right, I will answer in {language} from now on.")


class ReplyKind(StrEnum):
    GREETING = "greeting"
    ANSWER = "answer"
    SUGGEST = "suggest"
    DECLINE = "decline"
    LANGUAGE_CONFIRM = "language_confirm"
    LANGUAGE_CHOSEN = "language_chosen"
    NOT_HELPFUL = "not_helpful"


@dataclass(frozen=True, slots=True)
class Suggestion:
    faq_id: str
    question: str

    def to_public(self) -> dict[str, str]:
        return {"faq_id": self.faq_id, "question": self.question}


@dataclass(frozen=True, slots=True)
class BotReply:
    kind: ReplyKind
    text: str
    language: str
    suggestions: tuple[Suggestion, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    entry: FaqEntry | None = None  # the answer, or the best suggestion: its team and priority
    # A decline: the entry the question came nearest to (for the FAQ gaps report).
    nearest: FaqEntry | None = None
    # An urgent topic the message is about (an urgent entry among the matcher's likely
    # ones, or named by an urgent phrase): a person takes it at once.
    urgent_entry: FaqEntry | None = None

    @property
    def urgent(self) -> bool:
        return self.urgent_entry is not None


def offered(meta: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The entries a bot message offers as buttons that send `choose_suggestion`: a
    suggestion's (and a "did not help" reply's) `suggestions`, an answer's `related`."""
    items = meta.get("suggestions") or meta.get("related") or []
    return [item for item in items if isinstance(item, Mapping) and item.get("faq_id")]


def topic_of(meta: Mapping[str, Any]) -> str | None:
    """The FAQ entry a bot message was about: its answer, or its first suggestion."""
    if meta.get("faq_id"):
        return str(meta["faq_id"])
    suggestions = meta.get("suggestions") or []
    return str(suggestions[0]["faq_id"]) if suggestions else None


class Bot:
    def __init__(self, matcher: FaqMatcher, catalogs: Catalogs) -> None:
        self.matcher = matcher
        self.catalogs = catalogs

    def greeting(self, language: str) -> BotReply:
        _ = self.catalogs.translator(language).gettext
        return BotReply(ReplyKind.GREETING, _(GREETING), language)

    def language_question(self, candidates: Sequence[str]) -> BotReply:
        """Ask which of the likely languages to use, asking in each of them."""
        question = " / ".join(
            dict.fromkeys(
                self.catalogs.translator(c).gettext(LANGUAGE_QUESTION) for c in candidates
            )
        )
        choices = [{"language": c, "name": display_name(c)} for c in candidates]
        return BotReply(
            ReplyKind.LANGUAGE_CONFIRM, question, candidates[0], meta={"choices": choices}
        )

    def language_chosen(self, language: str) -> BotReply:
        _ = self.catalogs.translator(language).gettext
        text = _(LANGUAGE_CHOSEN).format(language=display_name(language))
        return BotReply(ReplyKind.LANGUAGE_CHOSEN, text, language)

    def answer_chosen(
        self, faq_id: str, language: str, others: Sequence[str] = ()
    ) -> BotReply | None:
        """The answer to a suggestion the customer picked (None if the entry is gone); the
        other entries of the list it was picked from are the related topics under it."""
        entry = self.matcher.faq.entry(faq_id, language)
        if entry is None:
            return None
        related = self._entries([i for i in others if i != faq_id], language)[:MAX_RELATED]
        return self._answer(entry, language, None, related)

    def not_helpful(self, language: str, alternatives: Sequence[str]) -> BotReply:
        """The customer said an answer did not help: offer the topics that were shown under
        it (as suggestions: picking one sends `choose_suggestion`) and a person."""
        _ = self.catalogs.translator(language).gettext
        entries = self._entries(alternatives, language)[:MAX_SUGGESTIONS]
        suggestions = tuple(Suggestion(e.id, e.question) for e in entries)
        meta: dict[str, Any] = {"offer_agent": True}
        if suggestions:
            meta["suggestions"] = [s.to_public() for s in suggestions]
        text = _(NOT_HELPFUL_ALTERNATIVES) if suggestions else _(NOT_HELPFUL)
        return BotReply(
            ReplyKind.NOT_HELPFUL,
            text,
            language,
            suggestions=suggestions,
            meta=meta,
            entry=entries[0] if entries else None,
        )

    def _entries(self, faq_ids: Sequence[str], language: str) -> list[FaqEntry]:
        """The entries of `faq_ids` that the FAQ (perhaps reloaded since) still has, once."""
        found = (self.matcher.faq.entry(i, language) for i in dict.fromkeys(faq_ids))
        return [entry for entry in found if entry is not None]

    def _answer(
        self,
        entry: FaqEntry,
        language: str,
        score: float | None,
        related: Sequence[FaqEntry] = (),
        *,
        ask_feedback: bool = True,
    ) -> BotReply:
        """An answer; unless a person is about to take over (`ask_feedback` false), with the
        next-best topics under it and the question whether it helped."""
        _ = self.catalogs.translator(language).gettext
        meta: dict[str, Any] = {"faq_id": entry.id}
        if score is not None:
            meta["score"] = score
        if entry.fallback_from is not None:
            meta["fallback_from"] = entry.fallback_from
            body = f"{_(FALLBACK_NOTE)}\n\n{entry.answer}"
        else:
            body = entry.answer
        urgent = entry if entry.priority is Priority.URGENT else None
        if urgent is None and ask_feedback:
            meta["ask_feedback"] = True
            if related:
                meta["related"] = [Suggestion(e.id, e.question).to_public() for e in related]
        return BotReply(
            ReplyKind.ANSWER, body, language, meta=meta, entry=entry, urgent_entry=urgent
        )

    def reply(self, text: str, language: str, matched: MatchResult | None = None) -> BotReply:
        """`matched`: the matcher's result for `text`, when the caller has it already (the
        desk embeds several customers' questions at once: `QueryBatches`)."""
        result = matched if matched is not None else self.matcher.match(text, language)
        urgent = self._urgent(result, text)
        reply = self._reply(result, language, ask_feedback=urgent is None)
        return replace(reply, urgent_entry=urgent)

    def _urgent(self, result: MatchResult, text: str) -> FaqEntry | None:
        """The matcher's best entry when it is urgent and not declined (its runners-up are
        too loose a sign: on deskbench they sent 11% of ordinary questions to the priority
        line), else the entry an urgent phrase names."""
        entry = result.entry
        if (
            result.outcome is not MatchOutcome.DECLINE
            and entry is not None
            and entry.priority is Priority.URGENT
        ):
            return entry
        topic = urgent_topic(text, result.language)
        return self.matcher.faq.entry(topic, result.language) if topic else None

    def _reply(self, result: MatchResult, language: str, *, ask_feedback: bool) -> BotReply:
        _ = self.catalogs.translator(language).gettext
        score = round(result.score, 3)
        if result.outcome is MatchOutcome.ANSWER and result.entry is not None:
            return self._answer(
                result.entry, language, score, result.related, ask_feedback=ask_feedback
            )
        if result.outcome is MatchOutcome.SUGGEST and result.suggestions:
            suggestions = tuple(Suggestion(e.id, e.question) for e in result.suggestions)
            return BotReply(
                ReplyKind.SUGGEST,
                _(SUGGEST_INTRO),
                language,
                suggestions=suggestions,
                meta={"score": score, "suggestions": [s.to_public() for s in suggestions]},
                entry=result.suggestions[0],
            )
        return BotReply(
            ReplyKind.DECLINE,
            _(DECLINE),
            language,
            meta={"score": score, "offer_agent": True},
            nearest=result.entry,
        )

"""Conversation-level language: sticky once confident, confirmed when unsure, switched only on clear text.

Per-message detection is noisy on "ok" or "thanks"; the conversation must not flip the agent queue on
every short message. These rules turn a stream of `Detection`s into one stable language.
"""

from __future__ import annotations

from dataclasses import dataclass

from .detector import Detection, DetectionSource

#: Below this confidence the first message does not settle the language: ask the customer (top two).
#: Bench calibration (docs/benchmarks.md): detections at or above 0.8 were right 98 % of the time.
CONFIRM_BELOW = 0.8

#: A later message must be at least this sure to move a settled conversation to another language
#: (bench: 99.3 % right at or above 0.95), since a wrong switch re-routes the chat to another agent.
SWITCH_MIN_CONFIDENCE = 0.95

#: ...and carry at least this much text (weighted letters; a CJK character counts 3), so one short
#: loanword ("gracias", "merci") in an English chat does not re-route it.
SWITCH_MIN_EVIDENCE = 15

#: A first message this short ("ok", "hi", "MT5") tells too little to ask about: below it an unsure
#: detection keeps the browser's language instead of asking the customer to pick between two.
MIN_EVIDENCE_TO_ASK = 8

#: Where a language came from without anything the customer wrote (browser, configuration).
_GUESSED_SOURCES = frozenset({DetectionSource.HINT, DetectionSource.DEFAULT})

#: Stages whose answer comes from the message text itself (only these can switch a conversation).
_TEXT_SOURCES = frozenset({DetectionSource.SCRIPT, DetectionSource.STATISTICAL})


@dataclass(frozen=True, slots=True)
class LanguageState:
    """The conversation's language so far."""

    language: str
    confirmed: bool  # settled: chosen by the customer or detected with confidence
    source: DetectionSource


@dataclass(frozen=True, slots=True)
class LanguageDecision:
    """New state, and whether to offer the customer a quick choice between `candidates`."""

    state: LanguageState
    ask_confirmation: bool = False
    candidates: tuple[str, ...] = ()
    changed: bool = False  # the conversation's language differs from before (re-route the chat)


def _candidates(detection: Detection) -> tuple[str, ...]:
    if detection.runner_up and detection.runner_up != detection.language:
        return (detection.language, detection.runner_up)
    return (detection.language,)


def _is_clear_text(detection: Detection, min_confidence: float) -> bool:
    return detection.source in _TEXT_SOURCES and detection.confidence >= min_confidence


def _first_message(guess: LanguageState | None, detection: Detection) -> LanguageDecision:
    """No text has settled the language yet; `guess` is the browser's, if any."""
    if _is_clear_text(detection, CONFIRM_BELOW):
        settled = LanguageState(detection.language, confirmed=True, source=detection.source)
        return LanguageDecision(
            settled, changed=guess is None or guess.language != settled.language
        )
    too_little = detection.source not in _TEXT_SOURCES or detection.evidence < MIN_EVIDENCE_TO_ASK
    if too_little and guess is not None:
        return LanguageDecision(guess)  # keep the browser's language; the next message may tell
    unsure = LanguageState(detection.language, confirmed=False, source=detection.source)
    changed = guess is None or guess.language != unsure.language
    if too_little:
        return LanguageDecision(unsure, changed=changed)
    return LanguageDecision(
        unsure, ask_confirmation=True, candidates=_candidates(detection), changed=changed
    )


def _settle(state: LanguageState, detection: Detection) -> LanguageDecision:
    if _is_clear_text(detection, CONFIRM_BELOW):
        settled = LanguageState(detection.language, confirmed=True, source=detection.source)
        return LanguageDecision(settled, changed=detection.language != state.language)
    return LanguageDecision(state)  # still unsure; the question is already on screen


def _maybe_switch(state: LanguageState, detection: Detection) -> LanguageDecision:
    if (
        detection.language != state.language
        and _is_clear_text(detection, SWITCH_MIN_CONFIDENCE)
        and detection.evidence >= SWITCH_MIN_EVIDENCE
    ):
        switched = LanguageState(detection.language, confirmed=True, source=detection.source)
        return LanguageDecision(switched, changed=True)
    return LanguageDecision(state)


def can_change(state: LanguageState | None, evidence: int) -> bool:
    """Whether a message carrying `evidence` (the script analysis's weighted letters) could
    change `state` at all: a chosen language never changes by detection, and a settled one
    only on clear text of `SWITCH_MIN_EVIDENCE` or more. When it cannot, the detector (the
    statistical model is a tenth of a bot reply's CPU) need not run."""
    if state is None or state.source in _GUESSED_SOURCES or not state.confirmed:
        return True
    if state.source is DetectionSource.CHOICE:
        return False
    return evidence >= SWITCH_MIN_EVIDENCE


def settled_by_text(state: LanguageState | None) -> bool:
    """Settled from the customer's own text: only a clear switch (`SWITCH_MIN_CONFIDENCE`) moves
    it, so a detector that can rule one out need not run."""
    return state is not None and state.confirmed and state.source in _TEXT_SOURCES


def decide(state: LanguageState | None, detection: Detection) -> LanguageDecision:
    """Fold one message's detection into the conversation state."""
    if detection.source is DetectionSource.CHOICE:
        chosen = LanguageState(detection.language, confirmed=True, source=DetectionSource.CHOICE)
        return LanguageDecision(
            chosen, changed=state is None or state.language != detection.language
        )
    if state is None or state.source in _GUESSED_SOURCES:
        return _first_message(state, detection)
    if state.source is DetectionSource.CHOICE:
        return LanguageDecision(state)  # the customer said so; detection never overrides it
    if not state.confirmed:
        return _settle(state, detection)
    return _maybe_switch(state, detection)

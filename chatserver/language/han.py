"""Simplified vs Traditional Chinese from characters that exist in only one of the two systems.

The character sets are CC-CEDICT's, shipped by `zhon`: a character listed only among the Simplified
forms (们, 这) never occurs in Traditional text and vice versa (們, 這). Characters common to both say
nothing, so the decision is a likelihood ratio over the distinguishing characters only.
"""

from __future__ import annotations

import math

from zhon import cedict  # CC-CEDICT character inventories

#: How much more likely a one-system-only character is under its own system than under the other;
#: real text of the other system contains such a character only through mistakes or quotations.
DISTINGUISHING_LIKELIHOOD_RATIO = 20.0

#: Prior share of Simplified when nothing distinguishes the two (more Simplified readers among chat
#: users).
SIMPLIFIED_PRIOR = 0.6

_SIMPLIFIED: frozenset[str] = frozenset(cedict.simplified)
_TRADITIONAL: frozenset[str] = frozenset(cedict.traditional)
SIMPLIFIED_ONLY: frozenset[str] = _SIMPLIFIED - _TRADITIONAL
TRADITIONAL_ONLY: frozenset[str] = _TRADITIONAL - _SIMPLIFIED


def distinguishing_counts(text: str) -> tuple[int, int]:
    """Count (simplified-only, traditional-only) characters in `text`."""
    simplified = sum(1 for ch in text if ch in SIMPLIFIED_ONLY)
    traditional = sum(1 for ch in text if ch in TRADITIONAL_ONLY)
    return simplified, traditional


def simplified_probability(text: str) -> float:
    """Probability that Han text is written in Simplified rather than Traditional characters."""
    simplified, traditional = distinguishing_counts(text)
    log_odds = math.log(SIMPLIFIED_PRIOR / (1.0 - SIMPLIFIED_PRIOR))
    log_odds += (simplified - traditional) * math.log(DISTINGUISHING_LIKELIHOOD_RATIO)
    log_odds = max(-30.0, min(30.0, log_odds))
    return 1.0 / (1.0 + math.exp(-log_odds))

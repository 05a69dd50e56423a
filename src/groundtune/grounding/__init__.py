"""THE grounding format: renders every prompt and target, and parses model output back.

Data building, training, evaluation and serving all call `get_format(style)`; nothing else formats
prompts. `grounding.quotes` holds the verbatim-span and answer-normalisation helpers they share.
"""

from groundtune.grounding.citations import find_citations, strip_citations
from groundtune.grounding.format import DEFAULT_STYLE, GroundingFormat, get_format, styles
from groundtune.grounding.quotes import (
    contains_answer,
    find_answer,
    find_verbatim,
    is_verbatim,
    normalize_answer,
    normalize_span,
    verify_quotes,
)

__all__ = [
    "DEFAULT_STYLE",
    "GroundingFormat",
    "contains_answer",
    "find_answer",
    "find_citations",
    "find_verbatim",
    "get_format",
    "is_verbatim",
    "normalize_answer",
    "normalize_span",
    "strip_citations",
    "styles",
    "verify_quotes",
]

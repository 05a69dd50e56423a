"""Text cut into runs for highlighting: a document's text with spans (a cited chunk, a quote) marked,
so templates can wrap each marked run in <mark> with autoescaping intact."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple


class Run(NamedTuple):
    text: str
    marks: tuple[str, ...]
    """CSS classes of the spans covering this run ('' outside every span)."""
    first: tuple[str, ...]
    """Classes of the spans that begin at this run (their anchor goes here)."""


def runs(text: str, spans: Sequence[tuple[int, int, str]]) -> list[Run]:
    """`text` cut at every span boundary; spans are (start, end, class), may nest or overlap."""
    kept = [(max(0, s), min(len(text), e), c) for s, e, c in spans if e > s]
    cuts = sorted({0, len(text), *(s for s, _, _ in kept), *(e for _, e, _ in kept)})
    out = []
    for a, b in pairwise(cuts):
        if a == b:
            continue
        marks = tuple(c for s, e, c in kept if s <= a and b <= e)
        first = tuple(c for s, _, c in kept if s == a)
        out.append(Run(text[a:b], marks, first))
    return out

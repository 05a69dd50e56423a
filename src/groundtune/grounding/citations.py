"""Citation markers: `[n]` document numbers in answer text, and lists of them (`[2], [4]`).

Tolerant reading (`[2,4]`, `[2][4]`, `2, 4`) because models drift; writing is always `[n]`.
Knows nothing about styles or documents beyond their count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
OPEN, CLOSE = "[", "]"  # a written marker (constrained decoding reads every OPEN in an answer as one)
SEPARATOR = ", "  # between the markers of a written list
_BARE_NUMBER = re.compile(r"\b(\d+)\b")


def cite(n: int) -> str:
    """The marker for document n: `[n]`."""
    return f"{OPEN}{n}{CLOSE}"


def cite_list(numbers: Iterable[int]) -> str:
    """`[2], [4]`: the written form of a list of documents."""
    return SEPARATOR.join(cite(n) for n in numbers)


def _unique(numbers: Iterable[int]) -> list[int]:
    seen: list[int] = []
    for n in numbers:
        if n not in seen:
            seen.append(n)
    return seen


def find_citations(text: str) -> list[int]:
    """Document numbers cited in `text`, in order of first appearance, without duplicates."""
    found: list[int] = []
    for match in MARKER.finditer(text):
        found.extend(int(part) for part in re.split(r"[,;]", match.group(1)))
    return _unique(found)


def parse_number_list(text: str) -> list[int]:
    """Numbers in a list such as `[2], [4]`, `[2,4]` or `2, 4` (bracketed form preferred)."""
    numbers = find_citations(text)
    if not numbers:
        numbers = _unique(int(m) for m in _BARE_NUMBER.findall(text))
    return numbers


def renumber_citations(text: str, renumber: Mapping[int, int]) -> str:
    """`text` with every cited document number n rewritten to `renumber[n]` (numbers not in it kept),
    in one pass, so that swapping [1] and [2] cannot rewrite a marker twice."""

    def rewrite(match: re.Match[str]) -> str:
        return re.sub(r"\d+", lambda d: str(renumber.get(int(d.group()), int(d.group()))), match.group(0))

    return MARKER.sub(rewrite, text)


def strip_citations(text: str) -> str:
    """The text without its `[n]` markers (for answer matching in evaluation)."""
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s*" + MARKER.pattern, "", text)).strip()


def out_of_range(numbers: Iterable[int], n_documents: int | None) -> list[int]:
    """The numbers that do not name one of `n_documents` documents (none when the count is unknown)."""
    if n_documents is None:
        return [n for n in numbers if n < 1]
    return [n for n in numbers if not 1 <= n <= n_documents]

"""Text normalisation and verbatim-span checks shared by data validation, evaluation and serving.

`find_verbatim` decides whether a quote is a real span of a document (tolerating only whitespace,
Unicode compatibility forms and typographic quote/dash variants), and `normalize_answer` is the
SQuAD-style answer normalisation used for containment and exact-match. Pure string code: this module
knows nothing about prompts, models or retrieval.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence

from groundtune.core.schemas import ContextDocument, GroundedAnswer

# Typographic variants a model (or a teacher) writes interchangeably with the ASCII form.
_CHAR_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2032": "'",
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_WS = re.compile(r"\s+")


def normalize_whitespace(text: str) -> str:
    """Collapse every whitespace run to one space and strip the ends."""
    return _WS.sub(" ", text).strip()


def normalize_span(text: str) -> str:
    """The form in which two spans count as the same verbatim text (NFKC, quote/dash folding, spaces)."""
    return normalize_whitespace(unicodedata.normalize("NFKC", text).translate(_CHAR_FOLD))


def normalize_answer(text: str) -> str:
    """SQuAD answer normalisation: lower case, drop punctuation and articles, collapse spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_CHAR_FOLD).lower()
    text = "".join(ch if ch not in _PUNCT else " " for ch in text)
    return normalize_whitespace(_ARTICLES.sub(" ", text))


def _mapped(text: str, *, loose: bool) -> tuple[str, list[int]]:
    """Normalised text plus, for each of its characters, the index of the source character.

    Strict mode folds Unicode forms and whitespace; loose mode also lower-cases and turns punctuation
    into spaces (used to locate an answer, never to verify a quote).
    """
    out: list[str] = []
    origin: list[int] = []
    for i, raw in enumerate(text):
        for ch in unicodedata.normalize("NFKC", raw).translate(_CHAR_FOLD):
            if loose:
                ch = ch.lower()
                if ch in _PUNCT:
                    ch = " "
            if ch.isspace():
                if not out or out[-1] == " ":
                    continue
                ch = " "
            out.append(ch)
            origin.append(i)
    while out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


def _locate(needle: str, text: str, *, loose: bool) -> tuple[int, int] | None:
    norm_needle, _ = _mapped(needle, loose=loose)
    norm_needle = norm_needle.strip()
    if not norm_needle:
        return None
    norm_text, origin = _mapped(text, loose=loose)
    start = 0
    while True:
        at = norm_text.find(norm_needle, start)
        if at < 0:
            return None
        end = at + len(norm_needle)
        # Loose matching works on words: "art" must not match inside "start".
        bounded = not loose or (
            (at == 0 or not norm_text[at - 1].isalnum())
            and (end == len(norm_text) or not norm_text[end].isalnum())
        )
        if bounded:
            return origin[at], origin[end - 1] + 1
        start = at + 1


def find_verbatim(quote: str, text: str) -> tuple[int, int] | None:
    """Character span of `quote` in `text` if it is a verbatim span, else None.

    Verbatim allows only whitespace differences, Unicode compatibility forms and typographic quote
    or dash variants; case, words and punctuation must match.
    """
    quote = quote.strip()
    if not quote:
        return None
    at = text.find(quote)
    if at >= 0:
        return at, at + len(quote)
    return _locate(quote, text, loose=False)


def is_verbatim(quote: str, text: str) -> bool:
    """True when `quote` is a verbatim span of `text` (see `find_verbatim`)."""
    return find_verbatim(quote, text) is not None


def find_answer(answer: str, text: str) -> tuple[int, int] | None:
    """Character span of an answer string in `text`, ignoring case, punctuation and spacing, on word
    boundaries; falls back to the answer without articles ("the Eiffel Tower" -> "Eiffel Tower")."""
    span = _locate(answer, text, loose=True)
    if span is None:
        bare = _ARTICLES.sub(" ", answer.lower())
        if normalize_whitespace(bare) != normalize_whitespace(answer.lower()):
            span = _locate(bare, text, loose=True)
    return span


def contains_answer(text: str, answer: str) -> bool:
    """SQuAD-normalised containment on word boundaries (the evidence test of relevance labelling)."""
    norm = normalize_answer(answer)
    return bool(norm) and f" {norm} " in f" {normalize_answer(text)} "


def verify_quotes(answer: GroundedAnswer, documents: Sequence[ContextDocument]) -> list[bool]:
    """For each quote of `answer`, whether it is verbatim in the document it names (1-based)."""
    results = []
    for quote in answer.quotes:
        ok = 1 <= quote.doc <= len(documents) and is_verbatim(quote.text, documents[quote.doc - 1].text)
        results.append(ok)
    return results


# A sentence ends at . ! ? (optionally followed by a closing quote or bracket) before whitespace,
# or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text` (whitespace around them excluded)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() + len(match.group(0).rstrip())
        if text[start:end].strip():
            spans.append(strip_span(text, start, end))
        start = match.end()
    if text[start:].strip():
        spans.append(strip_span(text, start, len(text)))
    return spans


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """`(start, end)` narrowed past whitespace at either end."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end

"""Token-aware chunking: sections by Markdown heading, then paragraphs and sentences packed up to a
token budget counted with the embedder's own tokenizer, with a sentence-aligned overlap.

A chunk never crosses a heading; a sentence longer than the budget is cut at token boundaries.
Every chunk records the document id and version, title, heading path and its character span in
`Document.text` (so `text[start:end] == chunk.text`). Knows nothing about storage or embeddings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from groundtune.core.errors import InvalidInputError
from groundtune.core.ids import content_hash
from groundtune.core.schemas import Chunk, Document
from groundtune.models.embedder import counting_copy

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


@dataclass(frozen=True)
class Section:
    start: int
    end: int
    path: tuple[str, ...]


class ChunkTokenizer:
    """Counts and cuts text into chunk-sized pieces with the embedder's (fast) tokenizer, without
    special tokens. (`data.tokens.TokenCounter` counts an LM's prompt tokens; this one sizes chunks.)"""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = counting_copy(tokenizer)

    def count(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]

    def cut(self, text: str, max_tokens: int) -> list[tuple[int, int]]:
        """Character spans of consecutive pieces of at most `max_tokens` tokens."""
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = [o for o in enc["offset_mapping"] if o[1] > o[0]]
        spans = []
        for i in range(0, len(offsets), max_tokens):
            piece = offsets[i : i + max_tokens]
            spans.append((piece[0][0], piece[-1][1]))
        return spans or [(0, len(text))]


def sections(text: str, markdown: bool) -> list[Section]:
    """Spans of the text between headings, each with the heading path in force (outside code fences)."""
    if not markdown:
        return [Section(0, len(text), ())]
    out: list[Section] = []
    stack: list[tuple[int, str]] = []
    path: tuple[str, ...] = ()
    start, in_fence, pos, body = 0, False, 0, False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line.rstrip("\n"))
        if m:
            level = len(m.group(1))
            stack = [s for s in stack if s[0] < level] + [(level, m.group(2))]
            if body:  # a heading with no text of its own stays with the section that follows it
                out.append(Section(start, pos, path))
                start = pos
            path, body = tuple(h for _, h in stack), False
        elif line.strip():
            body = True
        pos += len(line)
    if len(text) > start:
        out.append(Section(start, len(text), path))
    return out


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return None
    lead = len(piece) - len(piece.lstrip())
    return start + lead, start + lead + len(stripped)


def _split(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    spans, cursor = [], start
    for m in pattern.finditer(text, start, end):
        if (s := _trimmed(text, cursor, m.start())) is not None:
            spans.append(s)
        cursor = m.end()
    if (s := _trimmed(text, cursor, end)) is not None:
        spans.append(s)
    return spans


def _units(text: str, sec: Section, budget: int, counter: ChunkTokenizer) -> list[tuple[int, int, int]]:
    """(start, end, tokens) of paragraphs, or their sentences/lines/token pieces when too long."""
    out: list[tuple[int, int, int]] = []
    paragraphs = _split(text, sec.start, sec.end, _PARAGRAPH)
    for (ps, pe), n in zip(paragraphs, counter.count([text[s:e] for s, e in paragraphs]), strict=True):
        if n <= budget:
            out.append((ps, pe, n))
            continue
        sentences = _split(text, ps, pe, _SENTENCE_END)
        for (ss, se), m in zip(sentences, counter.count([text[s:e] for s, e in sentences]), strict=True):
            if m <= budget:
                out.append((ss, se, m))
                continue
            for cs, ce in counter.cut(text[ss:se], budget):
                if (t := _trimmed(text, ss + cs, ss + ce)) is not None:
                    out.append((*t, counter.count([text[t[0] : t[1]]])[0]))
    return out


def chunk_document(
    doc: Document, counter: ChunkTokenizer, *, chunk_tokens: int = 256, chunk_overlap: int = 32
) -> list[Chunk]:
    """Chunks of one document version, in text order."""
    if chunk_tokens < 8 or not 0 <= chunk_overlap < chunk_tokens:
        raise InvalidInputError(
            f"chunk size {chunk_tokens} / overlap {chunk_overlap} is not usable",
            hint="use chunk_tokens >= 8 and 0 <= chunk_overlap < chunk_tokens",
        )
    markdown = doc.metadata.get("format") in ("markdown", "html")
    chunks: list[Chunk] = []
    for sec in sections(doc.text, markdown):
        units = _units(doc.text, sec, chunk_tokens, counter)
        i = 0
        while i < len(units):
            j, total = i, 0
            while j < len(units) and (j == i or total + units[j][2] <= chunk_tokens):
                total += units[j][2]
                j += 1
            start, end = units[i][0], units[j - 1][1]
            text = doc.text[start:end]
            chunks.append(
                Chunk(
                    id=content_hash(doc.id, str(doc.version), text, f"{start}:{end}", length=32),
                    doc_id=doc.id,
                    doc_version=doc.version,
                    title=doc.title,
                    heading_path=list(sec.path),
                    text=text,
                    start=start,
                    end=end,
                    n_tokens=total,
                    source=doc.source,
                    tags=list(doc.tags),
                )
            )
            if j >= len(units):
                break
            # Overlap: restart at the trailing units that fit in the overlap budget (always advance).
            back, carried = j, 0
            while back - 1 > i and carried + units[back - 1][2] <= chunk_overlap:
                back -= 1
                carried += units[back][2]
            i = back
    return chunks


def index_text(chunk: Chunk) -> str:
    """What gets embedded and BM25-indexed for a chunk: its title and heading path, then its text.

    The header puts the document's subject into every chunk (records and sections often never name
    it); `Chunk.text` itself stays the exact span shown to models.
    """
    header = [h for h in dict.fromkeys([chunk.title, *chunk.heading_path]) if h and h not in chunk.text[:200]]
    return "\n".join([*header, chunk.text])

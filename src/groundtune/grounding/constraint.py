"""The grammar of a grounded reply, for constrained decoding: given the prompt's documents and the
text generated so far, which continuations are legal. Text only; `infer/constrain.py` maps it onto
a tokenizer's vocabulary.

A `cited` reply must read

    Relevant: none                 or   Relevant: [a], [b]        prompt documents, each once
                                                                  (`list_all`: every listable one)
    Answer: <free text>                 Quote [a]: "<span>"       one or more, of listed documents
                                        Answer: <free text>

A span is a substring of its document's text with whitespace runs collapsed, closed by `"` and a
line break; it must also pass `quotes.is_verbatim` (checked when it closes), so every quote verifies,
and differ from the spans already quoted from that document (a model that would quote the same words
again loops until its token limit). A span never grows into one that can no longer close (a repeat at
the document's end; `_LIVE_CHECKS` bounds the search), so a state the grammar reaches has a legal
next character.
In the answer every `[` opens a marker `[n]` of a prompt document, and no later line may start like
a field (the parser would read it as one). An `answer-only` reply is that free answer text alone.
States are immutable values: checking a candidate never disturbs the state it started from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from pydantic import BaseModel, ConfigDict, Field

from groundtune.grounding.citations import OPEN, SEPARATOR, cite
from groundtune.grounding.cited import _LABEL, ANSWER, NONE, QUOTE_MARK, RELEVANT, quote_opening
from groundtune.grounding.quotes import is_verbatim, normalize_whitespace

NEWLINE = "\n"
_LABEL_WORDS = ("relevant", "quote", "quotes", "answer")
_LIVE_CHECKS = 256
"""How many longer spans `ReplyGrammar._live` tries before it takes a span as closable later."""


def is_line_break(ch: str) -> bool:
    """Whether `ch` ends a line for `str.splitlines` (which the parsers split replies with)."""
    return len(f"a{ch}b".splitlines()) == 2


@dataclass(frozen=True, slots=True)
class Choice:
    """Writing one of `options` (literal strings), `typed` of it so far; completing one decides
    `step`: the label of the Relevant line, an `item` of it, the `sep` after an item, or which `line`
    comes next (a quote or the answer). `listed`: documents the Relevant line named; `quoted`: the
    (document, span) pairs quoted so far."""

    options: tuple[str, ...]
    step: str
    typed: str = ""
    listed: tuple[int, ...] = ()
    quoted: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Span:
    """Inside the quote of document `doc`: `body` so far, first found at `at` in its normalised text;
    `closing` after a quote mark that ends the span if a line break follows."""

    doc: int
    listed: tuple[int, ...]
    body: str = ""
    at: int = 0
    closing: bool = False
    quoted: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Free:
    """In the answer text: `marker`, the citation marker being written (None outside one); `line`,
    the start of the current line while it could still become a field label (None once it cannot);
    `cites`, the markers it may write (None: of every prompt document)."""

    line: str | None = None
    marker: str | None = None
    has_text: bool = False
    cites: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Done:
    """The answer line has ended: a cited reply is complete, and only stopping is legal. A model that
    would go on (an adapter trained on a few examples often repeats `Relevant: none` and the refusal
    until the token limit, never writing its end-of-turn token) is stopped here instead."""


State = Choice | Span | Free | Done


class ReplyGrammar:
    """Legal replies of one prompt: `feed(state, text)` is the state after `text`, or None when that
    text cannot continue a legal reply; `can_end(state)` says whether the reply may stop there."""

    def __init__(
        self,
        documents: Sequence[str],
        *,
        fields: bool = True,
        must_answer: bool = False,
        listable: Sequence[int] | None = None,
        list_all: bool = False,
    ) -> None:
        self.raw = list(documents)
        self.texts = [normalize_whitespace(t) for t in documents]
        self.fields = fields
        self.markers = tuple(cite(n) for n in range(1, len(documents) + 1))
        # documents the Relevant line may name (an unknown number is ignored; none left: any)
        kept = [n for n in listable or () if 1 <= n <= len(documents)]
        self.listable = frozenset(kept) if kept else frozenset(range(1, len(documents) + 1))
        # the Relevant line names every listable document, in order (a relevance decision already
        # taken from the documents' scores); without an explicit list it chooses as usual
        self.list_all = list_all and bool(kept)
        # `Relevant: none` is left out only when a document can be named instead
        self.must_answer = must_answer and bool(self.markers)
        self._verified: dict[tuple[int, str], bool] = {}
        self.start: State = Choice((RELEVANT,), "label") if fields else Free()

    # -- stepping -----------------------------------------------------------------------------------

    def feed(self, state: State | None, text: str) -> State | None:
        for ch in text:
            if state is None or isinstance(state, Done):
                return None
            if isinstance(state, Free):
                state = self._free(state, ch)
            elif isinstance(state, Span):
                state = self._span(state, ch)
            else:
                state = self._choice(state, ch)
        return state

    def can_end(self, state: State | None) -> bool:
        """Whether the reply may stop in `state`: only in an answer with some text, outside a marker,
        on a line that does not read as a field label; or once the answer line has ended."""
        return isinstance(state, Done) or (
            isinstance(state, Free)
            and state.has_text
            and state.marker is None
            and (state.line is None or not _LABEL.match(state.line))
        )

    def is_done(self, state: State | None) -> bool:
        """Whether the reply is complete and must stop (the answer line of a cited reply has ended)."""
        return isinstance(state, Done)

    def is_free(self, state: State | None) -> bool:
        """Whether `state` is in free answer text (outside a marker): a token that adds no text, such
        as a special token, is harmless there and nowhere else."""
        return isinstance(state, Free) and state.marker is None

    def _choice(self, s: Choice, ch: str) -> State | None:
        typed = s.typed + ch
        options = tuple(o for o in s.options if o.startswith(typed))
        if not options:
            return None
        if typed not in options:
            return replace(s, options=options, typed=typed)
        if s.step == "label":
            refuse = () if self.must_answer else (NONE + NEWLINE,)
            return Choice((*self._items(()), *refuse), "item")
        if s.step == "item":
            if typed == NONE + NEWLINE:
                return Choice((ANSWER,), "line")
            listed = (*s.listed, self.markers.index(typed) + 1)
            more = bool(self._items(listed))
            seps = ((SEPARATOR,) if self.list_all else (SEPARATOR, NEWLINE)) if more else (NEWLINE,)
            return Choice(seps, "sep", listed=listed)
        if s.step == "sep":
            if typed == SEPARATOR:
                return Choice(self._items(s.listed), "item", listed=s.listed)
            return self._next_line(s.listed, first=True)
        if typed == ANSWER:
            # the answer cites what the Relevant line named (any prompt document after `none`)
            return Free(cites=tuple(cite(n) for n in sorted(s.listed)) or None)
        doc = next(n for n in s.listed if quote_opening(n) == typed)
        return Span(doc, s.listed, quoted=s.quoted)

    def _items(self, listed: tuple[int, ...]) -> tuple[str, ...]:
        items = tuple(
            m for n, m in enumerate(self.markers, start=1) if n in self.listable and n not in listed
        )
        return items[:1] if self.list_all else items

    def _next_line(
        self, listed: tuple[int, ...], first: bool = False, quoted: tuple[tuple[int, str], ...] = ()
    ) -> Choice:
        """The line after the Relevant list (`first`: at least one quote) or after a quote."""
        openings = tuple(
            quote_opening(n)
            for n in listed
            if self.texts[n - 1] and self._live(Span(n, listed, quoted=quoted))
        )
        if first and openings:
            return Choice(openings, "line", listed=listed)
        return Choice((*openings, ANSWER), "line", listed=listed, quoted=quoted)

    def _span(self, s: Span, ch: str) -> State | None:
        if s.closing:
            if ch == NEWLINE:
                return self._next_line(s.listed, quoted=(*s.quoted, (s.doc, s.body)))
            # The mark did not close the span: it was part of it (the document quotes someone).
            inner = self._extend(replace(s, closing=False), QUOTE_MARK)
            return None if inner is None else self._span(inner, ch)
        if ch == QUOTE_MARK and self.closable(s):
            return replace(s, closing=True)
        return self._extend(s, ch)

    def _extend(self, s: Span, more: str) -> Span | None:
        text = self.texts[s.doc - 1]
        if text.startswith(more, s.at + len(s.body)):
            grown: Span | None = replace(s, body=s.body + more)
        else:
            # Every occurrence of body + more is one of body, and none starts before the first.
            at = text.find(s.body + more, s.at + 1)
            grown = None if at < 0 else replace(s, body=s.body + more, at=at)
        return grown if grown is not None and self._live(grown) else None

    def _live(self, s: Span) -> bool:
        """Whether the span can still be closed, here or after more of its document: a body quoted
        already at the end of its document would leave no legal token (decoding would break off the
        grammar). Checks at most `_LIVE_CHECKS` extensions; a span that has more is taken as live."""
        if self.closable(s):
            return True
        text, checks = self.texts[s.doc - 1], 0
        at = text.find(s.body, s.at)
        while at >= 0:
            for end in range(at + len(s.body) + 1, len(text) + 1):
                checks += 1
                if checks > _LIVE_CHECKS or self.closable(replace(s, body=text[at:end], at=at)):
                    return True
            at = text.find(s.body, at + 1)
        return False

    def closable(self, s: Span) -> bool:
        """Whether the span may end here: not blank, not a span of that document quoted already, and
        the quote verifies against its document."""
        key = (s.doc, s.body)
        if not s.body.strip() or key in s.quoted:
            return False
        if key not in self._verified:
            self._verified[key] = is_verbatim(s.body, self.raw[s.doc - 1])
        return self._verified[key]

    def _cites(self, s: Free) -> tuple[str, ...]:
        """The citation markers the answer may write: its own list, else every prompt document's."""
        return self.markers if s.cites is None else s.cites

    def _free(self, s: Free, ch: str) -> State | None:
        marker = s.marker
        markers = self._cites(s)
        if marker is not None:
            typed = marker + ch
            matching = [m for m in markers if m.startswith(typed)]
            if not matching:
                return None
            marker = None if typed in matching else typed
        elif ch == OPEN:
            if not markers:
                return None
            marker = OPEN
        line = s.line
        if self.fields:
            if is_line_break(ch):
                if line is not None and _LABEL.match(line):
                    return None  # a bare `Answer` line reads as a field too
                if s.has_text and marker is None:
                    return Done()  # the answer is one line: its end is the reply's end
                line = ""
            elif line is not None:
                line += ch
                kind = _line_kind(line)
                if kind == "label":
                    return None
                if kind == "free":
                    line = None
        return Free(line, marker, s.has_text or not ch.isspace(), s.cites)

    # -- what to look for when the likeliest tokens are all illegal -----------------------------------

    def prospects(self, state: State | None, width: int) -> list[str]:
        """Strings that every legal next token is (nearly always) a prefix of: the rest of the
        options, the document's text after each place the span occurs, the rest of a marker. Empty
        in free answer text, where almost everything is legal."""
        if isinstance(state, Choice):
            return [o[len(state.typed) :] for o in state.options]
        if isinstance(state, Free):
            if state.marker is None:
                return []
            return [m[len(state.marker) :] for m in self._cites(state) if m.startswith(state.marker)]
        if state is None or isinstance(state, Done):
            return []
        text = self.texts[state.doc - 1]
        body = state.body + (QUOTE_MARK if state.closing else "")
        out: set[str] = {NEWLINE} if state.closing else set()
        if self.closable(state):
            out.add(QUOTE_MARK + NEWLINE)
        at = text.find(body) if body else 0
        while 0 <= at < len(text) and len(out) < 4096:
            rest = text[at + len(body) : at + len(body) + width]
            out.update((rest, *(rest[:k] + QUOTE_MARK + NEWLINE for k in range(1, 4))))
            at = text.find(body, at + 1) if body else at + 1
        return sorted(s for s in out if s)


def _line_kind(line: str) -> str:
    """`label` if the parser would read `line` as a field label whatever follows, `open` if it
    still could, else `free`."""
    if _LABEL.match(line):
        return "open" if line[-1].isalnum() or line[-1] == "_" else "label"
    if any(_LABEL.match(line + word[k:] + ":") for word in _LABEL_WORDS for k in range(len(word) + 1)):
        return "open"
    return "free"


class ReplyConstraint(BaseModel):
    """What constrained decoding must know of a request: its grounding style and the texts of the
    prompt's documents, in prompt order ([1] first)."""

    model_config = ConfigDict(extra="forbid")

    style: str = Field(description="Grounding style of the prompt (its format builds the grammar).")
    documents: list[str] = Field(description="Texts of the prompt's documents, numbered from 1.")
    must_answer: bool = Field(
        default=False,
        description="The reply may not refuse (`Relevant: none`): an answerability gate found the "
        "documents hold an answer (`grounding.abstention`).",
    )

    listable: list[int] | None = Field(
        default=None,
        description="Documents (1-based) the Relevant line may name: those whose own answerability is "
        "near the best one's (`abstention.listable_documents`); None: every prompt document.",
    )
    list_all: bool = Field(
        default=False,
        description="The Relevant line names every `listable` document (the calibration found the "
        "documents' scores list better than the model's own picks); no effect without `listable`.",
    )

    def grammar(self) -> ReplyGrammar | None:
        """The style's grammar over these documents (None for a style that has none)."""
        from groundtune.grounding.format import get_format

        return get_format(self.style).grammar(
            self.documents, must_answer=self.must_answer, listable=self.listable, list_all=self.list_all
        )

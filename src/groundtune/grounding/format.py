"""THE grounding format: the one place that turns a question and numbered documents into the user
turn, a target into the assistant turn, and model output back into a `GroundedAnswer`.

Every style shares the prompt shape (short instruction, `[n] Title` documents, `Question:`), and
differs in its target and parser (see cited.py, raft_cot.py, answer_only.py). The model's own turn
markers are not written here: `groundtune.models.layout` wraps what this returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from groundtune.core.configs import DEFAULT_STYLE
from groundtune.core.errors import InvalidInputError
from groundtune.core.ids import stable_hash
from groundtune.core.schemas import ContextDocument, Example, GroundedAnswer
from groundtune.grounding.citations import MARKER, cite
from groundtune.grounding.quotes import contains_answer, normalize_answer, normalize_whitespace

if TYPE_CHECKING:
    from groundtune.grounding.constraint import ReplyConstraint, ReplyGrammar

NO_DOCUMENTS = "(no documents)"


class GroundingFormat(ABC):
    """One style of the grounding format. Subclasses set `id`, `version`, `refusal`, `instruction`."""

    id: str
    version: str
    refusal: str
    instruction: str

    # -- prompt (shared by every style) -------------------------------------------------------------

    def render_documents(self, documents: Sequence[ContextDocument]) -> str:
        """`[1] Title` then the text, one blank line between documents."""
        if not documents:
            return NO_DOCUMENTS
        blocks = []
        for n, doc in enumerate(documents, start=1):
            title = normalize_whitespace(doc.title)
            head = f"{cite(n)} {title}" if title else cite(n)
            blocks.append(f"{head}\n{doc.text.strip()}")
        return "\n\n".join(blocks)

    def render_prompt(self, question: str, documents: Sequence[ContextDocument]) -> str:
        """The user turn: instruction, numbered titled documents, question."""
        question = normalize_whitespace(question)
        return f"{self.instruction}\n\n{self.render_documents(documents)}\n\nQuestion: {question}"

    few_shot_stop: tuple[str, ...] = ("\n\n",)
    """Where a reply ends for a model that does not end its turn: a base model that goes on leaves a
    blank line and writes another task (documents, `Question:`). Rendered targets hold no blank line
    unless an answer does (answers are one paragraph in every dataset groundtune builds)."""

    def few_shot_turns(self, demonstrations: Sequence[Example]) -> list[tuple[str, str]]:
        """Worked demonstrations as earlier (user turn, model turn) exchanges of a conversation.

        Each user turn is exactly the prompt a tuned model sees and each model turn exactly its
        target, so a few-shot base model answers the same final prompt as a tuned one, having seen
        the format carried out in the model's own turn (where a base model continues the pattern).
        """
        return [self.render_example(d) for d in demonstrations]

    # -- target and parsing (per style) --------------------------------------------------------------

    @abstractmethod
    def render_target(self, target: GroundedAnswer, documents: Sequence[ContextDocument] = ()) -> str:
        """The assistant turn for `target` (a refusal target renders the style's refusal)."""

    @abstractmethod
    def parse(self, text: str, documents: Sequence[ContextDocument] | None = None) -> GroundedAnswer:
        """Read model output back into a GroundedAnswer. Never raises; problems go to `violations`."""

    def grammar(
        self,
        documents: Sequence[str],
        *,
        must_answer: bool = False,
        listable: Sequence[int] | None = None,
        list_all: bool = False,
    ) -> ReplyGrammar | None:
        """The legal replies to a prompt over documents with these texts, for constrained decoding
        (`grounding.constraint`); None for a style without a grammar (every reply is legal).
        `must_answer`: the reply may not take the refusal decision (an answerability gate decided);
        `listable`: the documents it may name as relevant (None: any); `list_all`: it names every one of
        them."""
        return None

    def constraint(self, documents: Sequence[ContextDocument]) -> ReplyConstraint | None:
        """What a generation request carries so that decoding keeps to this style's grammar over
        `documents` (None for a style without one)."""
        if self.grammar([]) is None:
            return None
        from groundtune.grounding.constraint import ReplyConstraint

        return ReplyConstraint(style=self.id, documents=[d.text for d in documents])

    # -- helpers ----------------------------------------------------------------------------------

    def is_refusal(self, text: str) -> bool:
        """Whether `text` says this style's refusal sentence (case, punctuation and spacing aside).

        A reply that merely repeats the instruction (which quotes the sentence: `...reply "Answer: The
        documents do not contain the answer."`) does not refuse; base models often echo their prompt.
        """
        norm = f" {normalize_answer(text)} "
        if self._echoed_refusal:
            norm = norm.replace(self._echoed_refusal, " ")
        return contains_answer(norm, self.refusal)

    @cached_property
    def _echoed_refusal(self) -> str:
        """The instruction's quotation of the refusal sentence, normalised and padded with spaces: the
        last six words before the sentence, then the sentence ("" if the instruction has no lead-in)."""
        lead = normalize_answer(self.instruction.split(self.refusal)[0]).split()[-6:]
        return f" {' '.join(lead)} {normalize_answer(self.refusal)} " if lead else ""

    def refusal_target(self) -> GroundedAnswer:
        """The target for a context that does not answer the question."""
        return GroundedAnswer(relevant=[], quotes=[], answer=self.refusal, citations=[], refusal=True)

    def decision_spans(self, completion: str) -> list[tuple[int, int]]:
        """Character spans of a rendered target that carry its decisions: every `[n]` document marker
        (which document it names) and the refusal sentence (whether it answers at all). They are a
        few tokens of a long reply; training can weight them (train config `decision_weight`)."""
        spans = [m.span() for m in MARKER.finditer(completion)]
        start = completion.find(self.refusal)
        if start >= 0:
            spans.append((start, start + len(self.refusal)))
        return sorted(spans)

    def render_example(self, example: Example) -> tuple[str, str]:
        """(prompt, completion) of an example: the user turn and the assistant turn contents."""
        return (
            self.render_prompt(example.question, example.documents),
            self.render_target(example.target, example.documents),
        )

    def describe(self) -> dict[str, Any]:
        """What a dataset card or adapter records so that serving never guesses the format."""
        return {
            "style": self.id,
            "version": self.version,
            "refusal": self.refusal,
            "instruction_hash": stable_hash(self.instruction, length=12),
        }

    def __repr__(self) -> str:
        return f"GroundingFormat(style={self.id!r}, version={self.version!r})"


def styles() -> list[str]:
    """The style names `get_format` accepts."""
    return list(_styles())


def _styles() -> dict[str, type[GroundingFormat]]:
    from groundtune.grounding.answer_only import AnswerOnlyFormat
    from groundtune.grounding.cited import CitedFormat
    from groundtune.grounding.raft_cot import RaftCotFormat

    return {f.id: f for f in (CitedFormat, RaftCotFormat, AnswerOnlyFormat)}


def get_format(style: str = DEFAULT_STYLE) -> GroundingFormat:
    """The grounding format of one style: "cited" (default), "raft-cot" or "answer-only"."""
    known = _styles()
    if style not in known:
        raise InvalidInputError(
            f"unknown grounding style {style!r}",
            hint=f"use one of: {', '.join(known)}",
        )
    return known[style]()

"""Abstention: refuse when the model is unsure of its own answer.

A small model's up-front `Relevant: none` decision can be a habit rather than a reading of the
documents (issue 9: its log-odds rank refusal items at chance), yet how sure it is while writing the
answer does tell them apart: on a question the documents do not answer it guesses, and its
next-token distributions over the answer are wide. `answer_uncertainty` is the mean entropy (nats)
over the tokens of the parsed answer; `calibrate` picks, on labelled held-out items (a dataset's
validation split), the lowest threshold whose refused answerable items stay within a budget, with
the finite-sample correction of split-conformal risk control (a threshold fitted to a few dozen
items would otherwise refuse more on new ones); `abstain` turns a reply above the threshold into
the format's refusal.

A second signal needs no generation: the documents' `answerability` (`grounding.answerability`,
how well their best sentence matches the question, or a fitted weighing of four such features:
`answerability.fit_gate_weights`). `calibrate_gate` fits a gate on it within the same budget;
`choose` keeps whichever signal refuses better on the calibration items (refusal F1). A gate decides
both ways: below it the reply is the refusal, without generating; at or above it the model must
answer (`Relevant: none` is not allowed), so a model that refuses by habit cannot.

Pure code over text and numbers: the generation backend supplies the entropies and token ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field

from groundtune.core.configs import DEFAULT_MAX_FALSE_REFUSAL
from groundtune.core.schemas import ContextDocument, GroundedAnswer
from groundtune.grounding.answerability import (
    Scored,
    best_score,
    fit_gate_weights,
    gate_score,
    refusal_auroc,
)
from groundtune.grounding.citations import strip_citations
from groundtune.grounding.format import GroundingFormat

if TYPE_CHECKING:
    from groundtune.grounding.constraint import ReplyConstraint


class Abstention(BaseModel):
    """A calibrated refusal threshold for one system (None: never abstain) and where it came from."""

    threshold: float | None = Field(description="Refuse when answer uncertainty (nats) is at least this.")
    max_false_refusal: float = Field(ge=0.0, le=1.0, description="Budget of refused answerable items.")
    items: int = Field(ge=0, description="Calibration items.")
    answerable: int = Field(ge=0, description="Answerable calibration items.")
    false_refusal: float = Field(
        description="Share of answerable calibration items refused at the threshold."
    )
    refusal_recall: float | None = Field(description="Share of refusal items refused at the threshold.")
    signal: Literal["uncertainty", "answerability"] = Field(
        default="uncertainty",
        description="What decides refusals: the model's answer uncertainty (`threshold`), or the "
        "documents' answerability (`gate`).",
    )
    gate: float | None = Field(
        default=None,
        description="With signal `answerability`: refuse (without generating) when the documents' "
        "answerability is below this, else the model must answer.",
    )
    gate_weights: list[float] | None = Field(
        default=None,
        description="With a gate: the weights (one per `answerability.FEATURES`, then a bias) that make "
        "an item's answerability the gate reads (`answerability.gate_score`); None: its best document's "
        "score.",
    )
    embedder: str | None = Field(default=None, description="Embedder the answerability scores used.")
    relevance_margin: float | None = Field(
        default=None,
        description="The reply may name as relevant only documents whose own answerability is within "
        "this of the best document's (`listable_documents`); None: any prompt document.",
    )
    list_all: bool = Field(
        default=False,
        description="With a margin: the reply names every document within it, not its own choice among "
        "them (the documents' scores listed the calibration items' gold documents better).",
    )
    max_listed: int | None = Field(
        default=None,
        ge=1,
        description="With `list_all`: the reply names at most this many documents, the best-scoring within "
        "the margin: the most the system was trained or shown to name (its adapter's training targets, "
        "or its demonstrations), else the most its own Relevant lists named on the calibration items (a "
        "model made to list more than it ever writes quotes each and runs out of tokens); None: no cap.",
    )
    auroc: dict[str, float | None] = Field(
        default_factory=dict,
        description="How well each signal ranked refusal items above answerable ones on the calibration "
        "items (1.0 perfect, 0.5 chance).",
    )

    def summary(self) -> str:
        """One line for people: when it abstains and what that did on the calibration items, and which
        documents its replies may name."""
        rule = relevance_rule(self)
        return f"{self._refusals()}; {rule}" if rule else self._refusals()

    def _refusals(self) -> str:
        if self.signal == "answerability":
            recall = "–" if self.refusal_recall is None else f"{self.refusal_recall:.0%}"
            return (
                f"{gate_rule(self)} and otherwise answers "
                f"(its {self.items} calibration questions: refuses {self.false_refusal:.0%} of answerable "
                f"and {recall} of refusal ones)"
            )
        when = (
            "never abstains" if self.threshold is None else f"abstains at uncertainty >= {self.threshold:.3f}"
        )
        recall = "–" if self.refusal_recall is None else f"{self.refusal_recall:.0%}"
        line = f"{when} (validation: refuses {self.false_refusal:.0%} of answerable and {recall} of refusal questions)"
        if self.threshold is None and self.false_refusal > 0:
            line += f"; its own refusals use up the {self.max_false_refusal:.0%} budget"
        elif self.threshold is None and self.answerable:
            needed = math.ceil(1 / self.max_false_refusal - 1) if self.max_false_refusal > 0 else None
            line += (
                f"; a {self.max_false_refusal:.0%} budget needs at least {needed} answerable validation items"
                if needed
                else "; a 0% budget never abstains"
            )
        return line


def answer_span(text: str, answer: str) -> tuple[int, int]:
    """Character range of the parsed `answer` in `text` (citation markers included); the whole reply
    when the parser found no answer words (a reply off the format is judged as a whole)."""
    answer = answer.strip()
    start = text.rfind(answer) if answer and strip_citations(answer).strip() else -1
    return (start, start + len(answer)) if start >= 0 else (0, len(text))


def answer_uncertainty(
    text: str, answer: str, entropies: Sequence[float], ends: Sequence[int]
) -> float | None:
    """Mean entropy of the tokens whose text overlaps the parsed `answer` of `text`; None without
    per-token entropies."""
    if not entropies or len(entropies) != len(ends):
        return None
    lo, hi = answer_span(text, answer)
    begins = [0, *ends[:-1]]
    picked = [h for h, b, e in zip(entropies, begins, ends, strict=True) if e > lo and b < hi]
    if not picked:
        return None
    return sum(picked) / len(picked)


def abstains(uncertainty: float | None, threshold: float | None) -> bool:
    """Whether a reply with this uncertainty is replaced by a refusal."""
    return threshold is not None and uncertainty is not None and uncertainty >= threshold


def abstain(
    fmt: GroundingFormat,
    text: str,
    parsed: GroundedAnswer,
    uncertainty: float | None,
    threshold: float | None,
    documents: Sequence[ContextDocument] | None = None,
) -> tuple[str, GroundedAnswer]:
    """(`text`, `parsed`), or the format's refusal reply and its parse when the model was too unsure
    of an answer it did not already refuse."""
    if parsed.refusal or not abstains(uncertainty, threshold):
        return text, parsed
    refusal = fmt.render_target(fmt.refusal_target())
    return refusal, fmt.parse(refusal, documents)


def calibrate(
    uncertainties: Sequence[float | None],
    refused: Sequence[bool],
    refusal_targets: Sequence[bool],
    max_false_refusal: float = DEFAULT_MAX_FALSE_REFUSAL,
) -> Abstention:
    """The lowest threshold at which the answerable items refused (the model's own refusals
    included), k of n, keep (k + 1) / (n + 1) within `max_false_refusal`, so it refuses as many
    refusal items as that budget allows.

    That is split-conformal risk control: on new items exchangeable with these, the expected share
    of answerable ones refused is at most the budget. Keeping k / n within it instead would be
    optimistic, since the threshold is fitted to these very items: with 26 answerable validation
    items and a 10% budget it allows two refusals where one is safe. So a budget below 1 / (n + 1)
    never abstains. `refused` are the model's own refusals, `refusal_targets` whether each item's
    target refuses."""
    if not len(uncertainties) == len(refused) == len(refusal_targets):
        raise ValueError("uncertainties, refused and refusal_targets must have one entry per item")
    n_answerable = sum(not t for t in refusal_targets)

    def outcome(threshold: float | None) -> list[bool]:
        return [r or abstains(u, threshold) for u, r in zip(uncertainties, refused, strict=True)]

    threshold: float | None = None
    for candidate in sorted({u for u in uncertainties if u is not None}, reverse=True):
        if (refused_counts(outcome(candidate), refusal_targets)[0] + 1) / (
            n_answerable + 1
        ) > max_false_refusal:
            break
        threshold = candidate
    false, recall = refusal_rates(outcome(threshold), refusal_targets)
    return Abstention(
        threshold=threshold,
        max_false_refusal=max_false_refusal,
        items=len(refusal_targets),
        answerable=n_answerable,
        false_refusal=false,
        refusal_recall=recall,
    )


def refused_counts(refused: Sequence[bool], refusal_targets: Sequence[bool]) -> tuple[int, int]:
    """(answerable items refused, refusal items refused)."""
    false = sum(r and not t for r, t in zip(refused, refusal_targets, strict=True))
    return false, sum(r and t for r, t in zip(refused, refusal_targets, strict=True))


def refusal_rates(refused: Sequence[bool], refusal_targets: Sequence[bool]) -> tuple[float, float | None]:
    """(share of answerable items refused, share of refusal items refused; None without any)."""
    false, hit = refused_counts(refused, refusal_targets)
    n_answerable = sum(not t for t in refusal_targets)
    n_refusal = len(refusal_targets) - n_answerable
    return (false / n_answerable if n_answerable else 0.0), (hit / n_refusal if n_refusal else None)


class Gated(Protocol):
    """What a gate decision reads: an `Abstention`, or the calibration artifact stored from one."""

    @property
    def signal(self) -> str: ...

    @property
    def gate(self) -> float | None: ...

    @property
    def relevance_margin(self) -> float | None: ...

    @property
    def list_all(self) -> bool: ...

    @property
    def max_listed(self) -> int | None: ...

    @property
    def gate_weights(self) -> list[float] | None: ...


def has_gate(abstention: Gated | None) -> bool:
    """Whether the documents' answerability decides refusals under `abstention` (it has a gate)."""
    return abstention is not None and abstention.signal == "answerability" and abstention.gate is not None


def gate_rule(abstention: Gated) -> str:
    """Its gate for people: "refuses when the documents' answerability < G" (with a weighted gate:
    "answerability (its features weighed)")."""
    weighed = " (its features weighed)" if abstention.gate_weights is not None else ""
    return f"refuses when the documents' answerability{weighed} < {abstention.gate:.3f}"


def relevance_rule(abstention: Gated) -> str | None:
    """Which documents its replies may name, for people (None: any prompt document)."""
    if abstention.relevance_margin is None:
        return None
    which = "every document" if abstention.list_all else "only documents"
    capped = abstention.list_all and abstention.max_listed
    cap = f" (at most {abstention.max_listed}, the best-scoring)" if capped else ""
    return (
        f"names as relevant {which} within {abstention.relevance_margin:.2f} of the best one's "
        f"answerability{cap}"
    )


def gate_decision(abstention: Gated | None, score: float | None) -> Literal["refuse", "answer"] | None:
    """What a gate decides for documents of answerability `score` (None: the model decides)."""
    if abstention is None or abstention.gate is None or not has_gate(abstention) or score is None:
        return None
    return "refuse" if score < abstention.gate else "answer"


def uses_document_scores(abstention: Gated | None) -> bool:
    """Whether `steer` reads the documents' own scores under `abstention`: it has an answerability
    gate or a relevance margin."""
    return abstention is not None and (has_gate(abstention) or abstention.relevance_margin is not None)


def within_margin(scores: Sequence[float], margin: float | None, cap: int | None = None) -> list[int]:
    """1-based numbers, in order, of the documents whose own score is within `margin` of the best
    one's (every document when `margin` is None); with a `cap`, only the `cap` best-scoring of them
    (ties: the earlier document)."""
    top = best_score(scores)
    kept = [n for n, s in enumerate(scores, start=1) if margin is None or s >= top - margin]
    if cap is not None and len(kept) > cap:
        kept = sorted(sorted(kept, key=lambda n: -scores[n - 1])[:cap])
    return kept


def listable_documents(abstention: Gated | None, scores: Sequence[float] | None) -> list[int] | None:
    """1-based numbers of the documents a reply may name as relevant: those whose own answerability
    (`answerability.document_scores`) is within the calibrated margin of the best one's; when the reply
    must name them all (`list_all`), at most `max_listed` of them. None: any."""
    margin = abstention.relevance_margin if abstention is not None else None
    if abstention is None or margin is None or not scores:
        return None
    return within_margin(scores, margin, abstention.max_listed if abstention.list_all else None)


def gated_score(abstention: Gated | None, scored: Scored | None) -> float | None:
    """The answerability a gate of `abstention` reads for an item scored so (`answerability.gate_score`
    under its weights; the best document's score without a gate)."""
    if scored is None:
        return None
    weights = abstention.gate_weights if abstention is not None and has_gate(abstention) else None
    return gate_score(scored, weights)


def steer(
    constraint: ReplyConstraint | None, abstention: Gated | None, scored: Scored | None
) -> tuple[Literal["refuse", "answer"] | None, ReplyConstraint | None]:
    """What the gate decides for an item scored so (`answerability.score_items`), and the decoding
    constraint that carries it out: `must_answer` when the gate lets the question through, `listable`
    from the relevance margin over the documents' own scores (and `list_all` when the calibration names
    them all). A "refuse" needs no generation (the caller renders the refusal)."""
    decision = gate_decision(abstention, gated_score(abstention, scored))
    scores = scored.documents if scored is not None else None
    if constraint is None:
        return decision, None
    update: dict[str, object] = {}
    if decision == "answer":
        update["must_answer"] = True
    listable = listable_documents(abstention, scores)
    if listable is not None:
        update["listable"] = listable
        if abstention is not None and abstention.list_all:
            update["list_all"] = True
    return decision, constraint.model_copy(update=update) if update else constraint


RELEVANCE_MARGINS: tuple[float | None, ...] = (None, 0.3, 0.2, 0.15, 0.1, 0.05, 0.02, 0.0)
"""Margins `calibrate_relevance` tries, loosest first (None: no restriction)."""


def calibrate_relevance(
    listed: Sequence[Sequence[int]],
    scores: Sequence[Sequence[float]],
    gold: Sequence[set[int]],
    cap: int | None = None,
) -> tuple[float | None, bool, int | None, dict[str, float]]:
    """The relevance margin and list rule under which a system's Relevant lists on labelled answerable
    items would have had the best mean F1 against the gold documents, the cap on how many documents
    `list_all` names, and that F1 per rule tried (keys `m`, `all:m`). Under a margin the reply names its
    own listed documents that are listable, or (when it named none of them, or refused) the best-scoring
    document; ties keep the looser margin, so a model that picks documents well keeps its own choices.
    `list_all` (True when strictly better than every margin over the model's own lists) names every
    listable document instead, at most the cap's best-scoring (ties keep the tighter margin: fewer
    documents named). `cap` is the most documents the system was trained or shown to name (its
    adapter's training targets, its demonstrations); without it, the most its own lists named on those
    items: the rule never makes it name more than it writes itself. The returned cap is None when
    `list_all` is not chosen (or nothing bounds it)."""
    if not len(listed) == len(scores) == len(gold):
        raise ValueError("listed, scores and gold must have one entry per item")
    items = [(set(own), list(s), g) for own, s, g in zip(listed, scores, gold, strict=True) if g and s]
    if not items:
        return None, False, None, {}
    cap = cap or max(len(own) for own, _, _ in items) or None

    def f1(pred: set[int], want: set[int]) -> float:
        hit = len(pred & want)
        return 2 * hit / (len(pred) + len(want)) if hit else 0.0

    def named(own: set[int], s: list[float], margin: float | None) -> set[int]:
        return (own & set(within_margin(s, margin))) or {s.index(best_score(s)) + 1}

    def mean(margin: float | None, every: bool) -> float:
        lists = (
            set(within_margin(s, margin, cap)) if every else named(own, s, margin) for own, s, _ in items
        )
        return sum(f1(pred, g) for pred, (_, _, g) in zip(lists, items, strict=True)) / len(items)

    table = {str(m): mean(m, False) for m in RELEVANCE_MARGINS}
    best = max(RELEVANCE_MARGINS, key=lambda m: (table[str(m)], -RELEVANCE_MARGINS.index(m)))
    every = [m for m in RELEVANCE_MARGINS if m is not None]
    table |= {f"all:{m}": mean(m, True) for m in every}
    best_all = max(every, key=lambda m: (table[f"all:{m}"], every.index(m)))  # ties: the tighter
    if table[f"all:{best_all}"] > table[str(best)]:
        return best_all, True, cap, table
    return best, False, None, table


def calibrate_gate(
    scores: Sequence[float],
    refusal_targets: Sequence[bool],
    max_false_refusal: float = DEFAULT_MAX_FALSE_REFUSAL,
    *,
    embedder: str | None = None,
    weights: Sequence[float] | None = None,
) -> Abstention:
    """The highest answerability gate whose refused answerable items, k of n, keep (k + 1) / (n + 1)
    within `max_false_refusal` (split-conformal, as `calibrate`); items below it are refused. None
    when even one refused answerable item would break the budget. `weights` are those `scores` were
    made with (`answerability.gate_score`), kept so new items are scored alike."""
    if len(scores) != len(refusal_targets):
        raise ValueError("scores and refusal_targets must have one entry per item")
    answerable = sorted(s for s, t in zip(scores, refusal_targets, strict=True) if not t)
    allowed = math.floor(max_false_refusal * (len(answerable) + 1) + 1e-9) - 1
    gate = answerable[allowed] if 0 <= allowed < len(answerable) else None
    false, recall = refusal_rates([gate is not None and s < gate for s in scores], refusal_targets)
    return Abstention(
        threshold=None,
        max_false_refusal=max_false_refusal,
        items=len(refusal_targets),
        answerable=len(answerable),
        false_refusal=false,
        refusal_recall=recall,
        signal="answerability",
        gate=gate,
        gate_weights=list(weights) if weights is not None and gate is not None else None,
        embedder=embedder,
    )


def calibrate_weighted_gate(
    scored: Sequence[Scored],
    refusal_targets: Sequence[bool],
    max_false_refusal: float = DEFAULT_MAX_FALSE_REFUSAL,
    *,
    embedder: str | None = None,
) -> Abstention:
    """`calibrate_gate` on labelled items scored so (`answerability.score_items`): their features
    weighed first where that ranks better (`answerability.fit_gate_weights`), the gate's AUROC on them
    recorded."""
    weights = fit_gate_weights([s.features for s in scored], refusal_targets)
    scores = [gate_score(s, weights) for s in scored]
    gate = calibrate_gate(scores, refusal_targets, max_false_refusal, embedder=embedder, weights=weights)
    return gate.model_copy(update={"auroc": {"answerability": refusal_auroc(scores, refusal_targets)}})


def refusal_f1(a: Abstention) -> float:
    """Refusal F1 on the calibration items an abstention was fitted to."""
    n_ref = a.items - a.answerable
    hit = (a.refusal_recall or 0.0) * n_ref
    refused = hit + a.false_refusal * a.answerable
    return 2 * hit / (refused + n_ref) if refused + n_ref else 0.0


def within_budget(a: Abstention) -> bool:
    """Whether it refused no more answerable calibration items than its budget allows."""
    return a.false_refusal <= a.max_false_refusal + 1e-9


def gate_outcome(gate: Abstention, scored: Sequence[Scored], refusal_targets: Sequence[bool]) -> Abstention:
    """`gate` (fitted on more items) judged on these labelled items alone: what it refuses among them
    and how well its score ranks them (`auroc`), so that `choose` compares it with the model's own
    decisions on the items those were calibrated on."""
    if len(scored) != len(refusal_targets):
        raise ValueError("scored and refusal_targets must have one entry per item")
    scores = [gated_score(gate, s) for s in scored]
    false, recall = refusal_rates([gate_decision(gate, v) == "refuse" for v in scores], refusal_targets)
    return gate.model_copy(
        update={
            "items": len(refusal_targets),
            "answerable": sum(not t for t in refusal_targets),
            "false_refusal": false,
            "refusal_recall": recall,
            "auroc": {"answerability": refusal_auroc([v or 0.0 for v in scores], refusal_targets)},
        }
    )


def choose(
    by_uncertainty: Abstention, by_gate: Abstention | None, gate_here: Abstention | None = None
) -> Abstention:
    """The abstention that refuses better on the calibration items, carrying both signals' AUROC:
    one within the false-refusal budget first (a model whose own refusals break the budget loses to a
    gate that keeps it, since a gate overrides them), then the higher refusal F1, then the signal that
    ranks the items better (AUROC); a full tie keeps the model's own decisions. A gate fitted on more
    items than the model's calibration items is judged on those items alone (`gate_here`, from
    `gate_outcome`): otherwise the F1 of a few dozen items, or 13, is weighed against one of hundreds.
    Its budget is the one it was fitted to keep, over all its items (a few dozen of them can break it
    by chance where hundreds do not)."""
    auroc = {**by_uncertainty.auroc, **(by_gate.auroc if by_gate else {})}
    best = by_uncertainty
    if by_gate is not None and by_gate.gate is not None:
        here = gate_here or by_gate
        gate_rank = (within_budget(by_gate), refusal_f1(here), here.auroc.get("answerability") or 0.0)
        own = by_uncertainty.auroc.get("uncertainty") or 0.0
        if gate_rank > (within_budget(by_uncertainty), refusal_f1(by_uncertainty), own):
            best = by_gate
    return best.model_copy(update={"auroc": auroc})

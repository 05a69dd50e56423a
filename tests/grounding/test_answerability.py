"""Answerability (how well the documents' best sentence matches the question) and the gate fitted on it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from groundtune.grounding.abstention import (
    Abstention,
    calibrate,
    calibrate_gate,
    calibrate_relevance,
    choose,
    gate_decision,
    gate_outcome,
    gated_score,
    listable_documents,
    refusal_f1,
    relevance_rule,
    steer,
)
from groundtune.grounding.answerability import (
    FEATURES,
    Scored,
    answerability,
    answerability_scores,
    auroc,
    content_words,
    document_scores,
    fit_gate_weights,
    gate_score,
    refusal_auroc,
    score_items,
)
from groundtune.grounding.constraint import ReplyConstraint

QUESTION = "How long is the warranty on the kettle?"
HOLDS = ["The toaster comes in red. The kettle carries a warranty of 24 months from purchase."]
SILENT = ["The toaster comes in red. Returns are accepted within 30 days."]


def test_a_sentence_holding_the_question_scores_higher() -> None:
    assert answerability(QUESTION, HOLDS) > answerability(QUESTION, SILENT)
    assert answerability(QUESTION, []) == 0.0
    assert answerability(QUESTION, HOLDS) == pytest.approx(
        len(content_words(QUESTION) & content_words(HOLDS[0].split(". ")[1])) / len(content_words(QUESTION))
    )


def test_an_embedder_blends_meaning_in_and_is_called_once() -> None:
    calls: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:  # a deterministic bag-of-letters embedding
        calls.append(len(texts))
        return np.asarray([[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], float)

    scores = answerability_scores([(QUESTION, HOLDS), (QUESTION, SILENT)], embed)
    # one call, each distinct text once: the question (asked twice), three sentences (the toaster's
    # is in both documents) and the two documents
    assert calls == [1 + 3 + 2]
    lexical = answerability_scores([(QUESTION, HOLDS), (QUESTION, SILENT)])
    assert scores != lexical and scores[0] > scores[1]


def test_auroc_counts_pairs_and_ties() -> None:
    assert auroc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert auroc([1.0], [2.0]) == 0.0
    assert auroc([1.0, 2.0], [1.0, 2.0]) == 0.5
    assert auroc([], [1.0]) is None
    rng = random.Random(0)
    pos, neg = [rng.random() for _ in range(30)], [rng.random() for _ in range(40)]
    pairs = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (30 * 40)
    assert auroc(pos, neg) == pytest.approx(pairs)


def test_the_gate_keeps_false_refusals_within_the_budget_with_the_conformal_correction() -> None:
    answerable = [i / 20 for i in range(1, 20)]  # 19 answerable items
    refusal = [0.01, 0.02, 0.03, 0.5, 0.9]
    targets = [False] * 19 + [True] * 5
    a = calibrate_gate(answerable + refusal, targets, 0.1, embedder="e")
    # (k + 1) / (n + 1) <= 0.1 with n = 19 allows k = 1 answerable item below the gate
    assert a.signal == "answerability" and a.gate == pytest.approx(0.10)
    assert a.false_refusal == pytest.approx(1 / 19)
    assert a.refusal_recall == pytest.approx(3 / 5)
    assert gate_decision(a, 0.05) == "refuse" and gate_decision(a, 0.1) == "answer"
    # a budget too small for even one refused answerable item: no gate, the model decides
    none = calibrate_gate(answerable + refusal, targets, 0.04)
    assert none.gate is None and gate_decision(none, 0.0) is None


def test_choose_keeps_the_signal_that_refuses_better() -> None:
    targets = [False] * 19 + [True] * 5
    by_uncertainty = calibrate([0.1] * 24, [False] * 24, targets, 0.1)  # uninformative: never refuses
    by_gate = calibrate_gate([i / 20 for i in range(1, 20)] + [0.0] * 5, targets, 0.1)
    chosen = choose(by_uncertainty.model_copy(update={"auroc": {"uncertainty": 0.5}}), by_gate)
    assert chosen.signal == "answerability" and refusal_f1(chosen) > refusal_f1(by_uncertainty)
    assert chosen.auroc == {"uncertainty": 0.5}
    assert choose(by_uncertainty, None) == by_uncertainty
    # a model whose own refusals are right keeps them
    own = calibrate([None] * 24, [False] * 19 + [True] * 5, targets, 0.1)
    assert choose(own, by_gate).signal == "uncertainty"
    # one that refuses most answerable items too has the higher F1 on a refusal-heavy split, but it
    # breaks the budget: the gate, which keeps it, wins
    heavy = [False] * 10 + [True] * 30
    habit = calibrate([None] * 40, [True] * 8 + [False] * 2 + [True] * 24 + [False] * 6, heavy, 0.1)
    gate = calibrate_gate([0.5 + i / 100 for i in range(10)] + [0.1] * 3 + [0.9] * 27, heavy, 0.1)
    assert refusal_f1(habit) > refusal_f1(gate) and habit.false_refusal == 0.8
    assert choose(habit, gate).signal == "answerability"


def test_a_gate_fitted_on_more_items_is_judged_on_the_calibration_items_alone() -> None:
    # a gate fitted on many items, where it refuses a third of the refusal items
    many = [False] * 60 + [True] * 15
    gate = calibrate_gate([0.5 + i / 200 for i in range(60)] + [0.1] * 5 + [0.9] * 10, many, 0.1)
    assert refusal_f1(gate) < 0.5
    # on the 13 calibration items it refuses the one refusal item the model's uncertainty refuses too
    targets = [False] * 10 + [True] * 3
    # (the other two score above the gate but below every answerable item: it ranks them all right)
    scores = [0.6 + i / 100 for i in range(10)] + [0.1, 0.55, 0.58]
    here = gate_outcome(gate, [_scored([v]) for v in scores], targets)
    assert (here.items, here.answerable, here.false_refusal, here.refusal_recall) == (13, 10, 0.0, 1 / 3)
    assert here.gate == gate.gate and here.auroc == {"answerability": 1.0}
    own = calibrate([0.1] * 10 + [0.9, 0.1, 0.1], [False] * 13, targets, 0.1).model_copy(
        update={"auroc": {"uncertainty": 0.55}}
    )
    assert (own.false_refusal, own.refusal_recall) == (0.0, 1 / 3)
    # against the gate's figures on its own 75 items the model's 13 look better...
    assert choose(own, gate).signal == "uncertainty"
    # ...on the same items the two refuse alike, and the gate ranks them better: the gate
    assert choose(own, gate, here).signal == "answerability"
    # a full tie keeps the model's own decisions
    even = own.model_copy(update={"auroc": {"uncertainty": 1.0}})
    assert choose(even, gate, here).signal == "uncertainty"
    # two false refusals among the 10 answerable items break the budget there by chance; the gate's
    # budget is the one it keeps over its 75 items, and on these items it still refuses better
    unlucky = gate_outcome(gate, [_scored([v]) for v in [0.1, 0.2, *scores[2:10], 0.1, 0.1, 0.1]], targets)
    assert unlucky.false_refusal == 0.2 and unlucky.refusal_recall == 1.0
    assert choose(even, gate, unlucky).signal == "answerability"


def test_must_answer_leaves_the_refusal_decision_out_of_the_grammar() -> None:
    free = ReplyConstraint(style="cited", documents=["Alpha text.", "Beta text."]).grammar()
    forced = ReplyConstraint(
        style="cited", documents=["Alpha text.", "Beta text."], must_answer=True
    ).grammar()
    assert free is not None and forced is not None
    assert free.feed(free.start, "Relevant: none\n") is not None
    assert forced.feed(forced.start, "Relevant: none\n") is None
    assert forced.feed(forced.start, "Relevant: [2]\n") is not None
    # with no document to name, refusing stays legal
    empty = ReplyConstraint(style="cited", documents=[], must_answer=True).grammar()
    assert empty is not None and empty.feed(empty.start, "Relevant: none\n") is not None


def test_each_document_scores_its_own_best_sentence_and_the_best_is_the_answerability() -> None:
    docs = [SILENT[0], HOLDS[0], ""]
    [scores] = document_scores([(QUESTION, docs)])
    assert scores[1] > scores[0] and scores[2] == 0.0
    assert max(scores) == answerability(QUESTION, docs)
    assert document_scores([(QUESTION, [])]) == [[]]


def test_score_items_measures_sentences_and_whole_documents_in_one_embedding_call() -> None:
    calls: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.asarray([[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], float)

    docs = [("Toasters", SILENT[0]), ("Kettle", HOLDS[0])]
    [item] = score_items([(QUESTION, docs)], embed)
    assert calls == [1 + 3 + 2]  # the question, three distinct sentences, two whole documents
    assert item.documents == document_scores([(QUESTION, [t for _, t in docs])], embed)[0]
    assert len(item.features) == len(FEATURES) and item.features[0] == max(item.documents)
    # without an embedder the dense features are 0 and the blend is the lexical score
    [plain] = score_items([(QUESTION, docs)])
    assert plain.features[2:] == [0.0, 0.0] and plain.features[0] == plain.features[1]
    assert score_items([(QUESTION, [])]) == [Scored([], [0.0, 0.0, 0.0, 0.0])]


def test_items_sharing_documents_embed_each_text_once_and_score_as_if_alone() -> None:
    embedded: list[str] = []

    def embed(texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return np.asarray([[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], float)

    kb = [("Toasters", SILENT[0]), ("Kettle", HOLDS[0])]
    items = [(QUESTION, kb), ("What colour is the toaster?", kb[::-1]), (QUESTION, kb[:1])]
    together = score_items(items, embed)
    assert len(embedded) == len(set(embedded)) == 2 + 3 + 2  # two questions, three sentences, two documents
    assert together == [score_items([item], embed)[0] for item in items]


def test_gate_weights_learn_which_feature_tells_answerable_items_apart() -> None:
    rng = random.Random(0)
    # answerable items are told apart by the last feature only; the first is noise
    rows, refuse = [], []
    for i in range(200):
        unanswerable = i % 3 == 0
        rows.append([rng.random(), rng.random(), rng.random(), rng.gauss(0.3 if unanswerable else 0.7, 0.1)])
        refuse.append(unanswerable)
    weights = fit_gate_weights(rows, refuse)
    assert weights is not None and len(weights) == len(FEATURES) + 1
    assert weights[3] > 5 * max(abs(w) for w in weights[:3])
    scores = [gate_score(Scored([r[0]], r), weights) for r in rows]
    assert refusal_auroc(scores, refuse) > 0.95
    # one kind of item only: nothing to learn, the first feature alone
    assert fit_gate_weights(rows[:20], [False] * 20) is None
    assert fit_gate_weights([], []) is None
    # features that say nothing beyond the first one: the held-out folds keep the first one alone
    noise = [[r[3], rng.random(), rng.random(), rng.random()] for r in rows]
    assert fit_gate_weights(noise, refuse) is None
    with pytest.raises(ValueError, match="4 features"):
        fit_gate_weights([[0.1, 0.2]], [True])


def _gate(margin: float | None, gate: float | None = 0.3) -> Abstention:
    return Abstention(
        threshold=None,
        max_false_refusal=0.1,
        items=10,
        answerable=8,
        false_refusal=0.0,
        refusal_recall=0.5,
        signal="answerability",
        gate=gate,
        relevance_margin=margin,
    )


def test_listable_documents_are_those_near_the_best_one() -> None:
    assert listable_documents(_gate(0.1), [0.2, 0.75, 0.7, 0.5]) == [2, 3]
    assert listable_documents(_gate(0.0), [0.2, 0.75, 0.7, 0.5]) == [2]
    assert listable_documents(_gate(None), [0.2, 0.75]) is None
    assert listable_documents(None, [0.2, 0.75]) is None


def test_steer_carries_the_gate_and_the_margin_into_the_constraint() -> None:
    base = ReplyConstraint(style="cited", documents=["Alpha text.", "Beta text.", "Gamma text."])
    decision, c = steer(base, _gate(0.05), _scored([0.1, 0.6, 0.58]))
    assert decision == "answer" and c is not None and c.must_answer and c.listable == [2, 3]
    decision, c = steer(base, _gate(0.05), _scored([0.1, 0.2, 0.25]))
    assert decision == "refuse"
    assert not c.list_all
    # a calibration that names every listable document passes that on
    decision, c = steer(base, _gate(0.05).model_copy(update={"list_all": True}), _scored([0.1, 0.6, 0.58]))
    assert c is not None and c.listable == [2, 3] and c.list_all
    # no gate, no margin: the constraint is left as it is
    decision, c = steer(base, None, _scored([0.1, 0.6, 0.58]))
    assert decision is None and c is base
    assert steer(None, _gate(0.05), _scored([0.5])) == ("answer", None)


def _scored(documents: list[float], features: list[float] | None = None) -> Scored:
    return Scored(documents, features or [max(documents), 0.0, 0.0, 0.0])


def test_a_weighted_gate_reads_the_features_and_the_margin_still_the_documents() -> None:
    # the best document scores 0.6 (above the 0.3 gate), but the weights read the last feature only
    weighted = _gate(0.05).model_copy(update={"gate_weights": [0.0, 0.0, 0.0, 10.0, -5.0]})
    low, high = (
        _scored([0.1, 0.6, 0.58], [0.6, 0.5, 0.7, 0.2]),
        _scored([0.1, 0.6, 0.58], [0.6, 0.5, 0.7, 0.9]),
    )
    assert gated_score(weighted, low) == pytest.approx(-3.0)
    base = ReplyConstraint(style="cited", documents=["Alpha text.", "Beta text.", "Gamma text."])
    assert steer(base, weighted, low)[0] == "refuse"
    decision, c = steer(base, weighted, high)
    assert decision == "answer" and c is not None and c.listable == [2, 3]
    # weights only count under a gate; without one the item's answerability is its best document's
    assert gated_score(_gate(0.05, gate=None).model_copy(update={"gate_weights": [1.0] * 5}), low) == 0.6


def test_a_listable_restriction_limits_the_relevant_line_and_the_citations() -> None:
    texts = ["Alpha text.", "Beta text.", "Gamma text."]
    g = ReplyConstraint(style="cited", documents=texts, listable=[2, 3]).grammar()
    assert g is not None
    assert g.feed(g.start, "Relevant: [1]") is None
    assert g.feed(g.start, "Relevant: none\n") is not None  # refusing stays legal without a gate
    listed = g.feed(g.start, 'Relevant: [2]\nQuote [2]: "Beta text."\nAnswer: Beta')
    assert listed is not None
    # the answer cites what the Relevant line named, no other document
    assert g.feed(listed, " [2]") is not None
    assert g.feed(listed, " [3]") is None and g.feed(listed, " [1]") is None
    # without a restriction any prompt document may be named
    free = ReplyConstraint(style="cited", documents=texts).grammar()
    assert free is not None and free.feed(free.start, "Relevant: [1]") is not None
    # unknown numbers are ignored; none left means no restriction
    odd = ReplyConstraint(style="cited", documents=texts, listable=[9]).grammar()
    assert odd is not None and odd.feed(odd.start, "Relevant: [1]") is not None


def test_list_all_names_every_listable_document_in_order() -> None:
    texts = ["Alpha text.", "Beta text.", "Gamma text.", "Delta text."]
    g = ReplyConstraint(style="cited", documents=texts, listable=[3, 2], list_all=True).grammar()
    assert g is not None
    assert g.prospects(g.start, 20) == ["Relevant: "]
    assert g.prospects(g.feed(g.start, "Relevant: "), 20) == ["[2]", "none\n"]
    assert g.feed(g.start, "Relevant: [3]") is None  # in order
    assert g.feed(g.start, "Relevant: [2]\n") is None  # not one of them only
    both = g.feed(g.start, "Relevant: [2], [3]")
    assert both is not None and g.feed(both, ", ") is None
    reply = 'Relevant: [2], [3]\nQuote [3]: "Gamma text."\nAnswer: Gamma [3].'
    assert g.can_end(g.feed(g.start, reply))
    # a gate that lets the question through leaves `none` out; without a list it chooses as usual
    sure = ReplyConstraint(style="cited", documents=texts, listable=[2], list_all=True, must_answer=True)
    g = sure.grammar()
    assert g is not None and g.prospects(g.feed(g.start, "Relevant: "), 20) == ["[2]"]
    free = ReplyConstraint(style="cited", documents=texts, list_all=True).grammar()
    assert free is not None and free.feed(free.start, "Relevant: [4]\n") is not None


def test_the_relevance_margin_is_the_one_the_lists_do_best_under() -> None:
    scores = [[0.9, 0.3, 0.85, 0.2], [0.4, 0.8, 0.1, 0.1], [0.7, 0.72, 0.2, 0.1]]
    gold = [{1}, {2}, {2}]
    # a system naming every document gains from a tight margin
    margin, every, cap, table = calibrate_relevance([[1, 2, 3, 4]] * 3, scores, gold)
    assert cap is None and margin == 0.0 and table["0.0"] == 1.0 and table["None"] < 1.0 and not every
    # one that names the gold documents keeps its own choices (ties keep the loosest margin)
    margin, every, cap, table = calibrate_relevance([[1], [2], [2]], scores, gold)
    assert cap is None and margin is None and table["None"] == 1.0 and not every
    # a refusal (nothing named) counts as naming the best-scoring document
    _, _, cap, table = calibrate_relevance([[], [], []], scores, [{1}, {2}, {1}])
    assert table["None"] == pytest.approx(2 / 3) and cap is None
    # unanswerable items (no gold document) do not count
    assert calibrate_relevance([[1]], [[0.5]], [set()]) == (None, False, None, {})


def test_naming_every_document_within_the_margin_wins_only_when_strictly_better() -> None:
    # two gold documents per item, both near the top, and a model that names one of them or both
    scores = [[0.9, 0.86, 0.2, 0.1], [0.3, 0.8, 0.78, 0.1], [0.6, 0.1, 0.62, 0.2]]
    gold = [{1, 2}, {2, 3}, {1, 3}]
    margin, every, cap, table = calibrate_relevance([[1], [3], [1, 3]], scores, gold)
    assert every and margin == 0.05 and cap == 2 and table["all:0.05"] == 1.0
    assert table["None"] == pytest.approx(7 / 9) and table["all:0.0"] == pytest.approx(2 / 3)
    # a model whose lists already do as well keeps them
    margin, every, _, _ = calibrate_relevance([[1, 2], [2, 3], [1, 3]], scores, gold)
    assert not every and margin is None


def test_the_list_rule_never_names_more_documents_than_the_model_does() -> None:
    # the same items, but a model that only ever names one document: naming both within the margin
    # would be better on lists alone, but the cap holds it to one, and its own choices tie that
    scores = [[0.9, 0.86, 0.2, 0.1], [0.3, 0.8, 0.78, 0.1], [0.6, 0.1, 0.62, 0.2]]
    margin, every, cap, table = calibrate_relevance([[1], [3], [3]], scores, [{1, 2}, {2, 3}, {1, 3}])
    assert margin is None and not every and cap is None and table["all:0.05"] == pytest.approx(2 / 3)
    # a model trained (or shown) to name two documents is capped at two, though its lists named one
    margin, every, cap, _ = calibrate_relevance([[1], [3], [3]], scores, [{1, 2}, {2, 3}, {1, 3}], cap=2)
    assert every and margin == 0.05 and cap == 2
    # served, the cap keeps the best-scoring documents within the margin, in prompt order
    capped = _gate(0.3).model_copy(update={"max_listed": 2, "list_all": True})
    assert listable_documents(capped, [0.7, 0.75, 0.2, 0.72]) == [2, 4]
    assert listable_documents(capped, [0.7, 0.7, 0.7]) == [1, 2]  # ties: the earlier document
    assert listable_documents(capped, [0.7, 0.2, 0.1]) == [1]
    base = ReplyConstraint(style="cited", documents=["A.", "B.", "C.", "D."])
    _, c = steer(base, capped, _scored([0.7, 0.75, 0.2, 0.72]))
    assert c is not None and c.listable == [2, 4] and c.list_all
    assert "at most 2, the best-scoring" in (relevance_rule(capped) or "")
    # a model choosing among the listable documents itself is not held to the cap
    own = capped.model_copy(update={"list_all": False})
    assert listable_documents(own, [0.7, 0.75, 0.2, 0.72]) == [1, 2, 4]
    assert "at most" not in (relevance_rule(own) or "")

"""`build_dataset` end to end on a real knowledge base (tiny embedder, Qdrant local mode, SQLite):
oracle share, hard negatives from THE retriever, verified quotes, no leakage between splits, the
stored dataset contract, and a failed rebuild that loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundtune import kb as kb_api
from groundtune.core.errors import ConflictError, NotFoundError
from groundtune.data import BuildConfig, SourceSpec, build_dataset, load_card, load_dataset, write_qa_file
from groundtune.data.injection import TEMPLATES, TRAINING_TEMPLATES
from groundtune.data.splits import forbidden_docs
from groundtune.data.synthetic import make_synthetic_qa
from groundtune.data.tokens import load_counter
from groundtune.grounding import get_format, verify_quotes

N = 80


@pytest.fixture()
def corpus_kb(tmp_path: Path) -> tuple[str, Path]:
    data = make_synthetic_qa(N, seed=7)
    kb_api.create("syn", embedder="tiny-random-minilm")
    summary = kb_api.add("syn", data.corpus)
    assert summary.ok, summary
    qa = write_qa_file(data.pairs, tmp_path / "qa.jsonl")
    return "syn", qa


def config(qa: Path, **kw: object) -> BuildConfig:
    base = {
        "name": "syn-ds",
        "kb": "syn",
        "sources": [SourceSpec(kind="qa", path=str(qa))],
        "documents_per_prompt": 4,
        "oracle_fraction": 0.8,
        "lm": "tiny-random-gemma3",
        "max_tokens": 2048,
        "seed": 3,
    }
    base.update(kw)
    return BuildConfig.model_validate(base)


def test_build_end_to_end(corpus_kb: tuple[str, Path]) -> None:
    _, qa = corpus_kb
    result = build_dataset(config(qa), counter=load_counter("tiny-random-gemma3"))
    report, splits = result.report, result.splits
    examples = [ex for exs in splits.values() for ex in exs]
    assert report["questions"] == N and len(examples) == report["examples"] > 0.9 * N
    # About P of the answerable questions get the relevant chunk; the rest refuse.
    assert 0.6 <= 1 - report["refusal_share"] <= 0.95
    assert report["verified_quote_share"] >= 0.95
    assert report["leakage"] == []
    fmt = get_format("cited")
    for ex in examples:
        assert len(ex.documents) == 4
        assert (ex.prompt, ex.completion) == fmt.render_example(ex)
        assert all(verify_quotes(ex.target, ex.documents))
        relevant = [d for d in ex.documents if d.relevant]
        if ex.target.refusal:
            assert not relevant and ex.completion.endswith(fmt.refusal)
        else:
            assert relevant and all(d.label_reason.startswith("gold:") for d in relevant)
            assert ex.target.citations
        distractors = [d for d in ex.documents if not d.relevant]
        assert all(d.label_reason.split(":")[0] in ("hard_negative", "random") for d in distractors)
    # Positions of the relevant document are randomised.
    positions = {[d.relevant for d in ex.documents].index(True) for ex in examples if not ex.target.refusal}
    assert len(positions) >= 3

    # No leakage: a document of validation/test never appears in training, not even as a distractor.
    doc_split = {d: ex.split for ex in examples for d in ex.source_doc_ids}
    banned = forbidden_docs(doc_split)
    for split, exs in splits.items():
        shown = {d.doc_id for ex in exs for d in ex.documents}
        assert not shown & banned[split], split
    held_out = {d for d, s in doc_split.items() if s != "train"}
    assert held_out and not held_out & {d.doc_id for ex in splits["train"] for d in ex.documents}

    # The stored dataset: files, card and exports.
    root = result.path
    assert {p.name for p in root.iterdir()} == {
        "train.jsonl",
        "validation.jsonl",
        "test.jsonl",
        "card.json",
        "report.json",
        "exports",
    }
    loaded = load_dataset("syn-ds")
    assert {s: len(v) for s, v in loaded.items()} == {s: len(v) for s, v in splits.items()}
    card = load_card("syn-ds")
    assert card.documents_per_prompt == 4 and card.oracle_fraction == 0.8 and card.seed == 3
    assert card.grounding and card.grounding.style == "cited" and card.grounding.version == fmt.version
    with kb_api.open_kb("syn") as kb:  # the retriever's hash covers the documents a prompt shows
        assert card.retriever and card.retriever.hash == kb.retriever(kb_api.RetrieverConfig(k=4)).hash()
        assert card.retriever.hash != kb.retriever(kb_api.RetrieverConfig(documents_per_prompt=6)).hash()
    assert card.stats["verified_quote_share"] == report["verified_quote_share"]
    chat = [json.loads(line) for line in (root / "exports" / "chat.train.jsonl").read_text().splitlines()]
    assert chat[0]["messages"][0] == {"role": "user", "content": splits["train"][0].prompt}
    assert chat[0]["messages"][1]["content"] == splits["train"][0].completion
    pc = json.loads((root / "exports" / "prompt_completion.test.jsonl").read_text().splitlines()[0])
    assert set(pc) == {"prompt", "completion"}


def test_same_seed_same_dataset_and_rebuild_needs_overwrite(corpus_kb: tuple[str, Path]) -> None:
    _, qa = corpus_kb
    counter = load_counter("tiny-random-gemma3")
    first = build_dataset(config(qa, name="a"), counter=counter)
    second = build_dataset(config(qa, name="b"), counter=counter)
    assert [ex.model_dump() for ex in first.splits["train"]] == [
        ex.model_dump() for ex in second.splits["train"]
    ]
    before = (first.path / "train.jsonl").read_text()
    with pytest.raises(ConflictError):
        build_dataset(config(qa, name="a"), counter=counter)
    with pytest.raises(NotFoundError):  # a bad source fails before anything is replaced
        build_dataset(config(qa.parent / "missing.jsonl", name="a", overwrite=True), counter=counter)
    assert (first.path / "train.jsonl").read_text() == before


def test_an_explicit_home_holds_the_kb_and_the_dataset(tmp_path: Path) -> None:
    """`home` works as everywhere in the API: the KB is read from it and the dataset stored in it,
    whatever GROUNDTUNE_HOME says (the quickstart's Python entry point passes its own home)."""
    home = tmp_path / "elsewhere"
    data = make_synthetic_qa(24, seed=7)
    kb_api.create("syn", embedder="tiny-random-minilm", home=home)
    assert kb_api.add("syn", data.corpus, home=home).ok
    qa = write_qa_file(data.pairs, tmp_path / "qa.jsonl")
    result = build_dataset(config(qa), home=home)
    assert result.path.is_relative_to(home)
    assert load_dataset("syn-ds", home)["train"]
    with pytest.raises(NotFoundError):
        load_dataset("syn-ds")  # nothing in the GROUNDTUNE_HOME workspace


def test_token_budget_and_random_distractors(corpus_kb: tuple[str, Path]) -> None:
    _, qa = corpus_kb
    counter = load_counter("tiny-random-gemma3")
    result = build_dataset(
        config(qa, name="tight", max_tokens=700, random_distractors=0.5, documents_per_prompt=3),
        counter=counter,
    )
    examples = [ex for exs in result.splits.values() for ex in exs]
    assert all(ex.meta["prompt_tokens"] + ex.meta["completion_tokens"] <= 700 for ex in examples)
    kinds = {d.label_reason.split(":")[0] for ex in examples for d in ex.documents if not d.relevant}
    assert kinds == {"hard_negative", "random"}
    assert result.report["truncations"]["distractors_dropped_for_budget"] > 0
    assert all(all(verify_quotes(ex.target, ex.documents)) for ex in examples)


def test_unanswerable_questions_become_refusals(corpus_kb: tuple[str, Path], tmp_path: Path) -> None:
    qa = tmp_path / "mixed.jsonl"
    qa.write_text(
        json.dumps({"id": "u1", "question": "What colour is the moon base?", "answerable": False})
        + "\n"
        + json.dumps({"id": "a1", "question": "Unknown thing?", "answer": "zzzzzz"})
        + "\n"
    )
    result = build_dataset(
        config(qa, name="mixed", splits={"train": 1.0}), counter=load_counter("tiny-random-gemma3")
    )
    (ex,) = result.splits["train"]
    assert ex.id == "u1" and ex.target.refusal and not ex.answerable
    assert result.report["drops"] == {"no_relevant_chunk": 1}


def test_other_grounding_styles(corpus_kb: tuple[str, Path]) -> None:
    _, qa = corpus_kb
    for style in ("raft-cot", "answer-only"):
        _check_style(qa, style)


def _check_style(qa: Path, style: str) -> None:
    result = build_dataset(
        config(qa, name=f"s-{style}", style=style, splits={"train": 1.0}),
        counter=load_counter("tiny-random-gemma3"),
    )
    fmt = get_format(style)
    assert result.card.grounding and result.card.grounding.style == style
    for ex in result.splits["train"]:
        parsed = fmt.parse(ex.completion, ex.documents)
        assert parsed.format_ok, parsed.violations
        assert parsed.refusal == ex.target.refusal
        assert parsed.citations == ex.target.citations
        if style == "raft-cot" and not ex.target.refusal:
            assert "##begin_quote##" in ex.completion and parsed.quotes == ex.target.quotes


def test_contrast_twins_differ_only_by_the_evidence(corpus_kb: tuple[str, Path]) -> None:
    _, qa = corpus_kb
    counter = load_counter("tiny-random-gemma3")
    plain = build_dataset(config(qa, name="plain"), counter=counter)
    result = build_dataset(config(qa, name="contrast", contrast_fraction=1.0), counter=counter)
    by_id = {ex.id: ex for exs in result.splits.values() for ex in exs}
    twins = [ex for ex in by_id.values() if ex.meta["contrast_of"]]
    oracle_train = [ex for ex in result.splits["train"] if ex.meta["oracle"] and not ex.meta["contrast_of"]]
    assert twins and len(twins) == len(oracle_train)  # fraction 1: every oracle training question
    for twin in twins:
        original = by_id[twin.meta["contrast_of"]]
        assert twin.id == original.id + "~contrast" and twin.split == original.split == "train"
        assert twin.question == original.question and original.target.answer and not original.target.refusal
        assert twin.target.refusal and not twin.answerable and not any(d.relevant for d in twin.documents)
        assert not {d.doc_id for d in twin.documents} & set(original.source_doc_ids)
    # The rest of the dataset is the one built without twins.
    assert {ex.id: ex.prompt for exs in plain.splits.values() for ex in exs} == {
        i: ex.prompt for i, ex in by_id.items() if not ex.meta["contrast_of"]
    }
    assert result.report["leakage"] == []


def test_injection_fraction_plants_training_distractors_and_keeps_the_grounded_target(
    corpus_kb: tuple[str, Path],
) -> None:
    _, qa = corpus_kb
    counter = load_counter("tiny-random-gemma3")
    plain = build_dataset(config(qa, name="plain"), counter=counter)
    assert plain.card.config.injection_fraction == 0.0 and plain.report["planted_instructions"] == 0
    result = build_dataset(config(qa, name="planted", injection_fraction=0.5), counter=counter)
    assert result.card.config.injection_fraction == 0.5
    before = {ex.id: ex for exs in plain.splits.values() for ex in exs}
    train = result.splits["train"]
    planted = [ex for ex in train if "injection" in ex.meta]
    assert 0.25 * len(train) <= len(planted) <= 0.75 * len(train)  # drawn per example at 0.5
    assert result.report["planted_instructions"] == len(planted)
    for split in ("validation", "test"):  # held-out splits are never planted: the same examples
        assert result.splits[split] == plain.splits[split]
    evaluated = [t.split("{")[0] for t in TEMPLATES.values()]
    for ex in train:
        if ex not in planted:
            assert ex == before[ex.id]  # the draw has its own stream: the rest is the plain build
            continue
        meta = ex.meta["injection"]
        doc = ex.documents[meta["doc"] - 1]
        sentence = TRAINING_TEMPLATES[meta["template"]].format(canary=meta["canary"])
        assert doc.relevant is False and sentence in doc.text and meta["canary"].startswith("QV-")
        assert sentence in ex.prompt and meta["canary"] not in ex.completion
        assert not any(e in ex.prompt for e in evaluated)  # never the wording the injection suite plants
        assert ex.target == before[ex.id].target and ex.completion == before[ex.id].completion
        assert [d.relevant for d in ex.documents] == [d.relevant for d in before[ex.id].documents]
    assert any(ex.target.refusal for ex in planted) and any(not ex.target.refusal for ex in planted)

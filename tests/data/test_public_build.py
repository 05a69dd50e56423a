"""Builds over the real public datasets when ../shared/data holds them (skipped otherwise): gold
labels resolve against the ingested corpus and at least 95% of answerable examples carry a
verified verbatim quote."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundtune import kb as kb_api
from groundtune.data import (
    BuildConfig,
    SourceSpec,
    build_dataset,
    load_clapnq,
    load_nq_open_oracle,
    write_qa_file,
)
from groundtune.data.public import HELDOUT_KEY, load_public, part_of
from groundtune.data.tokens import load_counter
from groundtune.grounding import verify_quotes
from tests.conftest import shared_data


def _build(name: str, qa_path: str) -> dict[str, object]:
    config = BuildConfig(
        name=name,
        kb=name,
        sources=[SourceSpec(kind="qa", path=qa_path)],
        lm="tiny-random-gemma3",
        max_tokens=4096,
    )
    return build_dataset(config, counter=load_counter("tiny-random-gemma3")).report


def test_nq_open_oracle_build(tmp_path: Path) -> None:
    data = load_nq_open_oracle(shared_data("nq_open_oracle"), limit=150)
    kb_api.create("nq", embedder="tiny-random-minilm")
    kb_api.add("nq", data.corpus)
    report = _build("nq", str(write_qa_file(data.pairs, tmp_path / "qa.jsonl")))
    assert report["leakage"] == []
    assert report["verified_quote_share"] >= 0.95
    assert report["examples"] >= 0.9 * 150


def test_clapnq_build(tmp_path: Path) -> None:
    data = load_clapnq(shared_data("clapnq"), "dev", limit=100)
    gold = {d for p in data.pairs for d in p.gold_doc_ids}
    corpus = [r for r in data.corpus if r["id"] in gold] + [
        r for r in data.corpus[:400] if r["id"] not in gold
    ]
    kb_api.create("clap", embedder="tiny-random-minilm")
    kb_api.add("clap", corpus)
    report = _build("clap", str(write_qa_file(data.pairs, tmp_path / "qa.jsonl")))
    assert report["leakage"] == []
    assert report["verified_quote_share"] >= 0.95


def test_squad2_build_keeps_the_fixed_test_part_apart(tmp_path: Path) -> None:
    data = load_public("squad2", shared_data("squad2_dev_half"))
    kb_api.create("squad", embedder="tiny-random-minilm")
    kb_api.add("squad", data.corpus)
    config = BuildConfig(
        name="squad",
        kb="squad",
        sources=[SourceSpec(kind="squad2", path=str(shared_data("squad2_dev_half")), limit=200)],
        lm="tiny-random-gemma3",
        max_tokens=4096,
    )
    result = build_dataset(config, counter=load_counter("tiny-random-gemma3"))
    held = {p.id for p in data.pairs if p.meta[HELDOUT_KEY]}
    held_docs = {d for p in data.pairs if p.id in held for d in (*p.gold_doc_ids, *p.near_miss_doc_ids)}
    test_ids = {ex.id.removesuffix("~contrast") for ex in result.splits["test"]}
    assert test_ids and test_ids <= held
    for split in ("train", "validation"):
        assert not {ex.id for ex in result.splits[split]} & held
        assert not {d.doc_id for ex in result.splits[split] for d in ex.documents} & held_docs
    # An unanswerable question is shown its own paragraph (the near miss) and must refuse.
    own = {p.id: p.near_miss_doc_ids for p in data.pairs if not p.answerable}
    unanswerable = [ex for exs in result.splits.values() for ex in exs if ex.id in own]
    assert unanswerable and all(ex.target.refusal for ex in unanswerable)
    assert all(set(own[ex.id]) <= {d.doc_id for d in ex.documents} for ex in unanswerable)
    assert result.report["verified_quote_share"] >= 0.95 and result.report["leakage"] == []


def test_part_train_never_shows_the_test_part(tmp_path: Path) -> None:
    data = load_public("hotpotqa", shared_data("hotpotqa_reflexion100"))
    kb_api.create("hotpot", embedder="tiny-random-minilm")
    kb_api.add("hotpot", data.corpus)
    source = SourceSpec(kind="hotpotqa", path=str(shared_data("hotpotqa_reflexion100")), part="train")
    config = BuildConfig(
        name="hotpot", kb="hotpot", sources=[source], lm="tiny-random-gemma3", max_tokens=4096
    )
    result = build_dataset(config, counter=load_counter("tiny-random-gemma3"))
    held = [p for p in data.pairs if p.meta[HELDOUT_KEY]]
    held_docs = {d for p in held for d in p.gold_doc_ids}
    shown = {d.doc_id for exs in result.splits.values() for ex in exs for d in ex.documents}
    assert held and not shown & held_docs and not result.splits["test"]
    assert result.report["multi_document_targets"] > 0
    # nor trains on the validation part; `part: all` with no validation share makes it the validation split
    validation = {p.id for p in data.pairs if part_of(p) == "validation"}
    built = {ex.id.removesuffix("~contrast") for exs in result.splits.values() for ex in exs}
    assert validation and not built & validation
    every = source.model_copy(update={"part": "all"})
    config = config.model_copy(
        update={"name": "hotpot-all", "sources": [every], "splits": {"train": 1.0, "validation": 0.0}}
    )
    splits = build_dataset(config, counter=load_counter("tiny-random-gemma3")).splits
    ids = {s: {ex.id.removesuffix("~contrast") for ex in exs} for s, exs in splits.items()}
    assert ids["validation"] and ids["validation"] <= validation and not ids["train"] & validation
    assert ids["test"] <= {p.id for p in held}


@pytest.mark.integration
def test_free_form_answers_keep_their_questions(tmp_path: Path) -> None:
    """Gold document named, answers in the annotators' own words (ClapNQ with its evidence hidden): at
    least 90% of the answerable questions keep a target whose quote is verbatim from the gold passage."""
    data = load_clapnq(shared_data("clapnq"), "dev", unanswerable=False, limit=60)
    pairs = [p.model_copy(update={"gold_evidence": []}) for p in data.pairs]
    kb_api.create("clap", embedder="minilm-l6")
    kb_api.add("clap", data.corpus)
    config = BuildConfig(
        name="clap",
        kb="clap",
        sources=[SourceSpec(kind="qa", path=str(write_qa_file(pairs, tmp_path / "qa.jsonl")))],
        lm="tiny-random-gemma3",
        max_tokens=4096,
        oracle_fraction=1.0,
    )
    result = build_dataset(config, counter=load_counter("tiny-random-gemma3"))
    kept = [ex for exs in result.splits.values() for ex in exs if not ex.target.refusal]
    assert len(kept) >= 0.9 * len(pairs)
    assert all(all(verify_quotes(ex.target, ex.documents)) and ex.target.quotes for ex in kept)
    assert result.report["evidence_from_support"] > 0.5 * len(pairs)

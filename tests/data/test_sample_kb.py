"""A build over the project's sample knowledge base (examples/sample_kb): file-name gold labels,
the held-out question file pinned to the test split, and no held-out document in training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundtune import kb as kb_api
from groundtune.data import BuildConfig, SourceSpec, build_dataset
from groundtune.data.tokens import load_counter
from groundtune.grounding import verify_quotes

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample_kb"


@pytest.mark.skipif(not (SAMPLE / "qa_heldout.jsonl").exists(), reason="sample KB not in this checkout")
def test_sample_kb_build_keeps_held_out_documents_out_of_training() -> None:
    kb_api.create("sample", embedder="tiny-random-minilm")
    summary = kb_api.add("sample", [SAMPLE / "docs"])
    assert not summary.errors, summary.errors
    config = BuildConfig(
        name="sample-ds",
        kb="sample",
        sources=[
            SourceSpec(kind="qa", path=str(SAMPLE / "qa_train.jsonl")),
            SourceSpec(kind="qa", path=str(SAMPLE / "qa_heldout.jsonl"), assign="test"),
        ],
        lm="tiny-random-gemma3",
        max_tokens=4096,
        splits={"train": 0.9, "validation": 0.1},
    )
    result = build_dataset(config, counter=load_counter("tiny-random-gemma3"))
    splits, report = result.splits, result.report
    heldout_ids = {json.loads(line)["id"] for line in (SAMPLE / "qa_heldout.jsonl").read_text().splitlines()}
    assert {ex.id for ex in splits["test"]} <= heldout_ids
    assert not heldout_ids & {ex.id for ex in splits["train"] + splits["validation"]}
    partition = json.loads((SAMPLE / "partition.json").read_text())
    with kb_api.open_kb("sample") as kb:
        name_of = {d.id: Path(d.source).name for d in kb.documents()}
    shown_in_training = {name_of[d.doc_id] for ex in splits["train"] for d in ex.documents}
    assert shown_in_training and not shown_in_training & set(partition["heldout"])
    # File-name gold labels were resolved to KB documents.
    assert any(r.startswith("gold_doc_id") for r in report["label_reasons"])
    unanswerable = [ex for ex in splits["test"] if ex.id.startswith("heldout-unanswerable")]
    assert unanswerable and all(ex.target.refusal for ex in unanswerable)
    assert report["verified_quote_share"] >= 0.95
    for ex in splits["train"]:
        assert all(verify_quotes(ex.target, ex.documents))


@pytest.mark.skipif(not (SAMPLE / "qa_heldout.jsonl").exists(), reason="sample KB not in this checkout")
def test_split_by_question_keeps_every_training_question_trainable() -> None:
    """A user holding out questions about the same KB: by question, the held-out file is the test split
    and every training question stays in train or validation (by document, the held-out questions'
    documents would pull training questions into test with them)."""
    kb_api.create("sample", embedder="tiny-random-minilm")
    kb_api.add("sample", [SAMPLE / "docs"])
    sources = [
        SourceSpec(kind="qa", path=str(SAMPLE / "qa_train.jsonl")),
        SourceSpec(kind="qa", path=str(SAMPLE / "qa_heldout.jsonl"), assign="test"),
    ]
    config = BuildConfig(
        name="by-question",
        kb="sample",
        sources=sources,
        lm="tiny-random-gemma3",
        max_tokens=4096,
        split_by="question",
    )
    result = build_dataset(config, counter=load_counter("tiny-random-gemma3"))
    train_ids = {json.loads(line)["id"] for line in (SAMPLE / "qa_train.jsonl").read_text().splitlines()}
    kept = {ex.id.removesuffix("~contrast") for s in ("train", "validation") for ex in result.splits[s]}
    assert kept >= train_ids and result.report["drops"] == {}
    assert not {ex.id for ex in result.splits["test"]} & train_ids
    val = result.splits["validation"]
    assert any(ex.target.refusal for ex in val) and any(not ex.target.refusal for ex in val)
    assert result.report["split_by"] == "question" and result.report["warnings"] == []
    assert result.card.config and result.card.config.split_by == "question"


def test_a_split_that_leaves_too_little_to_train_on_warns() -> None:
    kb_api.create("sample", embedder="tiny-random-minilm")
    kb_api.add("sample", [SAMPLE / "docs"])
    config = BuildConfig(
        name="tiny",
        kb="sample",
        sources=[SourceSpec(kind="qa", path=str(SAMPLE / "qa_train.jsonl"), limit=30)],
        lm="tiny-random-gemma3",
        max_tokens=4096,
    )
    warnings = build_dataset(config, counter=load_counter("tiny-random-gemma3")).report["warnings"]
    assert any("training examples" in w and "--split-by question" in w for w in warnings)

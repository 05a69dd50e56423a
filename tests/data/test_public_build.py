"""Builds over the real public datasets when ../shared/data holds them (skipped otherwise): gold
labels resolve against the ingested corpus and at least 95% of answerable examples carry a
verified verbatim quote."""

from __future__ import annotations

from pathlib import Path

from conftest import shared_data
from groundtune import kb as kb_api
from groundtune.data import (
    BuildConfig,
    SourceSpec,
    build_dataset,
    load_clapnq,
    load_nq_open_oracle,
    write_qa_file,
)
from groundtune.data.tokens import load_counter


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

"""Configs and artifacts: importable without torch, and every older file shape migrates through the
one migration function of its artifact."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

from groundtune.core.artifacts import (
    AdapterManifest,
    DatasetCard,
    migrate_adapter,
    migrate_calibration,
    migrate_card,
    migrate_eval_report,
    migrate_run,
)
from groundtune.core.configs import BuildConfig, RetrieverConfig
from groundtune.core.progress import ProgressEvent, counters

RESOLVED_V1 = {  # a resolved retriever config as version 1 recorded it (k: what serving retrieved)
    "mode": "hybrid", "k": 4, "rrf_k": 60.0, "depth": 50,
    "filters": {"doc_ids": [], "sources": [], "tags": [], "latest_only": True},
    "embedder": "minilm-l6", "sparse": {"name": "bm25-words-v1", "k1": 1.5, "b": 0.75, "stopwords": "en"},
}  # fmt: skip
CARD_V1 = {
    "id": "ds_1", "name": "support", "created_at": "2025-01-01T00:00:00+00:00", "groundtune_version": "0.1.0",
    "kb": "docs", "embedder": "minilm-l6", "retriever": {"hash": "0123456789abcdef", "config": RESOLVED_V1},
    "grounding": {"style": "cited", "version": "1", "refusal": "r", "instruction_hash": "h"},
    "oracle_fraction": 0.8, "k": 6, "seed": 0, "lm": "gemma-3-270m", "max_tokens": 1024,
    "sources": [{"kind": "qa", "path": "qa.jsonl", "assign": "auto", "limit": None}],
    "splits": {"train": 8}, "stats": {"examples": 8},
    "config": {"name": "support", "kb": "docs", "sources": [{"kind": "qa", "path": "qa.jsonl"}], "k": 6,
               "retriever": {"mode": "hybrid", "k": 4}},
}  # fmt: skip


def test_configs_and_artifacts_import_without_torch() -> None:
    code = (
        "import sys, groundtune.core.configs, groundtune.core.artifacts, groundtune.core.progress;"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"


def test_k_is_a_deprecated_alias_and_the_build_number_is_its_retrievers() -> None:
    with pytest.warns(DeprecationWarning, match="'k' is deprecated"):
        config = BuildConfig.model_validate(
            {"name": "n", "kb": "kb", "sources": [{"kind": "qa", "path": "q.jsonl"}], "k": 6}
        )
    assert config.documents_per_prompt == 6 and config.retriever.documents_per_prompt == 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert RetrieverConfig(k=3) == RetrieverConfig(documents_per_prompt=3)  # type: ignore[call-arg]
    assert RetrieverConfig(documents_per_prompt=6).hash() != RetrieverConfig(documents_per_prompt=4).hash()
    with pytest.raises(ValueError, match="candidates"):
        BuildConfig(
            name="n", kb="kb", sources=[{"kind": "qa", "path": "q"}], documents_per_prompt=8, candidates=5
        )  # type: ignore[list-item]


def test_a_version_1_card_migrates_and_a_current_one_round_trips() -> None:
    card = migrate_card(CARD_V1)
    assert card.schema_version == 2 and card.documents_per_prompt == 6
    assert card.grounding and card.grounding.style == "cited" and card.grounding.version == "1"
    # the retriever record now says what the examples showed, and its hash covers it
    assert card.retriever and card.retriever.config and card.retriever.config.documents_per_prompt == 6
    assert card.retriever.hash == card.retriever.config.hash()
    assert card.config and card.config.documents_per_prompt == 6 and card.config.retriever.mode == "hybrid"
    assert migrate_card(card.model_dump(mode="json")) == card
    assert DatasetCard.model_validate_json(card.model_dump_json()) == card


@pytest.mark.parametrize(
    "old",
    [  # the shapes version 1 readers accepted: a style name, or a bare retriever hash
        {"grounding_format": "cited", "grounding_version": 1, "retriever_hash": "abc"},
        {"style": "cited", "retriever": {"hash": "abc"}},
    ],
)
def test_other_version_1_provenance_shapes_migrate(old: dict) -> None:
    raw = {k: v for k, v in CARD_V1.items() if k not in ("grounding", "retriever")} | old
    card = migrate_card(raw)
    assert card.grounding and card.grounding.style == "cited"
    assert card.retriever and card.retriever.hash == "abc" and card.retriever.config is None


def test_a_version_1_adapter_manifest_keeps_serving_as_before() -> None:
    old = {
        "run_id": "run_1", "adapter_name": "tuned", "model": "gemma-3-270m", "model_path": None,
        "prompt_layout": {"name": "gemma-turns", "user_prefix": "<u>", "user_suffix": "</u>", "model_suffix": "</m>", "stop": []},
        "grounding_format": "cited", "grounding_version": "1", "grounding": {"style": "cited", "version": "1"},
        "retriever_hash": "0123456789abcdef", "retriever_config": RESOLVED_V1,
        "dataset": "support", "groundtune_version": "0.1.0", "best_val_loss": None,
    }  # fmt: skip
    manifest = migrate_adapter(old)
    assert manifest.grounding_style == "cited" and manifest.prompt_layout is not None
    assert manifest.retriever and manifest.retriever.config
    assert manifest.retriever.config.documents_per_prompt == 4  # what it retrieved before
    assert manifest.retriever_hash == manifest.retriever.config.hash()
    assert migrate_adapter(manifest.model_dump(mode="json")) == manifest
    assert migrate_adapter({}) == AdapterManifest()


def test_a_version_1_run_manifest_migrates() -> None:
    old = {
        "run_id": "run_1", "adapter_name": "tuned", "status": "succeeded", "groundtune_version": "0.1.0",
        "versions": {"torch": "2"}, "model": "m", "model_path": None, "model_parameters": 10,
        "trainable_parameters": 1, "dataset": "d", "init_adapter": None, "dataset_dir": "/d",
        "dataset_card_hash": None, "grounding_format": "cited", "grounding_version": "1",
        "grounding": {"style": "cited", "version": "1"}, "retriever_hash": "abc", "retriever_config": None,
        "prompt_layout": {"name": "l", "user_prefix": "", "user_suffix": "", "model_suffix": "", "stop": []},
        "examples": {"train": 8}, "supervised_tokens_per_epoch": 80, "total_steps": 2, "steps_per_epoch": 2,
        "world_size": 1, "device": "cpu", "precision": "fp32", "base_weights_dtype": "float32", "steps": 2,
    }  # fmt: skip
    run = migrate_run(old)
    assert run.retriever and run.retriever.hash == "abc" and run.grounding and run.grounding.style == "cited"
    assert run.adapter_manifest().retriever == run.retriever
    assert migrate_run(run.model_dump(mode="json")) == run


def test_calibrations_and_eval_reports_written_before_schema_version_migrate() -> None:
    calibration = migrate_calibration({
        "name": "cal_1", "created": "2025", "groundtune_version": "0", "adapter": "a", "adapter_path": "/a",
        "adapter_run_id": None, "model": "m", "grounding_format": "cited@1", "dataset": "d",
        "split": "validation", "max_false_refusal": 0.1, "threshold": None, "items": 4, "answerable": 2,
        "false_refusal": 0.0, "refusal_recall": None,
    })  # fmt: skip
    assert calibration.schema_version == 1
    report = migrate_eval_report({
        "id": "eval_1", "created": "2025", "groundtune_version": "0", "model": "m",
        "adapters": {"a": {"path": "/a", "adapter_name": "a", "grounding_format": "cited", "retriever_hash": "abc"}},
        "systems": [], "grounding": {"style": "cited", "version": "1"}, "decoding": {},
        "suites": {"s": {"base": {"answer_f1": 0.5}}},
    })  # fmt: skip
    assert report.adapters["a"].path == "/a" and report.adapters["a"].retriever_hash == "abc"
    assert migrate_eval_report(report.model_dump(mode="json")) == report


def test_one_progress_event_type_and_the_counter_adapter() -> None:
    seen: list[ProgressEvent] = []
    start = counters(seen.append)
    assert start is not None and counters(None) is None
    advance = start("dataset:qa · tuned", 3)
    advance(1)
    advance(2)
    assert [(e.stage, e.done, e.total) for e in seen] == [("dataset:qa · tuned", d, 3) for d in (0, 1, 3)]

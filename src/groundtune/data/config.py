"""The build configuration: defaults here, a YAML recipe over them, CLI flags over that.

Each field's description is its help text. Validators reject contradictions (k larger than the
candidate pool, split fractions that leave no training data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from groundtune.core.errors import InvalidInputError
from groundtune.data.teacher import TeacherConfig


class SourceSpec(BaseModel):
    """One QA source of a build."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal[
        "qa", "nq_open_oracle", "clapnq", "squad2", "quotesum", "hotpotqa", "rgb_counterfactual", "teacher"
    ] = Field(
        description="qa: a JSONL/CSV file; nq_open_oracle, clapnq, squad2, quotesum, hotpotqa, "
        "rgb_counterfactual: public releases (docs/data.md); teacher: generated."
    )
    path: str | None = Field(default=None, description="File or folder (not used by 'teacher').")
    split: str = Field(default="dev", description="ClapNQ split to read (train or dev).")
    unanswerable: bool = Field(
        default=True, description="ClapNQ, SQuAD 2.0: include the unanswerable questions."
    )
    part: Literal["all", "train", "test"] = Field(
        default="all",
        description="Public sources: 'all' puts the source's fixed held-out questions in the test split "
        "and builds the rest; 'train' leaves them out (their documents are still never shown); 'test' "
        "builds only them.",
    )
    limit: int | None = Field(
        default=None, ge=1, description="Read at most this many questions (public: a fixed sample)."
    )
    assign: Literal["auto", "train", "validation", "test"] = Field(
        default="auto", description="Put every question of this source (and its documents) in one split."
    )
    teacher: TeacherConfig | None = None
    chunks: int = Field(default=50, ge=1, description="Teacher: how many KB chunks to write questions for.")

    @model_validator(mode="after")
    def _needs(self) -> SourceSpec:
        if self.kind == "teacher" and self.teacher is None:
            raise ValueError("a 'teacher' source needs teacher settings (base_url, model)")
        if self.kind != "teacher" and not self.path:
            raise ValueError(f"a '{self.kind}' source needs a path")
        return self


class BuildConfig(BaseModel):
    """Everything `groundtune data build` needs; recorded in the dataset card."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Dataset name (folder under <workspace>/datasets).")
    kb: str = Field(description="Knowledge base whose retriever supplies the contexts.")
    sources: list[SourceSpec] = Field(min_length=1)
    style: str = Field(default="cited", description="Grounding style: cited, raft-cot or answer-only.")
    k: int = Field(default=4, ge=1, le=32, description="Documents per example.")
    oracle_fraction: float = Field(
        default=0.8,
        ge=0.0,
        le=1.0,
        description="P: share of answerable questions shown their relevant chunk.",
    )
    contrast_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of the answerable training questions shown their relevant chunk that also get a "
        "twin example without it (hard negatives only, refusal target): the two contexts differ only by "
        "the evidence.",
    )
    candidates: int = Field(default=20, ge=1, le=200, description="Retriever hits considered per question.")
    random_distractors: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of distractor slots filled with random chunks."
    )
    max_relevant: int = Field(default=2, ge=1, description="Relevant chunks per oracle context at most.")
    max_quotes_per_doc: int = Field(default=2, ge=1)
    max_quote_chars: int = Field(default=300, ge=40)
    splits: dict[str, float] = Field(default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1})
    split_by: Literal["document", "question"] = Field(
        default="document",
        description="document: questions about one document share a split and held-out documents are never "
        "shown in training (public benchmarks); question: held-out questions may be about documents "
        "training also sees (a user holding out questions about one knowledge base).",
    )
    seed: int = 0
    lm: str = Field(default="gemma-3-270m", description="LM whose tokenizer counts the token budget.")
    max_tokens: int = Field(default=1024, ge=64, description="Budget for prompt + completion tokens.")
    retriever: dict[str, Any] = Field(default_factory=dict, description="RetrieverConfig overrides.")
    overwrite: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> BuildConfig:
        if self.candidates < self.k:
            raise ValueError(f"candidates ({self.candidates}) must be at least k ({self.k})")
        unknown = set(self.splits) - {"train", "validation", "test"}
        if unknown:
            raise ValueError(f"unknown split(s) {sorted(unknown)}: use train, validation, test")
        if self.splits.get("train", 0) <= 0:
            raise ValueError("the train split fraction must be positive")
        return self


def load_config(path: str | Path | None = None, **overrides: Any) -> BuildConfig:
    """A BuildConfig from a YAML recipe (optional) with overrides on top; errors name the field."""
    import yaml

    data: dict[str, Any] = {}
    if path:
        from groundtune.core.recipes import find_recipe

        file = find_recipe(path)
        loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise InvalidInputError(
                f"{file}: a recipe must be a mapping", hint="see docs/data.md for an example"
            )
        data = loaded.get("data", loaded)
    for key, value in overrides.items():
        if value is not None and value != []:
            data[key] = value
    try:
        return BuildConfig.model_validate(data)
    except ValueError as exc:
        first = str(exc).splitlines()
        raise InvalidInputError(
            f"invalid data build config: {' '.join(first[:3])}",
            hint="fix the recipe or the flags (docs/data.md)",
        ) from None

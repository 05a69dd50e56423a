"""Turn a groundtune dataset into token sequences with a supervision mask.

Reads `<dir>/train.jsonl` and `validation.jsonl` (one `Example` per line) and `card.json`; wraps each
example's rendered `prompt`/`completion` with the model's `PromptLayout` and tokenizes them. Only
completion tokens are supervised; tokens that overlap the grounding format's decision spans (which
documents, whether to refuse) can weigh more. It does not render prompts (the grounding format did
that) and does not batch (see `batching`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundtune.core.artifacts import DatasetCard, migrate_card
from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.schemas import Example
from groundtune.core.workspace import Workspace


@dataclass(frozen=True)
class TokenizedExample:
    """Token ids of prompt + completion; positions >= `n_prompt` are the supervised target."""

    id: str
    input_ids: list[int]
    n_prompt: int
    weights: tuple[float, ...] | None = None  # one per supervised token; None: all 1

    @property
    def n_supervised(self) -> int:
        return len(self.input_ids) - self.n_prompt

    @property
    def weight(self) -> float:
        """What this example adds to the loss's denominator: its supervised tokens, weighted."""
        return float(sum(self.weights)) if self.weights is not None else float(self.n_supervised)


def resolve_dataset_dir(dataset: str, ws: Workspace) -> Path:
    """A dataset by name (`<workspace>/datasets/<name>`) or by directory path."""
    named = ws.datasets / dataset
    path = named if named.is_dir() else Path(dataset).expanduser()
    if not path.is_dir():
        raise NotFoundError(
            f"dataset '{dataset}' is neither a directory nor a dataset in {ws.datasets}",
            hint="build one with `groundtune data build`, or pass a folder holding train.jsonl",
        )
    if not (path / "train.jsonl").is_file():
        raise InvalidInputError(
            f"{path} has no train.jsonl", hint="a dataset folder holds train.jsonl and validation.jsonl"
        )
    return path.resolve()


def read_split(path: Path) -> list[Example]:
    """One split's examples (the data stage's reader: a bad line is reported with its number)."""
    from groundtune.data.store import read_examples

    return read_examples(path)


def read_card(dataset_dir: Path) -> DatasetCard | None:
    """The dataset card (`card.json`, any shape groundtune wrote), or None when the dataset has none
    (a folder of hand-made examples)."""
    path = dataset_dir / "card.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc}", hint="regenerate the dataset") from None
    return migrate_card(data if isinstance(data, dict) else {})


Spans = Callable[[str], list[tuple[int, int]]]


def tokenize_examples(
    examples: list[Example],
    tokenizer: Any,
    layout: Any,
    max_length: int,
    *,
    decision_spans: Spans | None = None,
    decision_weight: float = 1.0,
) -> tuple[list[TokenizedExample], int]:
    """(kept examples, number skipped for being longer than `max_length` or having no target).

    With `decision_spans` (the grounding format's) and `decision_weight` != 1, completion tokens
    overlapping a span get that weight (needs a fast tokenizer for character offsets).
    """
    if not examples:
        return [], 0
    prompts = [layout.prompt(ex.prompt) for ex in examples]
    completions = [layout.completion(ex.completion) for ex in examples]
    for ex in examples:
        if not ex.prompt or not ex.completion:
            raise InvalidInputError(
                f"example '{ex.id}' has an empty prompt or completion",
                hint="render examples with the grounding format before training (groundtune data build)",
            )
    weighted = decision_spans is not None and decision_weight != 1.0
    if weighted and not getattr(tokenizer, "is_fast", False):
        raise InvalidInputError(
            "decision_weight needs a fast tokenizer (character offsets of the target's tokens)",
            hint="set decision_weight: 1.0 for this model",
        )
    p_ids = tokenizer(prompts, add_special_tokens=True)["input_ids"]
    c_enc = tokenizer(completions, add_special_tokens=False, return_offsets_mapping=weighted)
    kept, skipped = [], 0
    for i, (ex, p, c) in enumerate(zip(examples, p_ids, c_enc["input_ids"], strict=True)):
        if len(p) + len(c) > max_length or not c:
            skipped += 1
            continue
        weights = None
        if weighted:
            assert decision_spans is not None
            spans = decision_spans(ex.completion)  # the completion is the start of the wrapped text
            weights = tuple(
                decision_weight if any(a < end and start < b for a, b in spans) else 1.0
                for start, end in c_enc["offset_mapping"][i]
            )
        kept.append(TokenizedExample(ex.id, list(p) + list(c), len(p), weights))
    return kept, skipped

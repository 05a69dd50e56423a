"""Turn a groundtune dataset into token sequences with a supervision mask.

Reads `<dir>/train.jsonl` and `validation.jsonl` (one `Example` per line) and `card.json`; wraps each
example's rendered `prompt`/`completion` with the model's `PromptLayout` and tokenizes them. Only
completion tokens are supervised. It does not render prompts (the grounding format did that) and
does not batch (see `batching`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.schemas import Example
from groundtune.core.workspace import Workspace


@dataclass(frozen=True)
class TokenizedExample:
    """Token ids of prompt + completion; positions >= `n_prompt` are the supervised target."""

    id: str
    input_ids: list[int]
    n_prompt: int

    @property
    def n_supervised(self) -> int:
        return len(self.input_ids) - self.n_prompt


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


def read_card(dataset_dir: Path) -> dict[str, Any]:
    """The dataset card (`card.json`), or an empty dict when the dataset has none."""
    path = dataset_dir / "card.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc}", hint="regenerate the dataset") from None
    return data if isinstance(data, dict) else {}


def tokenize_examples(
    examples: list[Example], tokenizer: Any, layout: Any, max_length: int
) -> tuple[list[TokenizedExample], int]:
    """(kept examples, number skipped for being longer than `max_length` or having no target)."""
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
    p_ids = tokenizer(prompts, add_special_tokens=True)["input_ids"]
    c_ids = tokenizer(completions, add_special_tokens=False)["input_ids"]
    kept, skipped = [], 0
    for ex, p, c in zip(examples, p_ids, c_ids, strict=True):
        if len(p) + len(c) > max_length or not c:
            skipped += 1
            continue
        kept.append(TokenizedExample(ex.id, list(p) + list(c), len(p)))
    return kept, skipped

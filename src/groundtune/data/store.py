"""The dataset directory contract, read and written atomically:

    <workspace>/datasets/<name>/
        train.jsonl  validation.jsonl  test.jsonl   one core.schemas.Example per line (prompt/completion rendered)
        card.json                                   the dataset card (core.artifacts.DatasetCard)
        report.json                                 the build report
        exports/  chat.<split>.jsonl  prompt_completion.<split>.jsonl

A build writes into a temporary folder renamed into place, so an interrupted or failed build leaves
any dataset stored before untouched. Knows nothing about how examples are made.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from groundtune.core.artifacts import DatasetCard, migrate_card
from groundtune.core.errors import ConflictError, InvalidInputError, NotFoundError
from groundtune.core.jsonfile import read_json
from groundtune.core.jsonl import read_models, write_jsonl
from groundtune.core.schemas import Example
from groundtune.core.workspace import get_workspace

__all__ = [
    "DatasetCard",
    "dataset_dir",
    "list_datasets",
    "load_card",
    "load_dataset",
    "load_report",
    "read_examples",
    "save_dataset",
    "write_exports",
]
SPLIT_FILES = ("train", "validation", "test")
EXPORT_FORMATS = ("chat", "prompt_completion")


def dataset_dir(name_or_path: str | Path, home: str | Path | None = None) -> Path:
    """A dataset folder by workspace name or by path; NotFoundError when neither exists."""
    named = get_workspace(home).datasets / str(name_or_path)
    path = named if named.is_dir() else Path(name_or_path).expanduser()
    if not (path / "train.jsonl").is_file():
        raise NotFoundError(
            f"dataset '{name_or_path}' not found (no {named} and no folder with train.jsonl at that path)",
            hint="build it with `groundtune data build`, or list datasets with `groundtune data show`",
        )
    return path.resolve()


def list_datasets(home: str | Path | None = None) -> list[str]:
    """Names of the datasets in the workspace."""
    root = get_workspace(home).datasets
    return sorted(p.name for p in root.iterdir() if (p / "card.json").is_file())


def read_examples(path: Path) -> list[Example]:
    """One split's examples; a bad line is an InvalidInputError naming `file#line`."""
    return read_models(path, Example, hint="rebuild the dataset with `groundtune data build --overwrite`")


def load_dataset(name_or_path: str | Path, home: str | Path | None = None) -> dict[str, list[Example]]:
    """{split: examples} of a stored dataset (splits whose file is absent are left out)."""
    root = dataset_dir(name_or_path, home)
    return {s: read_examples(root / f"{s}.jsonl") for s in SPLIT_FILES if (root / f"{s}.jsonl").is_file()}


def load_card(name_or_path: str | Path, home: str | Path | None = None) -> DatasetCard:
    """The card of a stored dataset."""
    path = dataset_dir(name_or_path, home) / "card.json"
    if not path.is_file():
        raise NotFoundError(f"{path} is missing", hint="rebuild the dataset with `groundtune data build`")
    return migrate_card(read_json(path))


def load_report(name_or_path: str | Path, home: str | Path | None = None) -> dict[str, Any]:
    path = dataset_dir(name_or_path, home) / "report.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def chat_record(ex: Example) -> dict[str, Any]:
    """OpenAI chat fine-tuning format."""
    return {
        "messages": [{"role": "user", "content": ex.prompt}, {"role": "assistant", "content": ex.completion}]
    }


def prompt_completion_record(ex: Example) -> dict[str, Any]:
    """Prompt/completion format (TRL's `prompt`/`completion` columns)."""
    return {"prompt": ex.prompt, "completion": ex.completion}


def write_exports(
    splits: dict[str, list[Example]], out: Path, formats: tuple[str, ...] = EXPORT_FORMATS
) -> list[Path]:
    """Write `<format>.<split>.jsonl` files into `out`; returns their paths."""
    unknown = set(formats) - set(EXPORT_FORMATS)
    if unknown:
        raise InvalidInputError(
            f"unknown export format(s) {sorted(unknown)}", hint=f"use {', '.join(EXPORT_FORMATS)}"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    makers = {"chat": chat_record, "prompt_completion": prompt_completion_record}
    for fmt in formats:
        for split, examples in splits.items():
            path = out / f"{fmt}.{split}.jsonl"
            write_jsonl(path, [makers[fmt](ex) for ex in examples])
            written.append(path)
    return written


def save_dataset(
    name: str,
    splits: dict[str, list[Example]],
    card: DatasetCard,
    report: dict[str, Any],
    *,
    overwrite: bool = False,
    home: str | Path | None = None,
) -> Path:
    """Write a dataset atomically into the workspace; a stored dataset is replaced only with `overwrite`."""
    if not name or "/" in name or name.startswith("."):
        raise InvalidInputError(f"bad dataset name {name!r}", hint="use letters, digits, '-' and '_'")
    root = get_workspace(home).datasets
    final = root / name
    if final.exists() and not overwrite:
        raise ConflictError(
            f"dataset '{name}' already exists", hint="choose another --name or pass --overwrite"
        )
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        for split in SPLIT_FILES:
            write_jsonl(tmp / f"{split}.jsonl", splits.get(split, []))
        (tmp / "card.json").write_text(card.model_dump_json(indent=2, exclude_none=False), encoding="utf-8")
        (tmp / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        write_exports(splits, tmp / "exports")
        if final.exists():
            old = root / f".{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final

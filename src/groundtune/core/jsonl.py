"""The one JSON-lines reader and writer: plain, `.gz` or `.bz2` files, blank lines skipped, and every
bad line named as `file#line` with what is wrong with it.

Three ways to meet a bad line, chosen by the caller: raise (`read_jsonl`, the default), skip it
(`skip_bad=True`: a metrics log whose last line a kill cut short), or report it beside the good
ones (`scan_jsonl`: record files, where one bad record must not sink the rest). Knows no schema;
`read_models` validates each line against a pydantic model.
"""

from __future__ import annotations

import bz2
import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from groundtune.core.errors import InvalidInputError

M = TypeVar("M", bound=BaseModel)
JSONL_HINT = "each line must be one JSON object"


@dataclass(frozen=True)
class JsonlLine:
    """One non-blank line: its 1-based number, the object it holds, or why it holds none."""

    number: int
    row: dict[str, Any] | None
    error: str | None = None


def parse_line(line: str, number: int) -> JsonlLine:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return JsonlLine(number, None, f"invalid JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(row, dict):
        return JsonlLine(number, None, f"expected a JSON object, got {type(row).__name__}")
    return JsonlLine(number, row)


def parse_jsonl(lines: Iterable[str]) -> Iterator[JsonlLine]:
    """Every non-blank line of `lines` (a text, split, or an open file), good or bad."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield parse_line(line, number)


def _open(path: Path) -> Any:
    opener: Any = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    return opener(path, "rt", encoding="utf-8-sig")


def scan_jsonl(path: str | Path) -> list[JsonlLine]:
    """Every non-blank line of the file at `path`, good or bad (the caller reports the bad ones)."""
    with _open(Path(path)) as fh:
        return list(parse_jsonl(fh))


def read_jsonl(
    path: str | Path, *, skip_bad: bool = False, hint: str = JSONL_HINT
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line; a bad line raises InvalidInputError naming
    `path#line` (or is skipped with `skip_bad`)."""
    path = Path(path)
    with _open(path) as fh:
        for line in parse_jsonl(fh):
            if line.row is not None:
                yield line.number, line.row
            elif not skip_bad:
                raise InvalidInputError(f"{path}#{line.number}: {line.error}", hint=hint)


def read_models(path: str | Path, model: type[M], *, hint: str = JSONL_HINT) -> list[M]:
    """One `model` per line; a line that is not valid JSON or not a valid `model` raises, naming
    `path#line` and the first problem."""
    out = []
    for number, row in read_jsonl(path, hint=hint):
        try:
            out.append(model.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "line"
            raise InvalidInputError(
                f"{path}#{number}: not a valid {model.__name__} ({where}: {first['msg']})", hint=hint
            ) from None
    return out


def write_jsonl(path: str | Path, rows: Iterable[BaseModel | dict[str, Any]]) -> Path:
    """One JSON object per line (models dumped as JSON, dicts with non-ASCII kept)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            text = (
                row.model_dump_json() if isinstance(row, BaseModel) else json.dumps(row, ensure_ascii=False)
            )
            fh.write(text + "\n")
    return path

"""JSONL and CSV record files: each record becomes one `Document` with configurable id/title/text fields.

A bad record (invalid JSON, missing id or text, empty text, duplicate id) is reported on its own
and the rest of the file is still read; a file that cannot be read at all raises. Other fields
of a record are kept as document metadata.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from groundtune.core.errors import InvalidInputError
from groundtune.core.jsonl import parse_jsonl
from groundtune.core.schemas import Document
from groundtune.kb.parsers import make_document, read_utf8


class RecordFields(BaseModel):
    """Which fields of a JSONL/CSV record hold the id, title, text and (optionally) tags."""

    model_config = ConfigDict(extra="forbid")

    id_field: str = "id"
    title_field: str = "title"
    text_field: str = "text"
    tags_field: str | None = Field(default=None, description="List field (JSONL) or ';'-separated (CSV).")


@dataclass
class RecordError:
    """One record (or line) that could not be used."""

    source: str
    message: str
    hint: str


def _rows(path: Path, text: str) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, row or None, error message) for every non-blank line/row."""
    out: list[tuple[int, dict[str, Any] | None, str | None]] = []
    if path.suffix.lower() == ".csv":
        try:
            reader = csv.DictReader(io.StringIO(text))
            for n, row in enumerate(reader, start=2):
                out.append((n, dict(row), None))
        except csv.Error as exc:
            raise InvalidInputError(f"{path}: malformed CSV ({exc})", hint="check quoting") from None
        return out
    return [(line.number, line.row, line.error) for line in parse_jsonl(text.splitlines())]


def parse_records(
    path: Path, fields: RecordFields, tags: list[str] | tuple[str, ...] = ()
) -> tuple[list[Document], list[RecordError]]:
    """Documents from a JSONL/CSV file, plus the records that were rejected."""
    text = read_utf8(path)
    rows = _rows(path, text)
    if path.suffix.lower() == ".csv" and rows:
        header = set(rows[0][1] or {})
        missing = [f for f in (fields.id_field, fields.text_field) if f not in header]
        if missing:
            raise InvalidInputError(
                f"{path}: CSV has no column {', '.join(repr(m) for m in missing)} (columns: {sorted(header)})",
                hint="name the columns with --id-field/--text-field",
            )
    docs: list[Document] = []
    errors: list[RecordError] = []
    seen: set[str] = set()
    hint = "fix the record, or name its fields with --id-field/--title-field/--text-field"
    for n, row, problem in rows:
        where = f"{path.resolve()}#{n}"
        if row is None:
            errors.append(RecordError(where, problem or "unreadable", "fix the line"))
            continue
        rid, body = row.get(fields.id_field), row.get(fields.text_field)
        if rid is None or str(rid).strip() == "":
            errors.append(RecordError(where, f"record has no '{fields.id_field}' field", hint))
            continue
        if not isinstance(body, str) or not body.strip():
            errors.append(RecordError(where, f"record {rid!r} has no text in '{fields.text_field}'", hint))
            continue
        rid = str(rid)
        if rid in seen:
            errors.append(RecordError(where, f"duplicate record id {rid!r} in this file", "make ids unique"))
            continue
        seen.add(rid)
        title = row.get(fields.title_field)
        rec_tags = list(tags)
        if fields.tags_field and row.get(fields.tags_field):
            raw = row[fields.tags_field]
            rec_tags += (
                raw if isinstance(raw, list) else [t.strip() for t in str(raw).split(";") if t.strip()]
            )
        used = {fields.id_field, fields.title_field, fields.text_field, fields.tags_field}
        meta = {k: v for k, v in row.items() if k not in used and isinstance(v, str | int | float | bool)}
        docs.append(
            make_document(
                rid,
                where,
                str(title) if title else rid,
                body,
                fmt="record",
                tags=[str(t) for t in rec_tags],
                metadata=meta,
            )
        )
    if not docs and not errors:
        raise InvalidInputError(f"{path}: the file holds no records", hint="add records or leave it out")
    return docs, errors

"""QA sources: question/answer pairs from JSONL or CSV files, with optional gold document or chunk
ids and gold evidence.

A `QAPair` is what data building starts from; where the pairs come from (a user's file, a public
benchmark in public.py, a teacher model in teacher.py) is its only concern. It knows nothing about
retrieval or prompts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.ids import content_hash
from groundtune.core.jsonl import JSONL_HINT, parse_jsonl

# Column names accepted for each field, first match wins (covers common public formats).
QUESTION_KEYS = ("question", "query", "input", "q", "prompt")
ANSWER_KEYS = ("answers", "answer", "output", "a", "gold_answer")
DOC_KEYS = ("gold_doc_ids", "doc_ids", "gold_doc_id", "doc_id", "document_id")
CHUNK_KEYS = ("gold_chunk_ids", "chunk_ids", "gold_chunk_id", "chunk_id")
EVIDENCE_KEYS = ("gold_evidence", "evidence", "context_evidence", "quote")
# File names or paths of gold documents, matched against chunk sources (KB file ids are path hashes).
SOURCE_KEYS = ("gold_sources", "gold_source", "doc", "file", "source_file")
NEAR_MISS_KEYS = ("near_miss_doc_ids", "near_miss_doc_id")
LIST_SEPARATORS = ("|", ";", "::")


class QAPair(BaseModel):
    """One question with its accepted answers; no answers (or `answerable=False`) means unanswerable."""

    model_config = ConfigDict(extra="forbid")

    id: str
    question: str
    answers: list[str] = Field(default_factory=list, description="Accepted answers; the first is canonical.")
    answerable: bool = True
    gold_doc_ids: list[str] = Field(default_factory=list)
    gold_chunk_ids: list[str] = Field(default_factory=list)
    gold_evidence: list[str] = Field(default_factory=list, description="Verbatim evidence sentences.")
    gold_sources: list[str] = Field(
        default_factory=list, description="Gold documents by file name or path (matched to chunk sources)."
    )
    near_miss_doc_ids: list[str] = Field(
        default_factory=list,
        description="Documents on the question's topic that do not answer it (an unanswerable question's "
        "own paragraph): shown first among its distractors and kept in its split.",
    )
    source: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def answer(self) -> str:
        return self.answers[0] if self.answers else ""


def qa_id(source: str, question: str, n: int) -> str:
    """A stable id for a pair that came without one."""
    return "qa_" + content_hash(source, question, str(n), length=12)


def _first(row: dict[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        if key in row and row[key] not in (None, ""):
            return row[key]
    return None


def as_list(value: Any, *, split: bool = True) -> list[str]:
    """A field that may be a list, a JSON list in a string, or (with `split`, as in CSV cells) a
    `|`/`;`-separated string."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return as_list(parsed)
    for sep in LIST_SEPARATORS if split else ():
        if sep in text:
            return [part.strip() for part in text.split(sep) if part.strip()]
    return [text] if text else []


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "y")


def pair_from_row(row: dict[str, Any], *, source: str, n: int, split_cells: bool = False) -> QAPair:
    """A QAPair from one JSONL object or CSV row (`split_cells`: '|'-separated lists in cells);
    raises InvalidInputError naming the problem."""
    question = _first(row, QUESTION_KEYS)
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError(
            f"{source}#{n}: no question (looked for {', '.join(QUESTION_KEYS)})",
            hint="put the question in a 'question' field",
        )
    # Answers may carry several accepted forms; CSV cells use '|' to separate them.
    answers = as_list(_first(row, ANSWER_KEYS), split=split_cells)
    # A row without an answer must say answerable=false: a forgotten answer is not a refusal.
    answerable = _bool(row.get("answerable"), default=True)
    if answerable and not answers and not _first(row, EVIDENCE_KEYS):
        raise InvalidInputError(
            f"{source}#{n}: question {question[:60]!r} has no answer and no evidence",
            hint="add an 'answer' (or 'gold_evidence'), or mark the row answerable=false",
        )
    known = set(
        QUESTION_KEYS + ANSWER_KEYS + DOC_KEYS + CHUNK_KEYS + EVIDENCE_KEYS + SOURCE_KEYS + NEAR_MISS_KEYS
    )
    known |= {"id", "answerable", "source", "meta"}
    meta = {k: v for k, v in row.items() if k not in known and isinstance(v, str | int | float | bool)}
    if isinstance(row.get("meta"), dict):
        meta.update(row["meta"])
    return QAPair(
        id=str(row.get("id") or qa_id(source, question, n)),
        question=question.strip(),
        answers=answers if answerable else [],
        answerable=answerable,
        gold_doc_ids=as_list(_first(row, DOC_KEYS)),
        gold_chunk_ids=as_list(_first(row, CHUNK_KEYS)),
        gold_evidence=as_list(_first(row, EVIDENCE_KEYS), split=split_cells) if answerable else [],
        gold_sources=as_list(_first(row, SOURCE_KEYS)) if answerable else [],
        near_miss_doc_ids=as_list(_first(row, NEAR_MISS_KEYS)),
        source=str(row.get("source") or source),
        meta=meta,
    )


def _rows(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
        for n, row in enumerate(reader, start=2):
            yield n, dict(row)
        return
    for line in parse_jsonl(text.splitlines()):
        if line.row is None:
            raise InvalidInputError(f"{path}#{line.number}: {line.error}", hint=JSONL_HINT)
        yield line.number, line.row


def load_qa_file(path: str | Path) -> list[QAPair]:
    """QA pairs from a JSONL, CSV or TSV file (see docs/data.md for the accepted fields)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"QA file {path} does not exist", hint="pass the path of a JSONL or CSV file")
    if path.suffix.lower() not in (".jsonl", ".json", ".csv", ".tsv"):
        raise InvalidInputError(f"{path}: unsupported QA file type", hint="use .jsonl, .csv or .tsv")
    split_cells = path.suffix.lower() in (".csv", ".tsv")
    pairs = [pair_from_row(row, source=str(path), n=n, split_cells=split_cells) for n, row in _rows(path)]
    if not pairs:
        raise InvalidInputError(f"{path}: the file holds no QA pairs", hint="add rows or leave it out")
    seen: set[str] = set()
    for pair in pairs:
        if pair.id in seen:
            raise InvalidInputError(f"{path}: duplicate id {pair.id!r}", hint="make the ids unique")
        seen.add(pair.id)
    return pairs


def write_qa_file(pairs: Iterable[QAPair], path: str | Path) -> Path:
    """Write pairs as JSONL (the format `load_qa_file` reads back)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for pair in pairs:
            fh.write(pair.model_dump_json(exclude_defaults=False) + "\n")
    return path

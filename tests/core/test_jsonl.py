"""The one JSONL reader: file#line errors, blank lines skipped, compressed files, three ways to meet a bad line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from groundtune.core.errors import InvalidInputError
from groundtune.core.jsonl import read_jsonl, read_models, scan_jsonl, write_jsonl
from groundtune.core.schemas import Quote


def test_rows_with_line_numbers_and_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (3, {"a": 2})]


def test_gzip_and_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write('\ufeff{"a": 1}\n')
    assert list(read_jsonl(path)) == [(1, {"a": 1})]


@pytest.mark.parametrize(
    ("line", "problem"), [("not json", "invalid JSON"), ("[1, 2]", "expected a JSON object, got list")]
)
def test_a_bad_line_is_named_file_hash_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=f"a.jsonl#2: {problem}"):
        list(read_jsonl(path))
    assert list(read_jsonl(path, skip_bad=True)) == [(1, {"a": 1})]
    scanned = scan_jsonl(path)
    assert [(s.number, s.row is None) for s in scanned] == [(1, False), (2, True)]
    assert problem in (scanned[1].error or "")


def test_models_round_trip_and_an_invalid_model_names_its_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "q.jsonl", [Quote(doc=1, text="é"), {"doc": 2, "text": "b"}])
    assert read_models(path, Quote) == [Quote(doc=1, text="é"), Quote(doc=2, text="b")]
    path.write_text('{"doc": 1, "text": "a"}\n{"doc": "x", "text": "b"}\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"q.jsonl#2: not a valid Quote \(doc:"):
        read_models(path, Quote)

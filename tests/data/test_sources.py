"""QA sources: JSONL, CSV and TSV files with optional gold ids and evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.data.sources import QAPair, load_qa_file, write_qa_file


def test_jsonl_with_gold_fields(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    rows = [
        {
            "id": "a",
            "question": "How long is the warranty?",
            "answer": "24 months",
            "gold_doc_ids": ["warranty"],
            "gold_evidence": "The warranty lasts 24 months.",
            "topic": "support",
        },
        {"question": "Who founded it?", "answers": ["Ada", "Ada L."], "chunk_id": "c1"},
        {"question": "What is the airspeed of a swallow?", "answerable": False},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    pairs = load_qa_file(path)
    assert [p.answerable for p in pairs] == [True, True, False]
    assert pairs[0].gold_doc_ids == ["warranty"] and pairs[0].gold_evidence == [
        "The warranty lasts 24 months."
    ]
    assert pairs[0].meta == {"topic": "support"}
    assert pairs[1].answers == ["Ada", "Ada L."] and pairs[1].gold_chunk_ids == ["c1"]
    assert pairs[1].id.startswith("qa_")
    assert pairs[2].answers == []


def test_csv_cells_split_lists(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text('question,answer,doc_id\n"Where, exactly?",Paris|paris city,d1;d2\n')
    (pair,) = load_qa_file(path)
    assert pair.question == "Where, exactly?"
    assert pair.answers == ["Paris", "paris city"]
    assert pair.gold_doc_ids == ["d1", "d2"]


def test_tsv(tmp_path: Path) -> None:
    path = tmp_path / "qa.tsv"
    path.write_text("id\tquestion\tanswer\nq1\tWhen?\t1889\n")
    assert load_qa_file(path)[0].answers == ["1889"]


def test_roundtrip_through_write(tmp_path: Path) -> None:
    pairs = [QAPair(id="x", question="Q?", answers=["A"], gold_doc_ids=["d"], meta={"k": 1})]
    (back,) = load_qa_file(write_qa_file(pairs, tmp_path / "out.jsonl"))
    assert back.model_dump(exclude={"source"}) == pairs[0].model_dump(exclude={"source"})


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"answer": "x"}\n', "no question"),
        ('{"question": "Q?"}\n', "no answer and no evidence"),
        ("not json\n", "invalid JSON"),
        (
            '{"id": "a", "question": "Q", "answer": "x"}\n{"id": "a", "question": "R", "answer": "y"}\n',
            "duplicate",
        ),
        ("\n", "no QA pairs"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(InvalidInputError) as err:
        load_qa_file(path)
    assert needle in err.value.message and err.value.hint


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_qa_file(tmp_path / "nope.jsonl")

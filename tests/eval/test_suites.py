"""Fixed-context benchmark suites read records in the public datasets' shapes (written here by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.eval.suites import load_suite


def _write(path: Path, rows: list[dict], *, array: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if array:
        path.write_text(json.dumps(rows))
    else:
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_hotpotqa_distractor_marks_the_two_gold_paragraphs(tmp_path: Path) -> None:
    context = [[f"Title {i}", [f"Sentence {i}a. ", f"Sentence {i}b."]] for i in range(10)]
    row = {
        "_id": "h1",
        "question": "Which two?",
        "answer": "yes",
        "supporting_facts": [["Title 3", 1], ["Title 7", 0]],
        "context": context,
        "type": "comparison",
    }
    _write(tmp_path / "hotpotqa" / "sample.json", [row], array=True)
    (ex,) = load_suite("hotpotqa", data_dir=tmp_path)
    assert len(ex.documents) == 10
    assert [n for n, d in enumerate(ex.documents, 1) if d.relevant] == [4, 8]
    assert ex.gold_evidence == ["Sentence 3b.", "Sentence 7a."]
    assert ex.documents[3].text == "Sentence 3a. Sentence 3b."


def test_rgb_counterfactual_gold_answer_follows_the_documents(tmp_path: Path) -> None:
    row = {
        "id": 0,
        "query": "Where was the fair held?",
        "answer": "Riverton",
        "fakeanswer": "Lakeside",
        "positive_wrong": ["The fair was held in Lakeside.", "Lakeside hosted the fair."],
        "positive": ["The fair was held in Riverton."],
        "negative": ["Fairs are fun.", "Tickets went on sale.", "Parking was free."],
    }
    _write(tmp_path / "rgb" / "en_fact.json", [row])
    (ex,) = load_suite("rgb-counterfactual", data_dir=tmp_path)
    assert ex.answer == "Lakeside" and ex.meta["memorised_answers"] == ["Riverton"]
    assert sum(d.relevant for d in ex.documents) == 2 and len(ex.documents) == 5
    assert not any("Riverton" in d.text for d in ex.documents)


def test_mtrag_keeps_answerable_and_unanswerable_turns_only(tmp_path: Path) -> None:
    def task(i: int, label: str) -> dict:
        return {
            "task_id": f"t{i}",
            "conversation_id": "c1",
            "input": [
                {"speaker": "user", "text": "first question"},
                {"speaker": "agent", "text": "reply"},
                {"speaker": "user", "text": f"follow-up {i}"},
            ],
            "contexts": [{"document_id": f"d{i}", "title": "Doc", "text": "Passage text."}],
            "Answerability": [label],
            "targets": [{"text": "An answer."}],
        }

    rows = [task(1, "ANSWERABLE"), task(2, "UNANSWERABLE"), task(3, "PARTIAL")]
    _write(tmp_path / "mtrag_un" / "reference.jsonl", rows)
    items = {ex.id: ex for ex in load_suite("mtrag-un", data_dir=tmp_path)}
    assert set(items) == {"t1", "t2"}
    assert items["t1"].answerable and items["t1"].documents[0].relevant
    assert not items["t2"].answerable and items["t2"].answer == ""
    assert items["t2"].question == "follow-up 2"


def test_missing_or_unknown_suite_fails_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as err:
        load_suite("hotpotqa", data_dir=tmp_path)
    assert "--data-dir" in str(err.value)
    with pytest.raises(InvalidInputError):
        load_suite("squad", data_dir=tmp_path)

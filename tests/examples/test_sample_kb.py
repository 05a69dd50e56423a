"""The sample knowledge base that `groundtune quickstart` uses stays consistent (examples/sample_kb/check.py).

Runs the checker on the shipped folder, proves on corrupted copies that the checker catches each kind
of mistake, and checks that the PDF generator gives identical bytes on every run.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

SAMPLE_KB = Path(__file__).resolve().parents[2] / "examples" / "sample_kb"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"sample_kb_{name}", SAMPLE_KB / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


check = _load("check")
make_pdfs = _load("make_pdfs")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_rows(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_shipped_sample_kb_passes_every_check() -> None:
    report = check.run_checks()
    assert report.problems == []
    assert report.counts["documents"] == {"md": 26, "html": 9, "pdf": 5}
    assert report.counts["partition"] == {"train": 30, "heldout": 10}
    questions = report.counts["questions"]
    assert 240 <= questions["train_answerable"] <= 300
    assert 40 <= questions["train_unanswerable"] <= 60
    assert (questions["heldout_answerable"], questions["heldout_unanswerable"]) == (44, 16)
    assert report.counts["updates"] == 3


def _corrupt_evidence(root: Path) -> None:
    rows = _rows(root / "qa_train.jsonl")
    rows[0]["gold_evidence"] = [rows[0]["gold_evidence"][0].replace(".", "!")]
    _write_rows(root / "qa_train.jsonl", rows)


def _answer_outside_evidence(root: Path) -> None:
    rows = _rows(root / "qa_heldout.jsonl")
    rows[0]["answers"] = ["Platform 9"]
    _write_rows(root / "qa_heldout.jsonl", rows)


def _train_question_on_heldout_doc(root: Path) -> None:
    rows = _rows(root / "qa_train.jsonl")
    held = next(r for r in _rows(root / "qa_heldout.jsonl") if r["answerable"])
    rows[0] = {**held, "id": "train-leak-01"}
    _write_rows(root / "qa_train.jsonl", rows)


def _unanswerable_with_answer(root: Path) -> None:
    rows = _rows(root / "qa_heldout.jsonl")
    rows[-1]["answers"] = ["£6"]
    _write_rows(root / "qa_heldout.jsonl", rows)


def _train_unanswerable_repeats_heldout(root: Path) -> None:
    rows = _rows(root / "qa_train.jsonl")
    held = next(r for r in _rows(root / "qa_heldout.jsonl") if not r["answerable"])
    unanswerable = next(r for r in rows if not r["answerable"])
    unanswerable["question"] = "  " + held["question"].upper()
    _write_rows(root / "qa_train.jsonl", rows)


def _update_changes_nothing(root: Path) -> None:
    shutil.copyfile(root / "docs" / "dogs.md", root / "updates" / "dogs.md")


def _document_too_long(root: Path) -> None:
    path = root / "docs" / "gala.md"
    path.write_text(
        path.read_text(encoding="utf-8") + "\nSteam and smoke on the moor. " * 30, encoding="utf-8"
    )


def _pdf_out_of_date(root: Path) -> None:
    src = root / "pdf_src" / "refund-policy.txt"
    src.write_text(src.read_text(encoding="utf-8").replace("72 hours", "96 hours"), encoding="utf-8")


def _rival_document_answers(root: Path) -> None:
    # A second document now states the fact a training question asks about.
    path = root / "docs" / "cafe.md"
    path.write_text(
        path.read_text(encoding="utf-8") + "\nThe lever frame in the signal box has 18 levers from 1979.\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (_corrupt_evidence, "not verbatim"),
        (_answer_outside_evidence, "is not in its evidence sentence"),
        (_train_question_on_heldout_doc, "not in this set's document group"),
        (_unanswerable_with_answer, "unanswerable question needs answers=[]"),
        (_train_unanswerable_repeats_heldout, "the same question is asked in qa_heldout"),
        (_update_changes_nothing, "unchanged in the other version"),
        (_document_too_long, "gala.md:"),
        (_pdf_out_of_date, "out of date with pdf_src"),
        (_rival_document_answers, "also answers it"),
    ],
)
def test_checker_catches_a_corrupted_copy(tmp_path: Path, corrupt, expected: str) -> None:
    root = tmp_path / "sample_kb"
    shutil.copytree(SAMPLE_KB, root, ignore=shutil.ignore_patterns("__pycache__"))
    assert check.run_checks(root).problems == []
    corrupt(root)
    problems = check.run_checks(root).problems
    assert any(expected in p for p in problems), problems


def test_make_pdfs_gives_identical_bytes_and_the_source_title(tmp_path: Path) -> None:
    src = SAMPLE_KB / "pdf_src" / "trustees-governance.txt"
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    make_pdfs.render(src, first)
    make_pdfs.render(src, second)
    assert first.read_bytes() == second.read_bytes()
    from groundtune.kb.parsers import parse_file

    assert parse_file(first).title == src.read_text(encoding="utf-8").splitlines()[0]

"""Loaders for the public releases, on small files written here in their documented layouts; the
real data is read only when ../shared/data holds it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.data.public import (
    HELDOUT_KEY,
    VALIDATION_KEY,
    load_clapnq,
    load_hotpotqa,
    load_nq_open_oracle,
    load_public,
    load_quotesum,
    load_rgb_counterfactual,
    load_squad2,
    part_of,
)
from groundtune.grounding.quotes import find_verbatim
from tests.conftest import shared_data


def _nq_line(i: int, answer: str, text: str, hasanswer: bool = True) -> dict[str, object]:
    return {
        "question": f"question number {i}",
        "answers": [answer, answer.lower()],
        "ctxs": [
            {
                "id": str(100 + i),
                "title": f"Title {i}",
                "text": text,
                "score": "1.0",
                "hasanswer": hasanswer,
                "original_retrieval_index": 0,
                "isgold": True,
            }
        ],
        "nq_annotated_gold": {
            "title": f"Title {i}",
            "long_answer": text,
            "chunked_long_answer": text,
            "short_answers": [answer],
        },
    }


def write_nq_oracle(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nq-open-oracle.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(_nq_line(i, f"Answer{i}", f"Passage {i} says Answer{i} is right.")) + "\n")
    return folder


def test_nq_open_oracle_layout(tmp_path: Path) -> None:
    data = load_nq_open_oracle(write_nq_oracle(tmp_path / "nq_open_oracle"))
    assert len(data.pairs) == 3 and len(data.corpus) == 3
    first = data.pairs[0]
    assert first.question == "question number 0"
    assert first.answers == ["Answer0", "answer0"]
    assert first.gold_doc_ids == ["nq-100"]
    assert data.corpus[0] == {"id": "nq-100", "title": "Title 0", "text": "Passage 0 says Answer0 is right."}
    out = data.write_corpus(tmp_path / "corpus.jsonl")
    assert json.loads(out.read_text().splitlines()[1])["id"] == "nq-101"
    assert len(load_nq_open_oracle(tmp_path / "nq_open_oracle", limit=2).pairs) == 2


def test_nq_open_oracle_missing(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as err:
        load_nq_open_oracle(tmp_path)
    assert "nq-open-oracle" in err.value.message and err.value.hint


def write_clapnq(root: Path) -> Path:
    ann = root / "annotated_data" / "dev"
    ret = root / "retrieval" / "dev"
    ann.mkdir(parents=True)
    ret.mkdir(parents=True)
    answerable = {
        "id": "111",
        "input": "where does the name come from",
        "passages": [
            {
                "title": "Name",
                "text": "The name is old . It means market in Spanish .",
                "sentences": ["The name is old .", "It means market in Spanish ."],
            }
        ],
        "output": [
            {
                "answer": "It means market in Spanish.",
                "selected_sentences": ["It means market in Spanish .&"],
                "meta": {"annotator": [1], "has_minimal_answer": False, "non_consecutive": False, "round": 2},
            }
        ],
    }
    unanswerable = {
        "id": 222,
        "input": "where does the symbol come from",
        "passages": [
            {
                "title": "Symbol",
                "text": "A comic used the phrase .",
                "sentences": ["A comic used the phrase ."],
            }
        ],
        "output": [{"answer": None, "meta": None}],
    }
    (ann / "clapnq_dev_answerable.jsonl").write_text(json.dumps(answerable) + "\n")
    (ann / "clapnq_dev_unanswerable.jsonl").write_text(json.dumps(unanswerable) + "\n")
    (ret / "question_dev_answerable.tsv").write_text(
        "id\tquestion\tdoc-id-list\tanswers\n111\twhere does the name come from\t9_0-40\tIt means market.\n"
    )
    (root / "retrieval" / "passages.tsv").write_text(
        "id\ttext\ttitle\n9_0-40\tThe name is old . It means market in Spanish .\tName\n"
        "10_0-30\tA comic used the phrase .\tSymbol\n"
    )
    return root


def test_clapnq_layout(tmp_path: Path) -> None:
    data = load_clapnq(write_clapnq(tmp_path / "clapnq"), "dev")
    ans, unans = data.pairs
    assert ans.answerable and ans.gold_doc_ids == ["9_0-40"]
    assert ans.gold_evidence == ["It means market in Spanish ."]
    assert ans.answers == ["It means market in Spanish."]
    assert not unans.answerable and unans.answers == [] and unans.gold_doc_ids == []
    assert {r["id"] for r in data.corpus} == {"9_0-40", "10_0-30"}
    only = load_clapnq(tmp_path / "clapnq", "dev", unanswerable=False)
    assert len(only.pairs) == 1


def test_clapnq_without_retrieval_files_uses_annotated_passages(tmp_path: Path) -> None:
    root = write_clapnq(tmp_path / "clapnq")
    for f in (root / "retrieval").rglob("*.tsv"):
        f.unlink()
    data = load_clapnq(root, "dev")
    assert data.pairs[0].gold_doc_ids == ["clapnq-111-0"]
    assert data.corpus[0]["text"].startswith("The name is old")


def test_real_nq_open_oracle() -> None:
    data = load_nq_open_oracle(shared_data("nq_open_oracle"))
    assert len(data.pairs) == 2655
    assert all(p.gold_doc_ids for p in data.pairs)


def test_real_clapnq() -> None:
    data = load_clapnq(shared_data("clapnq"), "dev")
    assert any(p.answerable for p in data.pairs) and any(not p.answerable for p in data.pairs)


def test_real_squad2() -> None:
    data = load_squad2(shared_data("squad2_dev_half"))
    assert len(data.pairs) == 6078 and len(data.corpus) == 646
    unanswerable = [p for p in data.pairs if not p.answerable]
    assert len(unanswerable) == 3168
    # An unanswerable question keeps its own paragraph as a near-miss context, never as gold.
    assert all(p.near_miss_doc_ids and not p.gold_doc_ids and not p.answers for p in unanswerable)
    text = {r["id"]: r["text"] for r in data.corpus}
    answerable = [p for p in data.pairs if p.answerable]
    assert all(any(a in text[p.gold_doc_ids[0]] for a in p.answers) for p in answerable)


def test_real_quotesum() -> None:
    data = load_quotesum(shared_data("quotesum"))
    text = {r["id"]: r["text"] for r in data.corpus}
    assert len(data.pairs) > 200
    multi = [p for p in data.pairs if len(p.gold_doc_ids) > 1]
    assert len(multi) > 50  # multi-source answers
    for p in data.pairs:
        assert "[" not in p.answer  # markers resolved
        # Every quoted span is verbatim in one of its gold sources.
        assert all(any(find_verbatim(ev, text[d]) for d in p.gold_doc_ids) for ev in p.gold_evidence)


def test_real_hotpotqa() -> None:
    data = load_hotpotqa(shared_data("hotpotqa_reflexion100"))
    assert len(data.pairs) == 100
    assert all(len(p.gold_doc_ids) == 2 and len(p.meta["distractor_doc_ids"]) == 10 for p in data.pairs)
    text = {r["id"]: r["text"] for r in data.corpus}
    assert all(any(ev in text[d] for d in p.gold_doc_ids) for p in data.pairs for ev in p.gold_evidence)


def test_real_rgb_counterfactual() -> None:
    data = load_rgb_counterfactual(shared_data("rgb_en_fact"))
    assert len(data.pairs) >= 90
    text = {r["id"]: r["text"] for r in data.corpus}
    for p in data.pairs:
        # The documents carry the counterfactual value; the world's answer is kept apart.
        assert any(p.answers[0] in text[d] for d in p.gold_doc_ids)
        assert p.meta["counterfactual"] and p.meta["world_answer"]


def test_heldout_part_is_fixed_per_source() -> None:
    first = load_public("squad2", shared_data("squad2_dev_half"))
    again = load_public("squad2", shared_data("squad2_dev_half"), limit=500)
    held = {p.id for p in first.pairs if p.meta[HELDOUT_KEY]}
    assert 0.1 < len(held) / len(first.pairs) < 0.3
    assert {p.id for p in again.pairs if p.meta[HELDOUT_KEY]} == held & {p.id for p in again.pairs}
    # Questions on one paragraph are held out together.
    by_doc: dict[str, set[bool]] = {}
    for p in first.pairs:
        for d in p.gold_doc_ids + p.near_miss_doc_ids:
            by_doc.setdefault(d, set()).add(p.meta[HELDOUT_KEY])
    assert all(len(v) == 1 for v in by_doc.values())


def test_validation_part_is_fixed_apart_from_the_test_part() -> None:
    first = load_public("squad2", shared_data("squad2_dev_half"))
    again = load_public("squad2", shared_data("squad2_dev_half"), limit=500)
    parts = {p.id: part_of(p) for p in first.pairs}
    rest = [q for q, part in parts.items() if part != "test"]
    validation = {q for q, part in parts.items() if part == "validation"}
    assert 0.1 < len(validation) / len(rest) < 0.3
    assert {p.id for p in again.pairs if part_of(p) == "validation"} == validation & {
        p.id for p in again.pairs
    }
    assert not any(p.meta[HELDOUT_KEY] and p.meta[VALIDATION_KEY] for p in first.pairs)
    # Questions on one paragraph share one part: a validation question's paragraph is never trained on.
    by_doc: dict[str, set[str]] = {}
    for p in first.pairs:
        for d in p.gold_doc_ids + p.near_miss_doc_ids:
            by_doc.setdefault(d, set()).add(parts[p.id])
    assert all(len(v) == 1 for v in by_doc.values())


def test_unknown_public_source() -> None:
    with pytest.raises(InvalidInputError) as err:
        load_public("squad3", "/nowhere")
    assert "squad2" in (err.value.hint or "")

"""Splits by source document: no document of a held-out split is shown in training."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from groundtune.data.splits import assign_splits, forbidden_docs, heldout_questions, leaks, question_leaks

FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def test_questions_sharing_a_document_share_a_split() -> None:
    docs = {f"q{i}": [f"d{i // 2}"] for i in range(40)}  # two questions per document
    docs["bridge"] = ["d0", "d7"]  # joins d0's and d7's groups
    q_split, d_split = assign_splits(docs, FRACTIONS, seed=1)
    for qid, ds in docs.items():
        assert all(d_split[d] == q_split[qid] for d in ds)
    assert q_split["q0"] == q_split["q14"] == q_split["bridge"]
    assert {"train", "validation", "test"} == set(q_split.values())


def test_same_seed_same_splits() -> None:
    docs = {f"q{i}": [f"d{i}"] for i in range(50)}
    assert assign_splits(docs, FRACTIONS, 3) == assign_splits(docs, FRACTIONS, 3)
    assert assign_splits(docs, FRACTIONS, 3) != assign_splits(docs, FRACTIONS, 4)


def test_splits_do_not_depend_on_document_ids() -> None:
    # File document ids hash the file's path: the same files copied elsewhere get other ids.
    here = {f"q{i}": [f"doc_a{i // 3}"] for i in range(30)}
    there = {q: [d.replace("doc_a", f"doc_{99 - int(d[5:])}z") for d in ds] for q, ds in here.items()}
    assert assign_splits(here, FRACTIONS, 2)[0] == assign_splits(there, FRACTIONS, 2)[0]


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text("qwerty", min_size=1, max_size=4),
        st.lists(st.sampled_from([f"d{i}" for i in range(15)]), max_size=3),
        max_size=40,
    ),
    st.integers(0, 5),
)
def test_no_document_in_two_splits(docs: dict[str, list[str]], seed: int) -> None:
    q_split, d_split = assign_splits(docs, FRACTIONS, seed)
    assert set(q_split) == set(docs)
    for qid, ds in docs.items():
        for d in ds:
            assert d_split[d] == q_split[qid]


def test_forbidden_docs_and_leak_detection() -> None:
    d_split = {"a": "train", "b": "validation", "c": "test"}
    banned = forbidden_docs(d_split)
    assert banned["train"] == {"b", "c"} and banned["validation"] == {"c"} and banned["test"] == {"b"}
    assert leaks(d_split, {"train": {"a"}, "validation": {"a", "b"}, "test": {"a", "c"}}) == []
    found = leaks(d_split, {"train": {"a", "c"}})
    assert found == ["c (test document shown in train)"]


def test_pinned_questions_take_their_group_and_conflicts_are_left_out() -> None:
    docs = {f"q{i}": [f"d{i}"] for i in range(20)}
    docs |= {"h1": ["d0"], "h2": ["x"], "t_on_x": ["x"]}
    pinned = {"h1": "test", "h2": "test", "t_on_x": "train"}
    q_split, d_split = assign_splits(docs, FRACTIONS, seed=0, pinned=pinned)
    assert q_split["h1"] == q_split["q0"] == "test"  # q0 shares d0 with a pinned test question
    assert q_split["h2"] == "test" and d_split["x"] == "test"
    assert "t_on_x" not in q_split  # pinned to train but its document is held out


def test_split_by_question_holds_out_questions_not_documents() -> None:
    # 120 questions about 6 documents: by document, a held-out document takes a sixth of the questions
    # with it; by question, every document stays trainable and the shares hold.
    docs = {f"q{i:03d}": [f"d{i % 6}"] for i in range(120)}
    q_split, d_split = assign_splits(docs, FRACTIONS, seed=0, by="question")
    assert d_split == {}
    counts = {s: sum(1 for v in q_split.values() if v == s) for s in ("train", "validation", "test")}
    assert counts == {"train": 96, "validation": 12, "test": 12}
    pinned = {q: "test" for q in list(docs)[:40]}
    q_split, _ = assign_splits(docs, FRACTIONS, seed=0, pinned=pinned, by="question")
    assert all(q_split[q] == "test" for q in pinned)
    assert all(q_split[q] in ("train", "validation") for q in docs if q not in pinned)


def test_strata_are_dealt_separately() -> None:
    docs = {f"q{i:03d}": [f"d{i}"] for i in range(60)}
    strata = {q: "unanswerable" if int(q[1:]) % 6 == 0 else "answerable" for q in docs}
    q_split, _ = assign_splits(docs, FRACTIONS, seed=5, strata=strata)
    for split in ("validation", "test"):
        kinds = {strata[q] for q, s in q_split.items() if s == split}
        assert kinds == {"answerable", "unanswerable"}, split
    fixed, _ = assign_splits(docs, FRACTIONS, seed=5, strata=strata, fixed_test={"answerable"})
    assert not any(s == "test" and strata[q] == "answerable" for q, s in fixed.items())


def test_heldout_part_is_fixed_and_keeps_groups_together() -> None:
    docs = {f"q{i}": [f"d{i // 3}"] for i in range(3000)}
    held = heldout_questions(docs, 0.2, salt="src")
    assert 0.16 < len(held) / len(docs) < 0.24
    assert all({f"q{3 * (i // 3) + j}" for j in range(3)} <= held for i in (int(q[1:]) for q in held))
    more = {**docs, "extra": ["d_new"]}
    assert heldout_questions(more, 0.2, salt="src") - {"extra"} == held
    assert heldout_questions(docs, 0.2, salt="other") != held


def test_question_leaks_names_a_question_in_two_splits() -> None:
    assert question_leaks({"train": {"a", "b"}, "test": {"c"}}) == []
    assert question_leaks({"train": {"a"}, "validation": {"a"}}) == ["'a' (question in train and validation)"]

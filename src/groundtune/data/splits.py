"""Splits by source document (questions about the same document land in the same split, and no
document of the validation or test split appears in training, not even as a distractor) or by
question (a user's held-out questions about the same knowledge base), and the fixed held-out part
of a public source.

Questions that share a document are grouped (union-find), groups are shuffled with the seed and
dealt to splits by the requested fractions, within each stratum (answerable or not). Only ids are
handled here; the result depends on the question ids and the seed, not on how documents are named.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence

from groundtune.core.ids import content_hash

SPLITS = ("train", "validation", "test")


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _groups(question_docs: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Questions grouped by shared documents (union-find root -> question ids, in input order)."""
    uf = _UnionFind()
    for qid, docs in question_docs.items():
        node = f"q:{qid}"
        uf.find(node)
        for doc in docs:
            uf.union(node, f"d:{doc}")
    groups: dict[str, list[str]] = {}
    for qid in question_docs:
        groups.setdefault(uf.find(f"q:{qid}"), []).append(qid)
    return groups


def heldout_questions(question_docs: Mapping[str, Sequence[str]], fraction: float, salt: str) -> set[str]:
    """A fixed held-out part: the questions of the document groups whose hash (salted, e.g. by the
    source's name) falls in the lowest `fraction`. No seed: every build of a source sees the same part,
    and adding questions elsewhere in the source does not move a group."""
    held: set[str] = set()
    for root, members in _groups(question_docs).items():
        key = root.split(":", 1)[1] if root.startswith("d:") else min(members)
        if int(content_hash(salt, key, length=8), 16) < fraction * 16**8:
            held.update(members)
    return held


SPLIT_BY = ("document", "question")


def assign_splits(
    question_docs: Mapping[str, Sequence[str]],
    fractions: Mapping[str, float],
    seed: int,
    pinned: Mapping[str, str] | None = None,
    *,
    by: str = "document",
    strata: Mapping[str, str] | None = None,
    fixed_test: Collection[str] = (),
) -> tuple[dict[str, str], dict[str, str]]:
    """(question id -> split, document id -> split).

    By document (`by="document"`, public benchmarks): questions sharing a document form a group and
    every question's documents are in its split. By question (`by="question"`, a user holding out
    questions about one knowledge base): every question is its own group and documents belong to no
    split (the document map is empty). `question_docs` maps each question to its source documents.
    `fractions` gives train/validation/test shares (normalised; zero shares are allowed) of the groups
    that are not pinned, dealt within each stratum (`strata`: question -> label, e.g. answerable or
    not) so every held-out split gets its share of each. `pinned` puts a question (and so its whole
    group) in a split; a group holding questions pinned to different splits goes to the most held-out
    one, and its questions pinned elsewhere are left out of the result (the caller drops them).
    Strata in `fixed_test` (public sources, whose test split is their fixed held-out part, pinned)
    deal their free groups to train and validation only, and so do all strata once any question is
    pinned to test: a test set given explicitly is the test split.
    """
    if by not in SPLIT_BY:
        raise ValueError(f"split by {by!r}: use one of {SPLIT_BY}")
    pinned = pinned or {}
    strata = strata or {}
    groups = _groups(question_docs if by == "document" else {q: () for q in question_docs})
    q_split: dict[str, str] = {}
    free: dict[str, list[str]] = {}
    for key, members in groups.items():
        pins = {pinned[q] for q in members if q in pinned}
        if not pins:
            labels = [strata.get(q, "") for q in members]
            free.setdefault(max(set(labels), key=labels.count), []).append(key)
            continue
        split = max(pins, key=SPLITS.index)
        for qid in members:
            if pinned.get(qid, split) == split:
                q_split[qid] = split
    share = {s: max(float(fractions.get(s, 0.0)), 0.0) for s in SPLITS}
    norm = sum(share.values()) or 1.0
    rng = random.Random(seed)
    for stratum in sorted(free):
        keys = free[stratum]
        # Order groups by their first question id, not by their union-find root (often a document id,
        # which hashes a file path): the same questions give the same splits wherever the files live.
        keys.sort(key=lambda key: min(groups[key]))
        rng.shuffle(keys)
        total_q = sum(len(groups[k]) for k in keys)
        # Fill held-out splits first (to their target size), the rest is training.
        targets = {s: share[s] / norm * total_q for s in SPLITS}
        if stratum in fixed_test or "test" in pinned.values():
            targets["test"] = 0.0
        filled = dict.fromkeys(SPLITS, 0)
        for key in keys:
            members = groups[key]
            split = next(
                (
                    s
                    for s in ("test", "validation")
                    if targets[s] > 0 and filled[s] + len(members) / 2 <= targets[s]
                ),
                "train",
            )
            filled[split] += len(members)
            for qid in members:
                q_split[qid] = split
    if by == "question":
        return q_split, {}
    d_split = {doc: q_split[qid] for qid, docs in question_docs.items() if qid in q_split for doc in docs}
    return q_split, d_split


def question_leaks(questions: Mapping[str, set[str]]) -> list[str]:
    """The leakage check of a split by question: a question (normalised text) asked in training and in
    a held-out split, or in validation and test. `questions[split]` is the set of normalised questions."""
    pairs = (("train", "validation"), ("train", "test"), ("validation", "test"))
    return [
        f"{q!r} (question in {a} and {b})"
        for a, b in pairs
        for q in sorted(questions.get(a, set()) & questions.get(b, set()))
    ]


def forbidden_docs(doc_split: Mapping[str, str]) -> dict[str, set[str]]:
    """Per split, the documents its examples must not show: training may not see held-out documents,
    and validation and test may not see each other's."""
    held = {s: {d for d, sp in doc_split.items() if sp == s} for s in SPLITS}
    return {
        "train": held["validation"] | held["test"],
        "validation": held["test"],
        "test": held["validation"],
    }


def leaks(doc_split: Mapping[str, str], shown: Mapping[str, set[str]]) -> list[str]:
    """Documents shown in a split's examples (as source or distractor) that belong to a split it must
    not see; empty when there is no leakage. `shown[split]` is the set of document ids shown."""
    banned = forbidden_docs(doc_split)
    return [
        f"{doc} ({doc_split[doc]} document shown in {split})"
        for split in SPLITS
        for doc in sorted(shown.get(split, set()) & banned[split])
    ]

"""Splits by source document: questions about the same document land in the same split, and no
document of the validation or test split appears in training, not even as a distractor.

Questions that share a document are grouped (union-find), groups are shuffled with the seed and
dealt to splits by the requested fractions. Only ids are handled here; the result depends on the
question ids and the seed, not on how documents are named.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

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


def assign_splits(
    question_docs: Mapping[str, Sequence[str]],
    fractions: Mapping[str, float],
    seed: int,
    pinned: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(question id -> split, document id -> split) with every question's documents in its split.

    `question_docs` maps each question to its source documents (a question without any is its own
    group). `fractions` gives train/validation/test shares (normalised; zero shares are allowed) of
    the groups that are not pinned. `pinned` puts a question (and so its whole group) in a split;
    a group holding questions pinned to different splits goes to the most held-out one, and its
    questions pinned elsewhere are left out of the result (the caller drops them).
    """
    pinned = pinned or {}
    uf = _UnionFind()
    for qid, docs in question_docs.items():
        node = f"q:{qid}"
        uf.find(node)
        for doc in docs:
            uf.union(node, f"d:{doc}")
    groups: dict[str, list[str]] = {}
    for qid in question_docs:
        groups.setdefault(uf.find(f"q:{qid}"), []).append(qid)
    q_split: dict[str, str] = {}
    free: list[str] = []
    for key, members in groups.items():
        pins = {pinned[q] for q in members if q in pinned}
        if not pins:
            free.append(key)
            continue
        split = max(pins, key=SPLITS.index)
        for qid in members:
            if pinned.get(qid, split) == split:
                q_split[qid] = split
    # Order groups by their first question id, not by their union-find root (often a document id,
    # which hashes a file path): the same questions give the same splits wherever the files live.
    free.sort(key=lambda key: min(groups[key]))
    random.Random(seed).shuffle(free)
    total_q = sum(len(groups[k]) for k in free)
    share = {s: max(float(fractions.get(s, 0.0)), 0.0) for s in SPLITS}
    norm = sum(share.values()) or 1.0
    # Fill held-out splits first (to their target size), the rest is training.
    targets = {s: share[s] / norm * total_q for s in SPLITS}
    filled = dict.fromkeys(SPLITS, 0)
    for key in free:
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
    d_split = {doc: q_split[qid] for qid, docs in question_docs.items() if qid in q_split for doc in docs}
    return q_split, d_split


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

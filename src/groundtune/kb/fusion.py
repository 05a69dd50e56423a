"""Reciprocal-rank fusion of the dense and sparse result lists: score = Σ 1 / (rrf_k + rank).

Done in groundtune rather than in Qdrant so that every backend fuses identically and each fused
result keeps its per-arm ranks. Ties break on the better single-arm rank, then on the dense rank
(so two chunks ranked 1st and 3rd by opposite arms keep one order whatever their ids, which hash
file paths), then on chunk id.
"""

from __future__ import annotations

from dataclasses import dataclass

from groundtune.kb.index import Hit


@dataclass(frozen=True)
class Fused:
    hit: Hit
    score: float
    dense_rank: int | None
    sparse_rank: int | None


def rrf(dense: list[Hit], sparse: list[Hit], rrf_k: float, k: int) -> list[Fused]:
    """The top `k` of both lists fused by reciprocal rank (ranks are 1-based)."""
    ranks: dict[str, list[int | None]] = {}
    hits: dict[str, Hit] = {}
    for arm, lst in enumerate((dense, sparse)):
        for rank, hit in enumerate(lst, start=1):
            ranks.setdefault(hit.chunk_id, [None, None])[arm] = rank
            hits.setdefault(hit.chunk_id, hit)
    fused = []
    for cid, (d, s) in ranks.items():
        score = sum(1.0 / (rrf_k + r) for r in (d, s) if r is not None)
        fused.append(Fused(hits[cid], score, d, s))
    fused.sort(
        key=lambda f: (
            -f.score,
            min(r for r in (f.dense_rank, f.sparse_rank) if r is not None),
            f.dense_rank if f.dense_rank is not None else len(dense) + 1,
            f.hit.chunk_id,
        )
    )
    return fused[:k]

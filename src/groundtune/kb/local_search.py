"""In-memory mirror of a local-mode collection for fast exact search.

Qdrant local mode scores sparse vectors and evaluates payload filters in pure Python, point by
point (seconds per query at 100k chunks). Because local mode gives one process the folder, that
process sees every write and can keep a numpy/scipy copy: a dense matrix, a CSC term matrix and
the generation and filter columns. Scores are the same dot products Qdrant computes (cosine on
unit vectors; sparse dot over overlapping terms only). Knows nothing of Qdrant or the catalog.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from groundtune.kb.filters import SearchFilters
from groundtune.kb.index import Hit


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(norms == 0, 1, norms)).astype(np.float32)


class LocalMirror:
    """Payloads, vectors and filter columns of every point; rebuilt lazily after writes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payloads: list[dict[str, Any]] = []
        self._dense_blocks: list[np.ndarray] = []
        self._sparse: list[tuple[list[int], list[float]]] = []
        self._gens: dict[str, list[int]] = {"gen_added": [], "gen_retired": [], "gen_deleted": []}
        self._built: dict[str, Any] | None = None

    def add_points(
        self,
        payloads: Sequence[dict[str, Any]],
        dense: np.ndarray,
        sparse: Sequence[tuple[list[int], list[float]]],
    ) -> None:
        with self._lock:
            # An upsert of an existing id replaces it, as in Qdrant.
            new_ids = {p["id"] for p in payloads}
            if any(p["id"] in new_ids for p in self._payloads):
                self._keep([p["id"] not in new_ids for p in self._payloads])
            self._payloads.extend(dict(p) for p in payloads)
            if len(payloads):
                self._dense_blocks.append(_unit(np.asarray(dense, dtype=np.float32)))
            self._sparse.extend((list(i), list(v)) for i, v in sparse)
            for key in self._gens:
                self._gens[key].extend(int(p[key]) for p in payloads)
            self._built = None

    def _keep(self, keep: list[bool]) -> None:
        dense = self._dense_matrix()
        self._payloads = [p for p, k in zip(self._payloads, keep, strict=True) if k]
        self._sparse = [s for s, k in zip(self._sparse, keep, strict=True) if k]
        self._dense_blocks = [dense[np.asarray(keep, dtype=bool)]] if len(dense) else []
        for key, values in self._gens.items():
            self._gens[key] = [v for v, k in zip(values, keep, strict=True) if k]
        self._built = None

    def _dense_matrix(self) -> np.ndarray:
        if len(self._dense_blocks) != 1:
            blocks = self._dense_blocks or [np.zeros((0, 0), dtype=np.float32)]
            self._dense_blocks = [np.concatenate(blocks)] if self._dense_blocks else []
        return self._dense_blocks[0] if self._dense_blocks else np.zeros((0, 0), dtype=np.float32)

    def set_gen(self, field: str, doc_ids: set[str], generation: int) -> None:
        from groundtune.kb.filters import NEVER

        with self._lock:
            values = self._gens[field]
            for i, p in enumerate(self._payloads):
                if p["doc_id"] in doc_ids and self._gens["gen_added"][i] < generation and values[i] >= NEVER:
                    values[i] = generation
                    p[field] = generation
            self._built = None

    def purge(self, upto: int, current: int, keep_versions: bool) -> None:
        from groundtune.kb.filters import NEVER

        with self._lock:
            g = self._gens
            for field in ("gen_retired", "gen_deleted"):
                for i, v in enumerate(g[field]):
                    if current < v < NEVER:
                        g[field][i] = NEVER
                        self._payloads[i][field] = NEVER
                        self._built = None
            keep = [
                not (d <= upto or a > current or (not keep_versions and r <= upto))
                for a, r, d in zip(g["gen_added"], g["gen_retired"], g["gen_deleted"], strict=True)
            ]
            if not all(keep):
                self._keep(keep)

    def _build(self) -> dict[str, Any]:
        from scipy import sparse as sp

        with self._lock:
            if self._built is not None:
                return self._built
            n = len(self._payloads)
            cols: dict[int, int] = {}
            indptr: list[int] = [0]
            indices: list[int] = []
            data: list[float] = []
            for idx, vals in self._sparse:
                indices.extend(cols.setdefault(int(t), len(cols)) for t in idx)
                data.extend(vals)
                indptr.append(len(indices))
            csr = sp.csr_matrix(
                (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
                shape=(n, max(len(cols), 1)),
            )
            self._built = {
                "dense": self._dense_matrix(),
                "csc": csr.tocsc(),
                "cols": cols,
                "ids": [p["id"] for p in self._payloads],
                "payloads": list(self._payloads),
                "doc_id": np.asarray([p["doc_id"] for p in self._payloads], dtype=object),
                "source": np.asarray([p["source"] for p in self._payloads], dtype=object),
                "tags": [frozenset(p.get("tags") or ()) for p in self._payloads],
                **{k: np.asarray(v, dtype=np.int64) for k, v in self._gens.items()},
            }
            return self._built

    def _mask(self, b: dict[str, Any], filters: SearchFilters, generation: int) -> np.ndarray:
        mask = (b["gen_added"] <= generation) & (b["gen_deleted"] > generation)
        if filters.latest_only:
            mask &= b["gen_retired"] > generation
        if filters.doc_ids:
            mask &= np.isin(b["doc_id"], filters.doc_ids)
        if filters.sources:
            mask &= np.isin(b["source"], filters.sources)
        if filters.tags:
            wanted = set(filters.tags)
            mask &= np.fromiter((bool(t & wanted) for t in b["tags"]), dtype=bool, count=len(b["tags"]))
        return mask

    def _top(self, b: dict[str, Any], scores: np.ndarray, ok: np.ndarray, depth: int) -> list[Hit]:
        cand = np.flatnonzero(ok)
        if len(cand) > depth:
            # Keep every candidate tied with the depth-th score so the id tie-break matches Qdrant's.
            cut = np.partition(scores[cand], len(cand) - depth)[len(cand) - depth]
            cand = cand[scores[cand] >= cut]
        hits = [Hit(b["ids"][i], float(scores[i]), b["payloads"][i]) for i in cand]
        hits.sort(key=lambda h: (-h.score, h.chunk_id))
        return hits[:depth]

    def search(
        self,
        dense: Sequence[np.ndarray | None],
        sparse: Sequence[tuple[list[int], list[float]] | None],
        filters: SearchFilters,
        generation: int,
        depth: int,
    ) -> list[tuple[list[Hit], list[Hit]]]:
        b = self._build()
        n = len(b["ids"])
        mask = self._mask(b, filters, generation) if n else np.zeros(0, dtype=bool)
        out: list[tuple[list[Hit], list[Hit]]] = [([], []) for _ in dense]
        rows = [i for i, d in enumerate(dense) if d is not None]
        if rows and n:
            q = _unit(np.stack([dense[i] for i in rows]).astype(np.float32))  # type: ignore[misc]
            scores = q @ b["dense"].T
            for r, qi in enumerate(rows):
                out[qi][0].extend(self._top(b, scores[r], mask, depth))
        for qi, s in enumerate(sparse):
            if s is None or not s[0] or not n:
                continue
            present = [(b["cols"][t], w) for t, w in zip(s[0], s[1], strict=True) if t in b["cols"]]
            if not present:
                continue
            sub = b["csc"][:, [c for c, _ in present]]
            scores = (sub @ np.asarray([w for _, w in present], dtype=np.float64)).astype(np.float32)
            overlap = np.bincount(sub.indices, minlength=n) > 0
            out[qi][1].extend(self._top(b, scores, mask & overlap, depth))
        return out

"""THE retriever: dense, sparse (BM25) or hybrid (reciprocal-rank fusion) search over one knowledge
base, configured by a `RetrieverConfig` (core.configs) whose hash datasets, adapters and deployments record.

Data building and serving both call `Retriever.search` / `search_batch`; nothing else ranks chunks.
Queries are embedded in batches, and each batch reads one catalog snapshot (generation and
document frequencies) so it sees exactly one version of every document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from groundtune.core.configs import RetrieverConfig
from groundtune.core.errors import ConflictError, InvalidInputError
from groundtune.core.schemas import RetrievedChunk
from groundtune.kb import sparse as bm25
from groundtune.kb.filters import SearchFilters
from groundtune.kb.fusion import rrf
from groundtune.kb.index import Hit, payload_chunk

if TYPE_CHECKING:
    from groundtune.kb.knowledge_base import KnowledgeBase

__all__ = ["Retriever", "RetrieverConfig", "SearchFilters"]


class Retriever:
    """Searches one open `KnowledgeBase`; safe to share between threads."""

    def __init__(self, kb: KnowledgeBase, config: RetrieverConfig | None = None) -> None:
        config = config or RetrieverConfig()
        if config.embedder not in (None, kb.embedder_name):
            raise ConflictError(
                f"the retriever wants embedder '{config.embedder}', knowledge base '{kb.name}' is indexed "
                f"with '{kb.embedder_name}'",
                hint=f"use embedder '{kb.embedder_name}', or `groundtune kb reindex {kb.name} --embedder ...`",
            )
        if config.sparse not in (None, kb.settings.sparse):
            raise ConflictError(
                f"the retriever's sparse scheme {config.sparse} differs from the index's {kb.settings.sparse}",
                hint="leave `sparse` unset to use the index's scheme",
            )
        self.kb = kb
        self.config = config.model_copy(update={"embedder": kb.embedder_name, "sparse": kb.settings.sparse})

    def hash(self) -> str:
        """The resolved config's hash (embedder and sparse scheme filled in from the KB)."""
        return self.config.hash()

    def search(
        self, query: str, k: int | None = None, filters: SearchFilters | None = None
    ) -> list[RetrievedChunk]:
        return self.search_batch([query], k, filters)[0]

    def search_batch(
        self,
        queries: Sequence[str],
        k: int | None = None,
        filters: SearchFilters | None = None,
        batch_size: int = 256,
    ) -> list[list[RetrievedChunk]]:
        """Results for every query; queries are embedded `batch_size` at a time."""
        for i, q in enumerate(queries):
            if not isinstance(q, str) or not q.strip():
                raise InvalidInputError(f"query {i} is empty", hint="pass a non-empty question")
        k = k or self.config.documents_per_prompt
        if k < 1:
            raise InvalidInputError(f"k={k} is not positive", hint="ask for k >= 1 results")
        flt = self.config.filters.merged(filters)
        out: list[list[RetrievedChunk]] = []
        for start in range(0, len(queries), batch_size):
            out += self._batch(list(queries[start : start + batch_size]), k, flt)
        return out

    def _batch(self, queries: list[str], k: int, flt: SearchFilters) -> list[list[RetrievedChunk]]:
        mode, scheme = self.config.mode, self.kb.settings.sparse
        dense: list[Any] = [None] * len(queries)
        if mode != "sparse":
            vecs = self.kb.embedder.encode(queries, batch_size=64)
            dense = list(vecs)
        term_lists = [bm25.query_terms(q, scheme) for q in queries] if mode != "dense" else []
        depth = max(self.config.depth, k)
        with self.kb.reading():
            state, df = self.kb.catalog.snapshot(t for ts in term_lists for t in ts)
            sparse: list[Any] = [None] * len(queries)
            if mode != "dense":
                sparse = [bm25.query_vector(ts, df, state.n_chunks) for ts in term_lists]
            arms = self.kb.index.search(dense, sparse, flt, state.generation, depth)
        return [self._rank(d, s, k) for d, s in arms]

    def _rank(self, dense: list[Hit], sparse: list[Hit], k: int) -> list[RetrievedChunk]:
        if self.config.mode == "hybrid":
            return [
                RetrievedChunk(
                    chunk=payload_chunk(f.hit.payload),
                    score=f.score,
                    rank=i,
                    dense_rank=f.dense_rank,
                    sparse_rank=f.sparse_rank,
                )
                for i, f in enumerate(rrf(dense, sparse, self.config.rrf_k, k), start=1)
            ]
        hits, key = (dense, "dense_rank") if self.config.mode == "dense" else (sparse, "sparse_rank")
        return [
            RetrievedChunk(chunk=payload_chunk(h.payload), score=h.score, rank=i, **{key: i})
            for i, h in enumerate(hits[:k], start=1)
        ]

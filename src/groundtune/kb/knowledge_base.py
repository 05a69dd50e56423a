"""`KnowledgeBase`: one open KB (settings, catalog, one Qdrant client, lazily the embedder) and the
single write path that turns new document versions and removals into one committed generation.

Write order (see filters.py): stamp new points with generation G, retire or delete the old ones
at G, commit G in the catalog, then purge what no running search can still see. Parsing and
batching of user inputs live in ingest.py; ranking lives in retrieve.py.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groundtune.core.errors import ConflictError, NotFoundError
from groundtune.core.progress import Progress, event
from groundtune.core.schemas import Chunk, Document
from groundtune.kb import sparse as bm25
from groundtune.kb.catalog import Catalog, NewVersion
from groundtune.kb.chunker import index_text
from groundtune.kb.index import VectorIndex
from groundtune.kb.owner import Ownership
from groundtune.kb.settings import KBSettings, load_settings

if TYPE_CHECKING:
    from groundtune.kb.ingest import AddSummary, RemoveSummary
    from groundtune.kb.retrieve import Retriever, RetrieverConfig


def catalog_url(path: Path, settings: KBSettings) -> str:
    return settings.catalog_url or f"sqlite:///{path / 'catalog.sqlite'}"


def open_index(path: Path, settings: KBSettings) -> VectorIndex:
    return VectorIndex(
        settings.collection,
        path=None if settings.index_url else path / "qdrant",
        url=settings.index_url,
        mirror=settings.local_search == "mirror",
    )


class KnowledgeBase:
    """An open knowledge base. In local mode one process owns it until it closes it (kb/owner.py)."""

    def __init__(self, path: Path, settings: KBSettings, *, embedder: Any = None) -> None:
        self.path = path
        self.settings = settings
        self.name = settings.name
        # Claim a local-mode KB before touching its stores, so a second process fails here, plainly.
        self._owner = None if settings.index_url else Ownership(settings.name, path)
        try:
            self.catalog = Catalog(catalog_url(path, settings), schema=settings.id)
            self.index = open_index(path, settings)
        except BaseException:
            if self._owner is not None:
                self._owner.release()
            raise
        # A process that opens KBs again and again (the API server) passes the embedder it keeps loaded.
        self._embedder: Any = embedder
        self._embedder_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._readers: dict[int, int] = {}
        self._epoch = 0
        self._tokens = itertools.count()
        self._cond = threading.Condition()
        self._purge_pending = True  # the first write cleans up after any earlier crashed one

    @classmethod
    def open(cls, name: str, home: str | Path | None = None, *, embedder: Any = None) -> KnowledgeBase:
        """`embedder`: an already loaded embedder of the KB's `settings.embedder` (else loaded on first use)."""
        path, settings = load_settings(name, home)
        return cls(path, settings, embedder=embedder)

    # ---- properties and reads ----------------------------------------------------------------
    @property
    def embedder_name(self) -> str:
        return self.settings.embedder

    @property
    def embedder(self) -> Any:
        with self._embedder_lock:
            if self._embedder is None:
                from groundtune.models import load_embedder

                self._embedder = load_embedder(self.settings.embedder)
            return self._embedder

    def chunks(self, latest_only: bool = True) -> Iterator[Chunk]:
        return self.catalog.iter_chunks(latest_only)

    def get_chunk(self, chunk_id: str) -> Chunk:
        chunk = self.catalog.chunk(chunk_id)
        if chunk is None:
            raise NotFoundError(
                f"chunk {chunk_id} is not in knowledge base '{self.name}'",
                hint="the document may have been removed; search again",
            )
        return chunk

    def get_document(self, doc_id: str, version: int | None = None) -> Document:
        doc = self.catalog.document(doc_id, version)
        if doc is None:
            raise NotFoundError(
                f"document {doc_id}{f' v{version}' if version else ''} is not in '{self.name}'",
                hint=f"list documents with `groundtune kb show {self.name} --documents`",
            )
        return doc

    def documents(self, latest_only: bool = True) -> list[Document]:
        return self.catalog.documents(latest_only)

    def random_chunks(
        self, n: int, seed: int, exclude_ids: tuple[str, ...] | list[str] | set[str] = ()
    ) -> list[Chunk]:
        return self.catalog.random_chunks(n, seed, exclude_ids)

    def retriever(self, config: RetrieverConfig | None = None) -> Retriever:
        from groundtune.kb.retrieve import Retriever

        return Retriever(self, config)

    def info(self) -> dict[str, Any]:
        state = self.catalog.state()
        return {
            "name": self.name,
            "id": self.settings.id,
            "path": str(self.path),
            "embedder": self.settings.embedder,
            "dim": self.settings.dim,
            "chunk_tokens": self.settings.chunk_tokens,
            "chunk_overlap": self.settings.chunk_overlap,
            "catalog": "sqlite (local file)"
            if not self.settings.catalog_url
            else _redact(self.settings.catalog_url),
            "index": self.settings.index_url or "qdrant local mode",
            "collection": self.settings.collection,
            "generation": state.generation,
            "avgdl": state.avgdl,
            "index_points": self.index.count(),
            "sparse": self.settings.sparse.model_dump(),
            **self.catalog.counts(),
        }

    # ---- readers (searches) and purge safety --------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[None]:
        """Register an in-process search so a purge never deletes points it may still return."""
        with self._cond:
            token = next(self._tokens)
            self._readers[token] = self._epoch
        try:
            yield
        finally:
            with self._cond:
                del self._readers[token]
                self._cond.notify_all()

    def _purge_after_commit(self, generation: int) -> bool:
        """Purge once in-process searches that began before the commit are done; False if skipped."""
        with self._cond:
            self._epoch += 1
            epoch = self._epoch
            drained = self._cond.wait_for(lambda: all(e >= epoch for e in self._readers.values()), timeout=30)
        if drained:  # else the next write purges
            self.index.purge(generation - self.settings.purge_lag, generation, self.settings.keep_versions)
        return bool(drained)

    # ---- the write path ----------------------------------------------------------------------
    def write(
        self,
        versions: list[tuple[Document, list[Chunk]]],
        removed: list[str] | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Commit new document versions (already chunked, `version` set) and removals as one generation."""
        with self._write_lock:
            state = self.catalog.state()
            gen = state.generation + 1
            if self._purge_pending:  # leftovers of a skipped purge, or orphans of a write that crashed
                self.index.purge(
                    state.generation - self.settings.purge_lag, state.generation, self.settings.keep_versions
                )
            self._purge_pending = True  # until this write has committed and cleaned up after itself
            scheme = self.settings.sparse
            all_chunks = [c for _, cs in versions for c in cs]
            texts = [index_text(c) for c in all_chunks]
            counted = [bm25.term_counts(t, scheme) for t in texts]
            avgdl = state.avgdl
            if avgdl is None and counted:  # frozen at the first ingest; `reindex` measures it again
                avgdl = max(sum(n for _, n in counted) / len(counted), 1.0)
            sparse_vecs = [bm25.document_vector(cnt, n, avgdl or 1.0, scheme) for cnt, n in counted]
            dense = self._embed(texts, progress)
            if len(all_chunks):
                self.index.upsert(all_chunks, dense, sparse_vecs, gen)
                if progress:
                    progress(event("index", len(all_chunks), len(all_chunks)))
            doc_ids = [d.id for d, _ in versions]
            previous = self.catalog.latest_versions(doc_ids + list(removed or ()))
            retired = {d: previous[d][0] for d in doc_ids if d in previous}
            removed = [d for d in removed or () if d in previous]
            self.index.retire(list(retired), gen)
            self.index.mark_deleted(removed, gen)
            delta: Counter[int] = Counter()
            for cnt, _ in counted:
                delta.update(cnt.keys())
            old = self.catalog.chunks_of(list(retired) + removed, latest_only=True)
            for chunk, _ in old:
                delta.subtract(bm25.term_counts(index_text(chunk), scheme)[0].keys())
            new_versions = [
                NewVersion(doc, cs, [n for _, n in counted[i : i + len(cs)]])
                for (doc, cs), i in zip(versions, _offsets([len(cs) for _, cs in versions]), strict=True)
            ]
            self.catalog.commit(
                gen,
                new_versions,
                retired,
                removed,
                delta,
                len(all_chunks) - len(old),
                avgdl if state.avgdl is None else None,
            )
            # A pure addition leaves nothing to purge (a filtered delete scans every point in local mode).
            if retired or removed or self.settings.purge_lag:
                self._purge_pending = not self._purge_after_commit(gen)
            else:
                self._purge_pending = False
            return gen

    def _embed(self, texts: list[str], progress: Progress | None) -> Any:
        import numpy as np

        if not texts:
            return np.zeros((0, self.settings.dim), dtype=np.float32)
        emb = self.embedder
        if emb.dim != self.settings.dim:
            raise ConflictError(
                f"embedder {emb.name} gives {emb.dim}-d vectors, the index holds {self.settings.dim}-d",
                hint="reindex with --embedder to switch embedders",
            )
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            if progress:
                progress(event("embed", done[0], len(texts)))

        return emb.encode(texts, batch_size=32, progress=step)

    # ---- user-facing writes (ingest.py) -------------------------------------------------------
    def add(self, inputs: Any, **kw: Any) -> AddSummary:
        """See `groundtune.kb.add`; use this form when the KB is already open."""
        from groundtune.kb import ingest

        return ingest.add(self, inputs, **kw)

    def remove(self, targets: list[str] | tuple[str, ...]) -> RemoveSummary:
        from groundtune.kb import ingest

        return ingest.remove(self, targets)

    def reindex(self, **kw: Any) -> dict[str, Any]:
        from groundtune.kb import ingest

        return ingest.reindex(self, **kw)

    def close(self) -> None:
        self.index.close()
        self.catalog.close()
        if self._owner is not None:
            self._owner.release()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _offsets(sizes: list[int]) -> list[int]:
    return list(itertools.accumulate([0, *sizes[:-1]])) if sizes else []


def _redact(url: str) -> str:
    import re

    return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", url)


def open_kb(name: str, home: str | Path | None = None) -> KnowledgeBase:
    """Open an existing knowledge base; close it (or use `with`) to release the local index."""
    return KnowledgeBase.open(name, home)

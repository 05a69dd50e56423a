"""The vector index: one Qdrant collection per KB, with named dense and sparse vectors and the chunk
as payload. The same code drives Qdrant local mode (`path=`) and a server or cluster (`url=`).

Writes follow the generation rule in filters.py. In local mode the process owns the folder
exclusively, so searches may run on an in-memory mirror of the collection (local_search.py)
instead of Qdrant's pure-Python scorer; tests pin that both give the same rankings. This module
knows nothing about the catalog, documents or fusion.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groundtune.core.errors import ConflictError, UnavailableError
from groundtune.core.schemas import Chunk
from groundtune.kb.filters import NEVER, SearchFilters, qdrant_filter

if TYPE_CHECKING:
    import numpy as np

DENSE, SPARSE = "dense", "sparse"
API_KEY_ENV = "GROUNDTUNE_QDRANT_API_KEY"
_PAYLOAD_INDEXES = {
    "doc_id": "keyword",
    "source": "keyword",
    "tags": "keyword",
    "gen_added": "integer",
    "gen_retired": "integer",
    "gen_deleted": "integer",
}


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    score: float
    payload: dict[str, Any]


def point_id(chunk_id: str) -> str:
    """Qdrant point id of a chunk (chunk ids are 32 hex digits, i.e. a UUID)."""
    return str(uuid.UUID(hex=chunk_id))


def chunk_payload(c: Chunk, generation: int) -> dict[str, Any]:
    return {**c.model_dump(mode="json"), "gen_added": generation, "gen_retired": NEVER, "gen_deleted": NEVER}


def payload_chunk(payload: dict[str, Any]) -> Chunk:
    return Chunk.model_validate({k: v for k, v in payload.items() if not k.startswith("gen_")})


def _rank(points: Sequence[Any]) -> list[Hit]:
    hits = [Hit(p.payload["id"], float(p.score), p.payload) for p in points]
    hits.sort(key=lambda h: (-h.score, h.chunk_id))  # ties broken the same way on every backend
    return hits


class VectorIndex:
    """One collection in a Qdrant local folder or server; thread-safe for concurrent searches."""

    def __init__(
        self,
        collection: str,
        *,
        path: Path | None = None,
        url: str | None = None,
        mirror: bool = True,
        _client: Any = None,
        _lock: Any = None,
    ) -> None:
        import os

        from qdrant_client import QdrantClient

        self.collection = collection
        self.remote = url is not None
        self.url, self.path = url, path
        self._lock = _lock or threading.RLock()
        try:
            if _client is not None:
                self.client = _client
            elif url is not None:
                self.client = QdrantClient(url=url, api_key=os.environ.get(API_KEY_ENV), timeout=60)
            else:
                assert path is not None
                path.mkdir(parents=True, exist_ok=True)
                self.client = QdrantClient(path=str(path), force_disable_check_same_thread=True)
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise ConflictError(
                    f"the local index at {path} is open in another process",
                    hint="close that process (local mode allows one client), or run a Qdrant server",
                ) from None
            raise
        self._mirror: Any = None
        if mirror and not self.remote and self.exists():
            self._start_mirror()

    def sibling(self, collection: str, mirror: bool = True) -> VectorIndex:
        """Another collection on the same client (local mode allows one client per folder)."""
        return VectorIndex(
            collection, path=self.path, url=self.url, mirror=mirror, _client=self.client, _lock=self._lock
        )

    def _start_mirror(self) -> None:
        import numpy as np

        from groundtune.kb.local_search import LocalMirror

        self._mirror = LocalMirror()
        offset = None
        while True:
            points, offset = self.client.scroll(
                self.collection, limit=2048, offset=offset, with_payload=True, with_vectors=True
            )
            if not points:
                break
            self._mirror.add_points(
                [p.payload for p in points],
                np.asarray([p.vector[DENSE] for p in points], dtype=np.float32),
                [
                    (p.vector[SPARSE].indices, p.vector[SPARSE].values) if SPARSE in p.vector else ([], [])
                    for p in points
                ],
            )
            if offset is None:
                break

    @property
    def mirrored(self) -> bool:
        return self._mirror is not None

    def exists(self) -> bool:
        try:
            return bool(self.client.collection_exists(self.collection))
        except Exception as exc:  # connection errors differ between httpx and grpc
            raise UnavailableError(
                f"cannot reach the Qdrant index: {exc}", hint="check --index-url"
            ) from None

    def create(self, dim: int, *, mirror: bool = True) -> None:
        from qdrant_client import models as qm

        with self._lock:
            self.client.create_collection(
                self.collection,
                vectors_config={DENSE: qm.VectorParams(size=dim, distance=qm.Distance.COSINE)},
                sparse_vectors_config={SPARSE: qm.SparseVectorParams()},
            )
            if self.remote:  # local mode keeps no payload indexes
                for key, kind in _PAYLOAD_INDEXES.items():
                    self.client.create_payload_index(self.collection, key, field_schema=kind)
            if mirror and not self.remote:
                from groundtune.kb.local_search import LocalMirror

                self._mirror = LocalMirror()

    def drop(self) -> None:
        with self._lock:
            self.client.delete_collection(self.collection)
            self._mirror = None

    def count(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def upsert(
        self,
        chunks: Sequence[Chunk],
        dense: np.ndarray,
        sparse: Sequence[tuple[list[int], list[float]]],
        generation: int,
        batch: int = 512,
        retired: Sequence[bool] | None = None,
    ) -> None:
        """Write points visible from `generation` on; `retired[i]` marks superseded versions (reindex)."""
        from qdrant_client import models as qm

        for s in range(0, len(chunks), batch):
            part = range(s, min(s + batch, len(chunks)))
            payloads = [chunk_payload(chunks[i], generation) for i in part]
            if retired is not None:
                for k, i in enumerate(part):
                    if retired[i]:
                        payloads[k]["gen_retired"] = generation
            points = [
                qm.PointStruct(
                    id=point_id(chunks[i].id),
                    vector={
                        DENSE: dense[i].tolist(),
                        SPARSE: qm.SparseVector(indices=sparse[i][0], values=sparse[i][1]),
                    },
                    payload=payloads[k],
                )
                for k, i in enumerate(part)
            ]
            with self._lock:
                self.client.upsert(self.collection, points, wait=True)
                if self._mirror is not None:
                    self._mirror.add_points(
                        payloads, dense[part.start : part.stop], [sparse[i] for i in part]
                    )

    def _set_gen(self, field: str, doc_ids: list[str], generation: int) -> None:
        from qdrant_client import models as qm

        if not doc_ids:
            return
        flt = qm.Filter(
            must=[
                qm.FieldCondition(key="doc_id", match=qm.MatchAny(any=doc_ids)),
                qm.FieldCondition(key="gen_added", range=qm.Range(lt=generation)),
                qm.FieldCondition(key=field, range=qm.Range(gte=NEVER)),
            ]
        )
        with self._lock:
            self.client.set_payload(self.collection, {field: generation}, points=flt, wait=True)
            if self._mirror is not None:
                self._mirror.set_gen(field, set(doc_ids), generation)

    def retire(self, doc_ids: list[str], generation: int) -> None:
        """Older versions of these documents stop being 'latest' at `generation`."""
        self._set_gen("gen_retired", doc_ids, generation)

    def mark_deleted(self, doc_ids: list[str], generation: int) -> None:
        """Every point of these documents disappears from searches at `generation`."""
        self._set_gen("gen_deleted", doc_ids, generation)

    def purge(self, upto: int, current: int, keep_versions: bool) -> None:
        """Physically delete points no search at generation >= `upto` can see and orphans of writes
        that never committed (gen_added > `current`), and undo such writes' retirements."""
        from qdrant_client import models as qm

        should: list[Any] = [
            qm.FieldCondition(key="gen_deleted", range=qm.Range(lte=upto)),
            qm.FieldCondition(key="gen_added", range=qm.Range(gt=current)),
        ]
        if not keep_versions:
            should.append(qm.FieldCondition(key="gen_retired", range=qm.Range(lte=upto)))
        with self._lock:
            self.client.delete(self.collection, qm.FilterSelector(filter=qm.Filter(should=should)), wait=True)
            # Undo retirements and deletions stamped by a write that never committed.
            for field in ("gen_retired", "gen_deleted"):
                stale = qm.Filter(must=[qm.FieldCondition(key=field, range=qm.Range(gt=current, lt=NEVER))])
                self.client.set_payload(self.collection, {field: NEVER}, points=stale, wait=True)
            if self._mirror is not None:
                self._mirror.purge(upto, current, keep_versions)

    def search(
        self,
        dense: Sequence[np.ndarray | None],
        sparse: Sequence[tuple[list[int], list[float]] | None],
        filters: SearchFilters,
        generation: int,
        depth: int,
    ) -> list[tuple[list[Hit], list[Hit]]]:
        """Per query: (dense hits, sparse hits), each best first, at most `depth` long."""
        if self._mirror is not None:
            return self._mirror.search(dense, sparse, filters, generation, depth)
        from qdrant_client import models as qm

        flt = qdrant_filter(generation, filters)
        requests, slots = [], []
        for qi, (d, s) in enumerate(zip(dense, sparse, strict=True)):
            if d is not None:
                requests.append(
                    qm.QueryRequest(query=d.tolist(), using=DENSE, filter=flt, limit=depth, with_payload=True)
                )
                slots.append((qi, 0))
            if s is not None and s[0]:
                requests.append(
                    qm.QueryRequest(
                        query=qm.SparseVector(indices=s[0], values=s[1]),
                        using=SPARSE,
                        filter=flt,
                        limit=depth,
                        with_payload=True,
                    )
                )
                slots.append((qi, 1))
        out: list[tuple[list[Hit], list[Hit]]] = [([], []) for _ in dense]
        for start in range(0, len(requests), 64):
            with self._lock if not self.remote else nullcontext():
                responses = self.client.query_batch_points(self.collection, requests[start : start + 64])
            for (qi, arm), resp in zip(slots[start : start + 64], responses, strict=True):
                out[qi][arm].extend(_rank(resp.points))
        return out

    def close(self) -> None:
        with self._lock:
            self.client.close()
